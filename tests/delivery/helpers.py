"""Small archives for delivery tests, ingested through a ``*.skyarchive.json`` manifest."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.ingest.run import ingest_paths
from tests.e2e.conftest import free_port  # noqa: F401  (one free-port helper for all tests)

PROGRAM = "90001"


def write_manifest(
    folder: Path,
    files: dict[str, int | Callable[[Path], None]],
    *,
    obs_id: str = "hst-test-obs",
    proposal_id: str = PROGRAM,
) -> Path:
    """Files (name -> size in bytes, or a function writing the file) in one public observation."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, spec in files.items():
        path = folder / name
        if callable(spec):
            spec(path)
        else:
            path.write_bytes(os.urandom(spec) if spec <= 8 << 20 else b"")
            if spec > 8 << 20:
                os.truncate(path, spec)
    manifest = {
        "skyarchive_manifest": 1,
        "programs": [{"proposal_id": proposal_id, "obs_collection": "HST", "category": "GO",
                      "title": "delivery tests"}],
        "observations": [{
            "obs_id": obs_id, "obs_collection": "HST", "proposal_id": proposal_id,
            "instrument_name": "WFC3/UVIS", "target_name": "TEST", "calib_level": 3,
            "t_max": 50000.0, "t_obs_release": 50001.0, "dataproduct_type": "image",
            "products": [
                {"file": name, "productType": "SCIENCE", "productSubGroupDescription": "DRZ",
                 "calib_level": 3, "description": f"test file {name}", "mrp": True}
                for name in files
            ],
        }],
    }  # fmt: skip
    path = folder / "test.skyarchive.json"
    path.write_text(json.dumps(manifest))
    return path


def make_archive(home: Path, source: Path, **settings: object) -> Archive:
    archive = Archive.open(Settings(home=home, **settings))  # type: ignore[arg-type]
    report = ingest_paths(
        [source], engine=archive.engine, storage=archive.storage, default_eap_months=12
    )
    assert report.ok, report.failed
    return archive


def cli(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """``skyarchive --home HOME ARGS`` as a subprocess (its own process group)."""
    return subprocess.Popen(
        [sys.executable, "-m", "skyarchive", "--home", str(home), *args],
        env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(process.stderr.read().decode() if process.stderr else "exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def peak_rss_mb(pid: int) -> float:
    """Peak resident set size (VmHWM) of a live process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")
