"""The calendar table's disk cache (hydra/reference/sessions.py): it must answer exactly as
pandas_market_calendars does, and never from a file built for another key or a damaged one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from hydra.reference import sessions
from hydra.reference.markets import MarketsFileError, get_market

CAL = "CBOT_Agriculture"


def _forget() -> None:
    """What a new process starts with: nothing remembered in memory."""
    for f in (sessions._table, sessions._windows):
        f.cache_clear()


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("HYDRA_CACHE_DIR", str(tmp_path / "cache"))
    _forget()
    yield tmp_path / "cache"
    _forget()


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The calendars built from pandas_market_calendars (cache misses), in order."""
    seen: list[str] = []
    real = sessions._build

    def spy(name: str) -> dict[str, np.ndarray]:
        seen.append(name)
        return real(name)

    monkeypatch.setattr(sessions, "_build", spy)
    return seen


def _files(cache_dir: Path) -> list[Path]:
    return sorted((cache_dir / "calendars").glob("*"))


def _answers() -> tuple[object, ...]:
    zo = get_market("ZO")
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(400)]
    return (sessions.trading_days(zo, date(2000, 1, 1), date(2045, 12, 31)),
            [sessions.session_windows(zo, d) for d in days],
            [sessions.non_trading_reason(zo, d) for d in days])


def test_a_second_process_reads_the_file_and_answers_the_same(cache_dir: Path,
                                                               builds: list[str]) -> None:
    first = _answers()
    assert builds == [CAL] and len(_files(cache_dir)) == 1, "built once, one file, no temp"
    _forget()
    assert _answers() == first
    assert builds == [CAL], "the second 'process' read the file instead of building"


def test_cached_table_equals_pandas_market_calendars(cache_dir: Path) -> None:
    """The table read back equals the one pandas_market_calendars gives, array by array, and
    the holiday names equal its one-day queries (as non_trading_reason made them before) on
    every closed weekday of 2020-2027 (the whole range was checked once: one-day queries are
    slow)."""
    sessions._table(CAL)
    _forget()
    table, fresh = sessions._table(CAL), sessions._build(CAL)
    assert [d.toordinal() for d in table.days] == fresh["days"].tolist()
    for c, values in table.cols.items():
        assert np.array_equal(values, fresh[c]), c
    regular = sessions._calendar(CAL).regular_holidays
    closed = [d for d in (date(2020, 1, 1) + timedelta(days=i) for i in range(8 * 366))
              if d.weekday() < 5 and d not in table.rows]  # the days non_trading_reason names
    assert len(closed) > 60
    for day in closed:
        names = regular.holidays(day, day, return_name=True)
        assert table.holidays.get(day) == (names.iloc[0] if len(names) else None), day


@pytest.mark.parametrize("change", ["pandas_market_calendars", "exchange_calendars", "pandas",
                                    "code", "range", "format"])
def test_a_change_of_any_key_part_rebuilds(cache_dir: Path, builds: list[str],
                                           monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    """A table built under other versions (or other code, range, layout) is never read."""
    sessions._table(CAL)
    _forget()
    if change in ("pandas_market_calendars", "exchange_calendars"):
        import importlib.metadata

        real = importlib.metadata.version
        monkeypatch.setattr(importlib.metadata, "version",
                            lambda dist: "0.0.1" if dist == change else real(dist))
    elif change == "pandas":
        monkeypatch.setattr(sessions.pd, "__version__", "0.0.1")
    elif change == "code":
        edited = cache_dir.parent / "sessions.py"
        edited.write_bytes(Path(sessions.__file__).read_bytes() + b"\n# edited\n")
        monkeypatch.setattr(sessions, "__file__", str(edited))
    elif change == "range":
        monkeypatch.setattr(sessions, "_LAST", "2044-12-31")
    else:
        monkeypatch.setattr(sessions, "_CACHE_FORMAT", sessions._CACHE_FORMAT + 1)
    sessions._table(CAL)
    assert builds == [CAL, CAL], f"a change of {change} must not reuse the old file"
    assert len(_files(cache_dir)) == 2


def test_a_file_for_another_key_is_not_read(cache_dir: Path, builds: list[str]) -> None:
    """The key is stored in the file and compared, not only hashed into its name."""
    sessions._table(CAL)
    [path] = _files(cache_dir)
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    key = json.loads(str(arrays["key"]))
    key["pandas_market_calendars"] = "0.0.1"
    text = json.dumps(key, sort_keys=True)
    del arrays["key"], arrays["digest"]
    arrays["days"] = arrays["days"][:-1].copy()  # a table that would answer differently
    for c in sessions._TIME_COLUMNS:
        arrays[c] = arrays[c][:-1].copy()
    np.savez(path, key=np.array(text), digest=np.array(sessions._digest(text, arrays)), **arrays)
    _forget()
    want = sessions._build(CAL)["days"]
    builds.clear()
    assert [d.toordinal() for d in sessions._table(CAL).days] == want.tolist()
    assert builds == [CAL]


@pytest.mark.parametrize("damage", ["truncated", "bytes", "tampered", "empty"])
def test_a_damaged_file_is_ignored_and_rebuilt(cache_dir: Path, builds: list[str],
                                               damage: str) -> None:
    good = _answers()
    [path] = _files(cache_dir)
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "bytes":
        path.write_bytes(data[:5000] + bytes(b ^ 0xFF for b in data[5000:5100]) + data[5100:])
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # a readable file, right key, but a trade date changed after the digest was taken
        with np.load(path) as f:
            arrays = {k: f[k] for k in f.files}
        arrays["days"] = arrays["days"].copy()
        arrays["days"][100] += 1
        np.savez(path, **arrays)
    _forget()
    assert _answers() == good
    assert builds == [CAL, CAL], "rebuilt, not read"
    _forget()
    assert _answers() == good and builds == [CAL, CAL], "and the rebuilt file is good again"


def test_unknown_calendar_fails_as_before_and_caches_nothing(cache_dir: Path) -> None:
    with pytest.raises(MarketsFileError, match="not a pandas_market_calendars calendar"):
        sessions._table("CBOT_Agri")
    assert _files(cache_dir) == []


def test_an_unwritable_cache_only_costs_speed(cache_dir: Path, builds: list[str]) -> None:
    cache_dir.parent.joinpath("cache").write_text("a file where the folder should be")
    assert _answers() == _answers()
    assert builds == [CAL]


def test_a_failed_write_leaves_the_old_file_and_no_temp(cache_dir: Path, builds: list[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Written through a temporary file and a rename: a write that fails half way leaves the
    previous file whole (readers never see half a table) and no temporary file behind."""
    sessions._table(CAL)
    [path] = _files(cache_dir)
    before = path.read_bytes()

    def half_then_fail(file: object, **arrays: np.ndarray) -> None:
        file.write(b"PK\x03\x04 half a zip")  # type: ignore[attr-defined]
        raise OSError("disk full")

    monkeypatch.setattr(sessions.np, "savez", half_then_fail)
    sessions._write_cache(path, "{}", {"days": np.zeros(1, dtype=np.int64)})
    assert _files(cache_dir) == [path] and path.read_bytes() == before
