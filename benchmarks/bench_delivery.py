"""Delivery figures: bundle throughput beside raw reads, server memory, cURL script time.

``python -m benchmarks.bench_delivery [--quick]`` prints JSON; ``run(quick)`` returns it.

* Bundle throughput (warm, and cold after emptying the page cache when run as root):
  ``curl`` downloads ``POST /api/v0.1/Download/bundle.zip`` (stored zip) and
  ``bundle.tar`` of N files to /dev/null, against ``cat`` of the same files to /dev/null in the
  same run (page cache warm for both: the files were just written). The server runs in its own
  process (``benchmarks.serve``) so its peak resident memory is read from /proc.
* cURL script: time until the whole ``bundle.sh`` for 10,000 data URIs has arrived (the rows
  are inserted straight into the catalog; a script needs no file bytes).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import insert, select

from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.tables import observations, products
from skyarchive.ingest.run import ingest_paths

SCRIPT_FILES = 10_000


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_files(folder: Path, count: int, size: int) -> list[str]:
    folder.mkdir(parents=True)
    block = os.urandom(1 << 20)
    names = []
    for i in range(count):
        name = f"bench{i:04d}_drz.dat"
        with open(folder / name, "wb") as out:
            left = size
            while left > 0:
                out.write(block[: min(left, len(block))])
                left -= len(block)
        names.append(name)
    manifest = {
        "skyarchive_manifest": 1,
        "observations": [{
            "obs_id": "bench-obs", "obs_collection": "HST", "t_obs_release": 50000.0,
            "products": [{"file": n, "productType": "SCIENCE", "mrp": True} for n in names],
        }],
    }  # fmt: skip
    (folder / "bench.skyarchive.json").write_text(json.dumps(manifest))
    return names


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _drop_caches() -> bool:
    """Empty the page cache (root only); False when not allowed."""
    try:
        subprocess.run(["sync"], check=True)
        Path("/proc/sys/vm/drop_caches").write_text("3")
        return True
    except OSError:
        return False


def _timed(command: list[str]) -> float:
    began = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - began


def _script_rows(archive: Archive) -> list[str]:
    with archive.engine.begin() as conn:
        obsid = conn.scalar(
            select(observations.c.obsid).where(observations.c.obs_id == "bench-obs")
        )
        rows = [
            {
                "productFilename": f"script{i:05d}_cal.fits", "owner_obsid": obsid,
                "dataURI": f"mast:HST/product/script{i:05d}_cal.fits", "obs_collection": "HST",
                "productType": "SCIENCE", "size": 1000 + i, "sha256": f"{i:064x}",
                "storage_key": f"HST/product/x/script{i:05d}_cal.fits",
            }
            for i in range(SCRIPT_FILES)
        ]  # fmt: skip
        conn.execute(insert(products), rows)
    return [r["dataURI"] for r in rows]


def run(quick: bool) -> dict:
    """Measure and return the delivery figures (``quick``: 0.5 GB instead of 2 GB)."""
    count, size = (16, 32 << 20) if quick else (32, 64 << 20)
    root = Path(tempfile.mkdtemp(prefix="skyarchive-bench-delivery-"))
    server = None
    try:
        names = _write_files(root / "in", count, size)
        archive = Archive.open(Settings(home=root / "home"))
        report = ingest_paths([root / "in"], engine=archive.engine, storage=archive.storage,
                              default_eap_months=12)  # fmt: skip
        assert report.ok, report.failed
        uris = _script_rows(archive)
        stored = sorted(archive.settings.resolved_storage_path.rglob("bench*_drz.dat"))
        archive.engine.dispose()
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.serve", "--home", str(root / "home"),
             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/api/v0.1/Download/mrp?obsid=0", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        total = count * size
        fields = [f"uri={n}" for n in names]
        data = "&".join(fields)
        results: dict = {"files": count, "bytes": total}
        raw = min(_timed(["cat", *map(str, stored)]) for _ in range(3))
        results["raw_cat_MBps"] = round(total / raw / 1e6)
        for fmt in ("zip", "tar"):
            seconds = min(
                _timed(["curl", "-s", "-f", "-o", "/dev/null", "--data", data,
                        f"{url}/api/v0.1/Download/bundle.{fmt}"])
                for _ in range(3)
            )  # fmt: skip
            results[f"{fmt}_MBps"] = round(total / seconds / 1e6)
            results[f"{fmt}_vs_raw"] = round(raw / seconds, 2)
        if _drop_caches():  # the same again with the files read from disk
            raw_cold = _timed(["cat", *map(str, stored)])
            _drop_caches()
            zip_cold = _timed(["curl", "-s", "-f", "-o", "/dev/null", "--data", data,
                               f"{url}/api/v0.1/Download/bundle.zip"])  # fmt: skip
            results["cold_raw_cat_MBps"] = round(total / raw_cold / 1e6)
            results["cold_zip_MBps"] = round(total / zip_cold / 1e6)
            results["cold_zip_vs_raw"] = round(raw_cold / zip_cold, 2)
        results["server_peak_rss_MB"] = round(_peak_rss_mb(server.pid))
        began = time.perf_counter()
        script = httpx.post(f"{url}/api/v0.1/Download/bundle.sh", data={"uri": uris}, timeout=60)
        script.raise_for_status()
        results["curl_script_10k_s"] = round(time.perf_counter() - began, 3)
        results["curl_script_10k_lines"] = script.text.count("\nfetch ")
        return results
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    print(json.dumps(run(parser.parse_args().quick), indent=2))
