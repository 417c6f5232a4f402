"""The records as the operator sees them: `hydra lab` in headless Chromium at 1400x1000.

nbconvert's HTML never shows what JupyterLab's renderers do (MathJax turns `$...$` into maths),
so these tests open real records in a real browser: one lab server and one browser per module.
Debian's chromium is driven by Playwright through `executable_path` (no browser download).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.kit import TRADE_DATE, broker_orders, lab_request, lab_server, pin_signal, run_hydra

pytestmark = pytest.mark.slow
TOKEN = "browser-test-token-7d1e"
CHROMIUM = "/usr/bin/chromium"
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the open record's tab, not a hidden one
VIEWPORT = {"width": 1400, "height": 1000}
WAIT_MS = 60_000  # every wait on the page is bounded
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-default-apps", "--no-first-run",
                 "--disable-domain-reliability", "--metrics-recording-only"]


def _api(port: int, path: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    return lab_request(port, path, token=TOKEN, method=method, body=body)


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A traded, a blocked (dry run) and a failed daily-cycle record, as `hydra run` wrote them."""
    data_dir = tmp_path_factory.mktemp("browser") / "data"
    data_dir.mkdir()
    pin_signal(data_dir, +1)  # a traded record needs orders on TRADE_DATE
    for params in (["-p", "dry_run", "true"], ["-p", "contracts", "2"],
                   ["-p", "broker=ib", "-p", "port=9"]):  # dry run first; then a refusal in cell 4
        proc = run_hydra("run", "daily-cycle", "--as-of", TRADE_DATE, *params, data_dir=data_dir)
        assert proc.returncode in (0, 1), proc.stderr
    proc = run_hydra("run", "reconciliation", "--as-of", TRADE_DATE, data_dir=data_dir)
    assert proc.returncode == 0, proc.stderr
    with sqlite3.connect(data_dir / "runs" / "index.sqlite") as con:
        rows = con.execute("SELECT status, summary, output_path FROM runs "
                           "ORDER BY started_at").fetchall()
    blocked, traded, failed, recon = rows
    assert json.loads(traded[1])["status"] == "traded"
    assert json.loads(blocked[1])["status"] in ("dry_run", "blocked")
    assert failed[0] == "failed"
    return data_dir, {"traded": traded[2], "blocked": blocked[2], "failed": failed[2],
                      "reconciliation": recon[2]}


@pytest.fixture(scope="module")
def lab(records: tuple[Path, dict[str, str]]) -> Iterator[int]:
    with lab_server(records[0], TOKEN) as port:
        yield port


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright = pytest.importorskip("playwright.sync_api")
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install -y chromium"
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def _open(browser: Any, port: int, path: str, shot: Path) -> Any:
    """A fresh page on the record, once its outputs are rendered and MathJax has had its turn."""
    page = browser.new_page(viewport=VIEWPORT)
    page.set_default_timeout(WAIT_MS)
    page.goto(f"http://127.0.0.1:{port}/lab/tree/{path}?reset&token={TOKEN}")
    page.wait_for_selector(f"{PANEL} .jp-OutputArea-output")
    # MathJax typesets each output as it is rendered, once it has loaded; its stylesheet is
    # in the page once it has (measured: at the first output already). Then two frames, for
    # the typesetting of outputs rendered alongside to land. The checks after this catch a
    # `$` either way: as text before MathJax's turn, as an mjx-container after it.
    page.wait_for_selector("style#MJX-CHTML-styles", state="attached")
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    page.screenshot(path=str(shot))
    _no_dialog(page)
    return page


def _no_dialog(page: Any) -> None:
    """Opening a record asks nothing: no kernel error, no kernel chooser, no popup at all."""
    dialogs = page.locator(".jp-Dialog")
    assert dialogs.count() == 0, dialogs.all_inner_texts()
    assert page.locator(f"{PANEL} .jp-Toolbar-kernelName").inner_text().strip() == "No Kernel"


_VISIBLE_TEXT = """el => {
  // the part of a file-panel name left of its ellipsis: what the operator can read
  const box = el.getBoundingClientRect();
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  const node = walker.nextNode();
  if (!node) return "";
  const range = document.createRange();
  const ellipsis = el.scrollWidth > el.clientWidth ? 12 : 0;
  let shown = 0;
  for (let i = 1; i <= node.length; i++) {
    range.setStart(node, 0); range.setEnd(node, i);
    if (range.getBoundingClientRect().right > box.right - ellipsis) break;
    shown = i;
  }
  return node.data.slice(0, shown);
}"""


def _visible_names(page: Any) -> list[str]:
    items = page.locator(".jp-FileBrowser .jp-DirListing-item .jp-DirListing-itemText")
    items.first.wait_for()
    return [items.nth(i).evaluate(_VISIBLE_TEXT) for i in range(items.count())]


def _in_first_screen(page: Any, text: str, where: str = "th") -> None:
    cell = page.locator(f"{PANEL} .jp-OutputArea-output {where}, {PANEL} .jp-RenderedMarkdown",
                        has_text=text).first
    box = cell.bounding_box()
    assert box is not None, f"{text!r} is not shown"
    assert box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT["height"], (text, box)


def _no_maths(page: Any) -> None:
    maths = page.locator(".jp-OutputArea mjx-container, .jp-OutputArea .MathJax, "
                         ".jp-MarkdownOutput mjx-container, mjx-merror")
    assert maths.count() == 0


@pytest.mark.parametrize("kind", ["traded", "blocked"])
def test_a_record_reads_right_on_the_first_screen(kind, records, lab, browser, tmp_path):
    _, paths = records
    page = _open(browser, lab, paths[kind], tmp_path / f"{kind}.png")
    try:
        _no_maths(page)
        banner = page.locator(f"{PANEL} .jp-OutputArea-output table").first.inner_text()
        assert "$" not in banner and "USD " in banner
        for row in ("Status", "Trade date / market", "Mode", "Signal", "Position",
                    "Orders / fills", "Account", "Blocked"):
            _in_first_screen(page, row)
        if kind == "traded":
            _in_first_screen(page, "Slippage")
            assert any(w in banner for w in ("EXPECTED", "BETTER", "WORSE"))
        # the whole record: no `$` anywhere it renders, tables without NaN
        outputs = page.locator(f"{PANEL} .jp-OutputArea").all_inner_texts()
        assert not any("$" in text for text in outputs)
        assert not any("NaN" in text for text in outputs)
    finally:
        page.close()
    assert _api(lab, "/api/kernels") == (200, [])  # opening a record started no kernel


def test_a_failed_record_says_what_failed_first(records, lab, browser, tmp_path):
    data_dir, paths = records
    before = (data_dir / paths["failed"]).read_bytes()
    page = _open(browser, lab, paths["failed"], tmp_path / "failed.png")
    try:
        _no_maths(page)
        _in_first_screen(page, "HYDRA RUN FAILED")
        _in_first_screen(page, "Orders: no order was sent for ZO-")  # and whether any was sent
        page.keyboard.press("Control+s")  # a save from the browser is refused: the server
        # says the record is not writable, and JupyterLab says so instead of saving
        page.locator(".Toastify__toast", has_text="is read-only").wait_for(timeout=WAIT_MS)
    finally:
        page.close()
    assert (data_dir / paths["failed"]).read_bytes() == before
    status, _ = _api(lab, f"/api/contents/{paths['failed']}", "PUT",
                     {"type": "file", "format": "text", "content": "x"})
    assert status == 403
    assert _api(lab, "/api/kernels") == (200, [])
    leftovers = [p for p in (data_dir / "runs").rglob("*") if p.name.startswith(".")]
    assert leftovers == []


def test_the_reconciliation_outcome_is_on_the_first_screen(records, lab, browser, tmp_path):
    _, paths = records
    page = _open(browser, lab, paths["reconciliation"], tmp_path / "reconciliation.png")
    try:
        _no_maths(page)
        for text in ("INSUFFICIENT DATA", "Broker check:", "Fills "):
            _in_first_screen(page, text, where="b")
        outputs = page.locator(f"{PANEL} .jp-OutputArea").all_inner_texts()
        assert not any("$" in text for text in outputs)
        assert not any("NaN" in text for text in outputs)
    finally:
        page.close()
    assert _api(lab, "/api/kernels") == (200, [])


def test_two_runs_of_one_date_read_apart_in_the_file_panel(records, lab, browser, tmp_path):
    _, paths = records
    page = _open(browser, lab, paths["traded"], tmp_path / "panel.png")
    try:
        shown = _visible_names(page)
        page.screenshot(path=str(tmp_path / "panel-names.png"))
    finally:
        page.close()
    # the three daily-cycle runs of TRADE_DATE, each shown whole (time and run id), none cut
    assert len(shown) == 3 and len(set(shown)) == 3, shown
    assert set(shown) == {Path(paths[k]).name for k in ("traded", "blocked", "failed")}, shown


def test_a_rerun_in_scratch_runs_once_the_operator_picks_a_kernel(records, lab, browser, tmp_path):
    """What the operator does to rerun: the record saved as a copy in scratch/ (File > Save
    Notebook As..., here through the same contents API), the copy opened (no dialog, no kernel),
    a kernel picked, Run All; the rerun of a traded date sends no order. Runs last: it writes."""
    data_dir, paths = records
    status, model = _api(lab, f"/api/contents/{paths['traded']}")
    assert status == 200
    copy = "scratch/rerun-traded.ipynb"
    assert _api(lab, f"/api/contents/{copy}", "PUT", {"type": "notebook", "format": "json",
                                                      "content": model["content"]})[0] == 201
    orders = broker_orders(data_dir)
    page = _open(browser, lab, copy, tmp_path / "rerun-opened.png")
    try:
        assert _api(lab, "/api/kernels") == (200, [])  # opening the copy started nothing either
        page.locator(f"{PANEL} .jp-Toolbar-kernelName").click()  # "No Kernel": pick one
        dialog = page.locator(".jp-Dialog")
        dialog.locator("select").select_option(label="Python 3 (ipykernel)")
        dialog.locator("button", has_text="Select").click()
        page.wait_for_selector(f"{PANEL} .jp-Toolbar-kernelName:has-text('Python 3')")
        # as the operator does: Run All once the kernel is up. The toolbar names the kernel
        # as soon as it is picked, before the session has one; a Run All then runs nothing
        # (JupyterLab clears the cells' execution and says nothing), which is how this test
        # waited out its 240 s on a loaded machine. The status bar says Idle once it is up.
        page.locator(".jp-StatusBar-Widget", has_text="Python 3 (ipykernel) | Idle").first.wait_for(
            timeout=WAIT_MS)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        # the summary cell (the last one) shows the outcome, and the kernel is idle again
        page.locator(f"{PANEL} .jp-Cell").last.locator(
            ".jp-OutputArea-output", has_text="ALREADY DONE").wait_for(timeout=240_000)
        page.locator(".jp-StatusBar-Widget", has_text="Idle").first.wait_for(timeout=WAIT_MS)
        assert page.locator(f"{PANEL} .jp-InputPrompt", has_text="[*]").count() == 0
        page.screenshot(path=str(tmp_path / "rerun-done.png"))
        page.keyboard.press("Control+s")  # scratch/ is writable: the copy keeps its outputs
        page.wait_for_function("() => !document.querySelector('.jp-mod-dirty')",
                               timeout=WAIT_MS)
    finally:
        page.close()
    assert len(_api(lab, "/api/kernels")[1]) == 1  # the one the operator started, in scratch/
    assert broker_orders(data_dir) == orders  # a rerun of a traded date sends no order
    rerun = json.loads((data_dir / "lab" / copy).read_text())
    outputs = [o for c in rerun["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert outputs and not [o for o in outputs if o["output_type"] == "error"]
