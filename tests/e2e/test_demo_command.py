"""`skyarchive demo` (what `make demo` runs) builds the archive once and serves its home page."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from skyarchive.access.rights import now_mjd
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.tables import observations, products
from tests.e2e.conftest import free_port

# among the slowest files: handed out first (tests/suite.py)
pytestmark = pytest.mark.slow


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


@dataclass(frozen=True)
class FirstStart:
    """What the first `skyarchive demo` on a new home printed and served."""

    home: Path
    log: str
    home_page: str
    sky_properties: httpx.Response


@pytest.fixture(scope="module")
def first_start(tmp_path_factory: pytest.TempPathFactory) -> FirstStart:
    """One first start (it builds the archive: minutes), shared by the tests of this module.

    Each test goes on from a copy of the home it built, so that none sees another's changes.
    """
    home = tmp_path_factory.mktemp("first-demo") / "demo-archive"
    log_path = home.parent / "demo.log"
    port = free_port()
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "skyarchive", "--home", str(home), "demo", "--port",
             str(port)],
            env={**os.environ, "HOME": str(home.parent)}, stdout=log, stderr=log, text=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        page = wait_for(url + "/", process, timeout=900)  # building, on a busy machine too
        assert page.status_code == 200, page.text[:500]
        sky = httpx.get(url + "/hips/properties")
    finally:
        stop(process)
    return FirstStart(home, log_path.read_text(), page.text, sky)


def copy_of(first: FirstStart, tmp_path: Path) -> Path:
    home = tmp_path / "demo-archive"
    shutil.copytree(first.home, home)
    return home


def test_demo_builds_once_and_serves_the_holdings(first_start: FirstStart, tmp_path: Path) -> None:
    html = first_start.home_page
    for expected in ("JWST", "HST", "SPITZER_SHA", "NIRCAM/IMAGE", "MIRI/IFU", "1073",
                     "1558", "observations"):  # fmt: skip
        assert expected in html, expected
    sky = first_start.sky_properties  # the demo's sky view has a real sky
    assert sky.status_code == 200 and "hips_order" in sky.text
    assert "Generating demo pipeline output" in first_start.log
    assert "0 failed" in first_start.log
    assert "Built the demo's sky (HiPS)" in first_start.log

    process, url = run_demo(copy_of(first_start, tmp_path))  # nothing generated or ingested again
    try:
        assert wait_for(url + "/", process).text == html
    finally:
        second_log = stop(process)
    assert "Generating" not in second_log and "ingest" not in second_log
    assert "Built the demo's sky" not in second_log


def test_demo_on_a_busy_port_says_so_and_how_to_pick_another(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "skyarchive", "--home", str(tmp_path / "home"), "demo",
             "--port", str(port)],
            capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "60"},
        )  # fmt: skip
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"port {port}" in lines[0] and f"make demo PORT={port + 10}" in lines[0]
    assert time.monotonic() - started < 60  # refused before building anything
    assert not (tmp_path / "home" / "pipeline-output").exists()


def test_make_demo_passes_the_port() -> None:
    root = Path(__file__).resolve().parents[2]
    plan = subprocess.run(
        ["make", "-n", "demo", "PORT=8010"], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert plan.returncode == 0, plan.stderr
    assert any(
        "skyarchive" in line and line.rstrip().endswith("demo --port 8010")
        for line in plan.stdout.splitlines()
    ), plan.stdout


def printed_accounts(log: str) -> dict[str, tuple[str, str]]:
    """role -> (e-mail, password) as the demo printed them."""
    found = {}
    for line in log.splitlines():
        match = re.match(r"\s+(PI|co-investigator|outsider)\s+(\S+@\S+)\s+password (\S+)", line)
        if match:
            found[match.group(1)] = (match.group(2), match.group(3))
    return found


def eap_file(home: Path) -> str:
    """A science file of a program still in its exclusive-access period, from the catalog."""
    archive = Archive.open(Settings(home=home), migrate=False)
    try:
        with archive.engine.connect() as conn:
            return conn.execute(
                select(products.c.dataURI)
                .join(observations, observations.c.obsid == products.c.owner_obsid)
                .where(observations.c.t_obs_release > now_mjd(),
                       products.c.productType == "SCIENCE")
                .limit(1)
            ).scalar_one()  # fmt: skip
    finally:
        archive.engine.dispose()


def login(client: httpx.Client, email: str, password: str) -> None:
    page = client.get("/login").text
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    answer = client.post("/login", data={"email": email, "password": password, "csrf_token": csrf})
    assert answer.status_code in (200, 303), answer.text
    assert client.get("/account").status_code == 200


def test_demo_prints_accounts_that_show_exclusive_access(
    first_start: FirstStart, tmp_path: Path
) -> None:
    accounts = printed_accounts(first_start.log)
    assert set(accounts) == {"PI", "co-investigator", "outsider"}, first_start.log

    home = copy_of(first_start, tmp_path)
    process, url = run_demo(home)  # a second start prints the same, working, accounts
    try:
        wait_for(url + "/", process)
        uri = eap_file(home)
        expected = {"PI": 200, "co-investigator": 200, "outsider": 403}
        for role, (email, password) in accounts.items():
            with httpx.Client(base_url=url, timeout=30) as client:
                login(client, email, password)
                got = client.get("/api/v0.1/Download/file", params={"uri": uri})
                assert got.status_code == expected[role], (role, got.text[:200])
        assert httpx.get(f"{url}/api/v0.1/Download/file", params={"uri": uri}).status_code == 401
    finally:
        second = stop(process)
    assert printed_accounts(second) == accounts
    assert "exclusive-access period has ended" not in second

    # An archive whose program 4567 has become public (as one built a year ago) says so
    opened = subprocess.run(
        [sys.executable, "-m", "skyarchive", "--home", str(home), "program", "set-eap", "4567",
         "0"], capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert opened.returncode == 0, opened.stderr
    process, url = run_demo(home)
    try:
        wait_for(url + "/", process)
    finally:
        third = stop(process)
    assert "Program 4567's exclusive-access period has ended" in " ".join(third.split())
    assert str(home) in " ".join(third.split())
