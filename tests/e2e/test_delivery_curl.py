"""A cURL script killed in the middle of a file, run again, ends with every checksum right."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.delivery.helpers import make_archive, write_manifest
from tests.e2e.conftest import LiveServer
from tests.tools import needs

pytestmark = needs("curl")


@pytest.mark.slow
def test_killed_script_resumes_and_verifies(tmp_path: Path) -> None:
    files = {"a_drz.dat": 40_000_000, "b_drz.dat": 1000, "c_drz.dat": 2_000_000}
    source = write_manifest(tmp_path / "in", files)
    archive = make_archive(tmp_path / "home", source.parent)
    with LiveServer(archive) as server:
        script = httpx.post(f"{server.url}/api/v0.1/Download/bundle.sh",
                            data={"uri": list(files)}, timeout=30).text  # fmt: skip
        path = tmp_path / "get.sh"
        path.write_text(script)
        work = tmp_path / "work"
        work.mkdir()
        env = {"PATH": os.environ["PATH"], "SKYARCHIVE_FOLDER": "dl"}
        partial = work / "dl" / "HST" / "hst-test-obs" / "a_drz.dat"
        slow = subprocess.Popen(
            ["bash", str(path)], cwd=work, env={**env, "SKYARCHIVE_CURL_RATE": "2M"},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not (partial.exists() and partial.stat().st_size > 1_000_000):
            assert time.monotonic() < deadline and slow.poll() is None
            time.sleep(0.05)
        os.killpg(slow.pid, signal.SIGKILL)
        slow.wait(timeout=10)
        cut = partial.stat().st_size
        assert 0 < cut < files["a_drz.dat"]

        again = subprocess.run(["bash", str(path)], cwd=work, env=env, capture_output=True,
                               text=True, timeout=60)  # fmt: skip
        assert again.returncode == 0, again.stderr
        assert "Done: 3 downloaded, 0 already complete, 0 failed" in again.stdout
        for name in files:
            got = work / "dl" / "HST" / "hst-test-obs" / name
            assert hashlib.sha256(got.read_bytes()).digest() == hashlib.sha256(
                (source.parent / name).read_bytes()).digest()  # fmt: skip

        third = subprocess.run(["bash", str(path)], cwd=work, env=env, capture_output=True,
                               text=True, timeout=60)  # fmt: skip
        assert "Done: 0 downloaded, 3 already complete" in third.stdout
    archive.engine.dispose()
