"""A file larger than the server's memory budget, on S3 (a real SeaweedFS), streamed in a zip
bundle and as a single download by a server process whose memory stays flat.

The big file goes up in several multipart parts at ingest; the server is a subprocess so its
peak resident memory can be read from /proc (as in test_delivery_big.py, for local disk).
"""

from __future__ import annotations

import contextlib
import hashlib
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.delivery.helpers import cli, free_port, make_archive, peak_rss_mb, wait_for_port
from tests.delivery.helpers import write_manifest as write_observation

BIG = 128 * 1024**2  # two 64 MiB parts; far more than streaming may add to the server
SMALL = 3 * 1024**2 + 17
GROWTH_MB = 64  # what streaming may add to the server's memory: half the big file


def _resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _zeros_digest(size: int) -> str:
    digest, block = hashlib.sha256(), bytes(1 << 20)
    for _ in range(size // len(block)):
        digest.update(block)
    digest.update(bytes(size % len(block)))
    return digest.hexdigest()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_big_objects_stream_in_flat_memory(tmp_path: Path, seaweed_s3) -> None:  # type: ignore[no-untyped-def]
    source = write_observation(tmp_path / "in", {"big_drz.dat": BIG, "small_drz.dat": SMALL})
    location = seaweed_s3.new_location()
    settings = {"storage_url": location, "s3_endpoint_url": seaweed_s3.endpoint}
    archive = make_archive(tmp_path / "home", source.parent, **settings)
    big_key = next(key for key in archive.storage.list_keys() if key.endswith("big_drz.dat"))
    parts = seaweed_s3.client().head_object(
        Bucket=archive.storage.bucket, Key=archive.storage.prefix + big_key
    )["ETag"]
    assert parts.strip('"').endswith("-2")  # went up as a multipart upload
    archive.engine.dispose()

    port = free_port()
    env = {"SKYARCHIVE_STORAGE_URL": location, "SKYARCHIVE_S3_ENDPOINT_URL": seaweed_s3.endpoint}
    server = cli(tmp_path / "home", "serve", "--port", str(port), env=env)
    try:
        wait_for_port(port, server)
        base = f"http://127.0.0.1:{port}/api/v0.1/Download"
        httpx.post(
            f"{base}/bundle.zip", data={"uri": "small_drz.dat"}, timeout=30
        ).raise_for_status()  # fmt: skip  (warm up)
        with contextlib.suppress(OSError):  # measure the streaming alone (Linux >= 4.0)
            Path(f"/proc/{server.pid}/clear_refs").write_text("5")
        before = _resident_mb(server.pid)

        target = tmp_path / "download.zip"
        with httpx.stream("POST", f"{base}/bundle.zip", timeout=120,
                          data={"uri": ["big_drz.dat", "small_drz.dat"]}) as response:  # fmt: skip
            assert response.status_code == 200
            with open(target, "wb") as out:
                for chunk in response.iter_bytes(1 << 20):
                    out.write(chunk)
        digest, size = hashlib.sha256(), 0
        with httpx.stream("GET", f"{base}/file", params={"uri": "big_drz.dat"},
                          timeout=120) as response:  # fmt: skip
            assert response.status_code == 200
            for chunk in response.iter_bytes(1 << 20):
                digest.update(chunk)
                size += len(chunk)
        peak = peak_rss_mb(server.pid)
        print(f"\nserver RSS {before:.0f} MB, peak {peak:.0f} MB while streaming "
              f"{BIG >> 20} MiB from S3")  # fmt: skip
        assert peak - before < GROWTH_MB, f"server RSS grew from {before:.0f} to {peak:.0f} MB"
    finally:
        server.terminate()
        server.wait(timeout=20)

    assert size == BIG and digest.hexdigest() == _zeros_digest(BIG)
    with zipfile.ZipFile(target) as bundle:
        assert bundle.testzip() is None  # every CRC, the big entry's included
        names = {info.filename.rsplit("/", 1)[-1]: info for info in bundle.infolist()}
        assert names["big_drz.dat"].file_size == BIG
        small = bundle.read(names["small_drz.dat"])
        assert small == (source.parent / "small_drz.dat").read_bytes()
