"""`skyarchive demo` (what `make demo` runs) builds the archive once and serves its home page."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e.conftest import free_port


def wait_for(url: str, process: subprocess.Popen, timeout: float = 120) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"server exited: {process.stderr.read() if process.stderr else ''}"
            )
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer")


def run_demo(home: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "HOME": str(home.parent)}
    process = subprocess.Popen(
        [sys.executable, "-m", "skyarchive", "--home", str(home), "demo", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    return process, f"http://127.0.0.1:{port}"


def stop(process: subprocess.Popen) -> str:
    """Stop the server as Ctrl-C does; return what it printed on stderr."""
    process.send_signal(signal.SIGINT)
    try:
        _, err = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return err or ""


def test_demo_builds_once_and_serves_the_holdings(tmp_path: Path) -> None:
    home = tmp_path / "demo-archive"
    process, url = run_demo(home)
    try:
        page = wait_for(url + "/", process)
        assert page.status_code == 200
        html = page.text
        for expected in ("JWST", "HST", "SPITZER_SHA", "NIRCAM/IMAGE", "MIRI/IFU", "1073",
                         "1558", "observations"):  # fmt: skip
            assert expected in html, expected
    finally:
        first_log = stop(process)
    assert "Generating demo pipeline output" in first_log
    assert "0 failed" in first_log

    process, url = run_demo(home)  # second start: nothing is generated or ingested again
    try:
        assert wait_for(url + "/", process).text == html
    finally:
        second_log = stop(process)
    assert "Generating" not in second_log and "ingest" not in second_log
