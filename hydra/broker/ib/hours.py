"""IB's tradingHours / liquidHours strings, written from and checked against Hydra's calendar.

IB's format (contract details, TWS 9.72+): sessions ';'-separated, each
``YYYYMMDD:HHMM-YYYYMMDD:HHMM`` in the contract's time zone, a day without trading as
``YYYYMMDD:CLOSED``. The gateway writes it from the exchange calendar (holidays and early
closes included); Hydra's IB adapter parses the broker's and refuses a contract whose sessions
disagree with the calendar, as it refuses a wrong tick.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hydra.domain.market import Market
from hydra.reference.sessions import session_windows

Window = tuple[datetime, datetime]


def _local(when: datetime, tz: ZoneInfo) -> str:
    return f"{when.astimezone(tz):%Y%m%d:%H%M}"


def ib_hours(market: Market, first: date, days: int = 7) -> tuple[str, str]:
    """(tradingHours, liquidHours) for trade dates first .. first + days - 1, as IB writes them.

    As in recorded TWS frames: each window is listed under the date it opens (an overnight
    session under the evening before), and a calendar date on which no window opens is
    ``CLOSED``. liquidHours is each trade date's last window (the day session for grains
    and livestock).
    """
    tz = ZoneInfo(market.timezone)
    trading: list[Window] = []
    liquid: list[Window] = []
    for i in range(days):
        windows = session_windows(market, first + timedelta(days=i))
        trading += windows
        liquid += windows[-1:]
    last = first + timedelta(days=days - 1)
    return _write(trading, first, last, tz), _write(liquid, first, last, tz)


def _write(windows: list[Window], first: date, last: date, tz: ZoneInfo) -> str:
    opens = {a.astimezone(tz).date() for a, _ in windows}
    start = min([first, *opens])
    closed = [(datetime.combine(start + timedelta(days=i), datetime.min.time(), tz), None)
              for i in range((last - start).days + 1)
              if start + timedelta(days=i) not in opens]
    parts = [(a.astimezone(tz), f"{_local(a, tz)}-{_local(b, tz)}") for a, b in windows]
    parts += [(a, f"{a:%Y%m%d}:CLOSED") for a, _ in closed]
    return ";".join(text for _, text in sorted(parts))


def parse_ib_hours(text: str, zone: str) -> dict[date, list[Window]]:
    """IB's hours string -> {trade date: windows (UTC-aware)}; a CLOSED day maps to [].

    A window belongs to the date it ends on (an overnight session opening the evening
    before is part of the next day's trade date, as exchanges count it).
    """
    try:
        tz = ZoneInfo(zone)
    except Exception as exc:
        raise ValueError(f"unknown time zone {zone!r} in IB's contract details") from exc
    out: dict[date, list[Window]] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        try:
            if part.endswith(":CLOSED"):
                out.setdefault(datetime.strptime(part[:8], "%Y%m%d").date(), [])
                continue
            start, end = part.split("-")
            a = datetime.strptime(start, "%Y%m%d:%H%M").replace(tzinfo=tz)
            b = datetime.strptime(end, "%Y%m%d:%H%M").replace(tzinfo=tz)
        except ValueError:
            raise ValueError(f"cannot read IB trading hours {part!r} in {text!r}") from None
        out.setdefault(b.date(), []).append((a, b))
    return out


def session_disagreements(market: Market, trading_hours: str, zone: str) -> list[str]:
    """Where IB's tradingHours differ from Hydra's calendar for the days IB lists ([] if none)."""
    if not trading_hours.strip():
        return ["IB reported no trading hours"]
    problems = []
    tz = ZoneInfo(market.timezone)
    for day, ib in sorted(parse_ib_hours(trading_hours, zone).items()):
        ours = session_windows(market, day)
        if sorted(ib) != sorted(ours):
            def show(ws: list[Window]) -> str:
                return ", ".join(f"{_local(a, tz)}-{_local(b, tz)}" for a, b in ws) or "closed"
            problems.append(f"{day}: IB {show(sorted(ib))}, calendar {show(ours)}")
    return problems
