"""`hydra lab` as an operator meets it: a real JupyterLab on 127.0.0.1, its token, and an audit
trail that refuses writes even though the server runs as root."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.kit import REPO, lab_request, lab_server

pytestmark = pytest.mark.slow
TOKEN = "test-token-4f2a9c"


def _request(port: int, path: str, *, token: str | None = TOKEN, method: str = "GET",
             body: dict | None = None) -> tuple[int, dict]:
    return lab_request(port, path, token=token, method=method, body=body, empty={})


def _listening(port: int) -> list[str]:
    """Local addresses of LISTEN sockets on `port`, read from /proc (no traffic needed)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            addr, state = fields[1], fields[3]
            host, hexport = addr.rsplit(":", 1)
            if state == "0A" and int(hexport, 16) == port:
                found.append(host)
    return found


@pytest.fixture
def lab(data_dir):
    record = data_dir / "runs" / "daily_cycle" / "2026" / "11" / "24" / "r1.ipynb"
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4,
                                  "nbformat_minor": 5}))
    record.chmod(0o444)
    with lab_server(data_dir, TOKEN) as port:
        yield port, record


def test_lab_binds_loopback_only_and_requires_its_token(lab):
    port, _ = lab
    assert _listening(port) and set(_listening(port)) == {"0100007F"}  # 127.0.0.1 only
    assert _request(port, "/api/contents", token=None)[0] == 403
    assert _request(port, "/api/contents", token="wrong")[0] == 403
    status, listing = _request(port, "/api/contents")
    assert status == 200
    assert {"notebooks", "runs", "scratch"} <= {c["name"] for c in listing["content"]}
    status, nb = _request(port, "/api/contents/notebooks/daily_cycle.ipynb?content=0")
    assert status == 200 and nb["writable"] is False  # the checkout cron runs from


def test_the_checkout_is_read_only_and_records_start_no_kernel(lab, data_dir):
    port, record = lab
    text = {"type": "file", "format": "text", "content": "x"}
    status, body = _request(port, "/api/contents/notebooks/x.txt", method="PUT", body=text)
    assert status == 403 and "read-only" in body["message"]
    assert not (REPO / "notebooks" / "x.txt").exists()
    for path in ("runs/daily_cycle/2026/11/24/r1.ipynb", "notebooks/daily_cycle.ipynb"):
        status, body = _request(port, "/api/sessions", method="POST", body={
            "path": path, "name": "r1.ipynb", "type": "notebook",
            "kernel": {"name": "python3"}})
        # jupyter_server's session handler reports any refusal as 500, with our message
        assert status in (403, 500) and "Save Notebook As" in body["message"], (path, body)
    assert _request(port, "/api/kernels") == (200, [])  # type: ignore[comparison-overlap]
    # listing a record's checkpoints (the front end does on open) creates nothing under runs/
    api = "/api/contents/runs/daily_cycle/2026/11/24/r1.ipynb/checkpoints"
    assert _request(port, api) == (200, [])  # type: ignore[comparison-overlap]
    assert not (record.parent / ".ipynb_checkpoints").exists()


def test_the_lab_settings_turn_off_news_autosave_and_kernel_autostart(lab):
    port, _ = lab
    expected = {
        "@jupyterlab/apputils-extension:notification": {"fetchNews": "false",
                                                         "checkForUpdates": False},
        "@jupyterlab/docmanager-extension:plugin": {"autosave": False},
        "@jupyterlab/notebook-extension:tracker": {"autoStartDefaultKernel": False},
    }
    for plugin, values in expected.items():
        status, body = _request(port, f"/lab/api/settings/{plugin}")
        assert status == 200, plugin
        for key, value in values.items():
            # overrides.json becomes the schema's defaults (user settings would still win)
            assert body["schema"]["properties"][key]["default"] == value, (plugin, key)


def test_the_audit_trail_is_read_only_and_reruns_go_to_scratch(lab, data_dir):
    port, record = lab
    api = "/api/contents/runs/daily_cycle/2026/11/24/r1.ipynb"
    status, model = _request(port, api)
    assert status == 200 and model["writable"] is False
    before = record.read_bytes()
    notebook = {"type": "notebook", "format": "json", "content": model["content"]}
    status, body = _request(port, api, method="PUT", body=notebook)
    assert status == 403 and "read-only" in body["message"]
    new = "/api/contents/runs/daily_cycle/2026/11/24/new.ipynb"
    assert _request(port, new, method="PUT", body=notebook)[0] == 403
    assert _request(port, api, method="DELETE")[0] == 403
    assert _request(port, api, method="PATCH", body={"path": "scratch/moved.ipynb"})[0] == 403
    assert _request(port, f"{api}/checkpoints", method="POST")[0] == 403
    assert record.read_bytes() == before
    assert not (record.parent / "new.ipynb").exists()
    # "Save As" into scratch/ works: the rerun is a new notebook, the record is untouched
    status, _ = _request(port, "/api/contents/scratch/rerun.ipynb", method="PUT", body=notebook)
    assert status == 201
    assert (data_dir / "lab" / "scratch" / "rerun.ipynb").is_file()


def test_no_notebook_starts_a_kernel_when_it_opens(lab):
    """The page config JupyterLab's front end reads: a notebook opened asks for no kernel (the
    browser test shows a record opening with no dialog; a copy in scratch/ gets one on demand)."""
    import re

    port, _ = lab
    req = urllib.request.Request(f"http://127.0.0.1:{port}/lab")
    req.add_header("Authorization", f"token {TOKEN}")
    with urllib.request.urlopen(req, timeout=10) as resp:
        page = resp.read().decode()
    found = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                      page, re.S)
    assert found, page[:500]
    assert json.loads(found.group(1))["notebookStartsKernel"] is False
