"""A multi-GB zip bundle streamed by a server process whose memory stays flat.

4.5 GiB of one file (zeros, generated sparse) plus a small random one go through the zip
writer in stored mode, so the bundle needs zip64 for the big entry's size and for the offsets
after it. The archive home sits on /dev/shm when it has room (the copy ingest makes is then a
memory copy, not 4.5 GiB of disk writes); the client writes the download sparsely and checks
every CRC. The server is a subprocess so its peak resident memory can be read from /proc.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.delivery.helpers import (
    cli,
    free_port,
    make_archive,
    peak_rss_mb,
    wait_for_port,
    write_manifest,
)

# among the slowest files: handed out first (tests/suite.py)
pytestmark = pytest.mark.slow

BIG = 4608 * 1024**2  # 4.5 GiB
SMALL = 3 * 1024**2 + 17
LIMIT_MB = 200


def _scratch(tmp_path: Path) -> Path:
    shm = Path("/dev/shm")
    if shm.is_dir() and shutil.disk_usage(shm).free > 3 * BIG:
        return Path(os.path.join(shm, f"skyarchive-big-{os.getpid()}-{time.time_ns()}"))
    return tmp_path / "big"


def _save_sparse(response: httpx.Response, path: Path) -> int:
    """Write the body, leaving holes for all-zero chunks; returns the byte count."""
    size = 0
    with open(path, "wb") as out:
        for chunk in response.iter_bytes(1 << 20):
            if chunk.count(0) == len(chunk):
                out.seek(len(chunk), os.SEEK_CUR)
            else:
                out.write(chunk)
            size += len(chunk)
        out.truncate(size)
    return size


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_multi_gb_zip_streams_in_flat_memory(tmp_path: Path) -> None:
    scratch = _scratch(tmp_path)
    server = None
    try:
        source = write_manifest(scratch / "in", {"big_drz.dat": BIG, "small_drz.dat": SMALL})
        archive = make_archive(scratch / "home", source.parent)
        archive.engine.dispose()
        port = free_port()
        server = cli(scratch / "home", "serve", "--port", str(port))
        wait_for_port(port, server)
        url = f"http://127.0.0.1:{port}/api/v0.1/Download/bundle.zip"
        httpx.post(url, data={"uri": "small_drz.dat"}, timeout=30).raise_for_status()  # warm up
        started_mb = peak_rss_mb(server.pid)
        with contextlib.suppress(OSError):  # measure the streaming alone (Linux >= 4.0)
            Path(f"/proc/{server.pid}/clear_refs").write_text("5")
        target = scratch / "download.zip"
        began = time.perf_counter()
        with httpx.stream("POST", url, data={"uri": ["big_drz.dat", "small_drz.dat"]},
                          timeout=120) as response:  # fmt: skip
            assert response.status_code == 200
            assert response.headers["x-skyarchive-bytes"] == str(BIG + SMALL)
            size = _save_sparse(response, target)
        seconds = time.perf_counter() - began
        peak = peak_rss_mb(server.pid)
        rate = size / seconds / 1e6
        print(f"\n{size / 1024**3:.2f} GiB in {seconds:.1f} s ({rate:.0f} MB/s); server peak RSS "
              f"{peak:.0f} MB while streaming (start-up peak {started_mb:.0f} MB)")  # fmt: skip
        assert peak < LIMIT_MB, f"server peak RSS {peak:.0f} MB"
        assert size > BIG + SMALL

        with zipfile.ZipFile(target) as bundle:
            infos = {i.filename.rsplit("/", 1)[-1]: i for i in bundle.infolist()}
            assert set(infos) == {"big_drz.dat", "small_drz.dat", "MANIFEST.HTML"}
            assert infos["big_drz.dat"].file_size == BIG
            assert infos["small_drz.dat"].header_offset > 0xFFFFFFFF  # zip64 offsets
            assert bundle.testzip() is None  # every CRC, the 4.5 GiB included
            small = bundle.read(infos["small_drz.dat"])
            assert small == (source.parent / "small_drz.dat").read_bytes()
    finally:
        if server is not None and server.poll() is None:
            server.terminate()
            server.wait(timeout=20)
        shutil.rmtree(scratch, ignore_errors=True)
