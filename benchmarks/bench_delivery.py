"""Delivery figures: bundle throughput beside raw reads, server memory, cURL script time.

``python -m benchmarks.bench_delivery [--quick]`` prints JSON; ``run(quick)`` returns it.

* Bundle throughput: ``curl`` downloads ``POST /api/v0.1/Download/bundle.zip`` (stored zip)
  and ``bundle.tar`` of N files to /dev/null, against ``cat`` of the same files to /dev/null in
  the same run. Warm: page cache holding the files, best of 3 for each. Cold (run as root):
  the page cache emptied before every single run, best of 3 for ``cat`` and for the zip. The
  server runs in its own process (``benchmarks.serve``) so its peak resident memory is read
  from /proc.
* ``zip_crc_computed``: the first zip of files ingested before CRC-32s were recorded (their
  ``crc32`` set to NULL): the CRC-32 is computed while streaming, then stored.
* ``sendfile``: the same bytes from a minimal server that hands the files to the kernel with
  ``sendfile`` (no Python per byte, no copy), to the same ``curl``: the most any server could
  deliver over loopback on this machine, a reference for the bundle figures.
* cURL script: time until the whole ``bundle.sh`` for 10,000 data URIs has arrived (the rows
  are inserted straight into the catalog; a script needs no file bytes); best of 3, and the
  first request on its own.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from importlib.util import find_spec
from pathlib import Path

import httpx
from sqlalchemy import insert, select, update

from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.tables import observations, products
from skyarchive.ingest.run import ingest_paths

SCRIPT_FILES = 10_000
REPEATS = 3


def free_port() -> int:
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


def _best(command: list[str], *, cold: bool = False) -> float:
    """Shortest of REPEATS runs; ``cold``: the page cache emptied before each."""
    times = []
    for _ in range(REPEATS):
        if cold:
            _drop_caches()
        times.append(_timed(command))
    return min(times)


def _sendfile_server(paths: list[Path]) -> tuple[socket.socket, int]:
    """A one-connection-at-a-time HTTP server sending the files' bytes with sendfile."""
    total = sum(p.stat().st_size for p in paths)
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                             b"Connection: close\r\n\r\n" % total)  # fmt: skip
                for path in paths:
                    with open(path, "rb") as handle:
                        conn.sendfile(handle)

    threading.Thread(target=serve, daemon=True).start()
    return listener, listener.getsockname()[1]


def _null_crcs(home: Path) -> bool:
    """Forget the bench files' CRC-32s; False for an archive without the column."""
    archive = Archive.open(Settings(home=home), migrate=False)
    try:
        if "crc32" not in products.c:
            return False
        with archive.engine.begin() as conn:
            conn.execute(update(products).values(crc32=None))
        return True
    finally:
        archive.engine.dispose()


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
        port = free_port()
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
        results: dict = {"files": count, "bytes": total, "load_average_1min": os.getloadavg()[0]}
        results["http_parser"] = "httptools" if find_spec("httptools") else "h11"
        cat = ["cat", *map(str, stored)]
        zip_command = ["curl", "-s", "-f", "-o", "/dev/null", "--data", data,
                       f"{url}/api/v0.1/Download/bundle.zip"]  # fmt: skip
        listener, sendfile_port = _sendfile_server(stored)
        sendfile_command = ["curl", "-s", "-f", "-o", "/dev/null",
                            f"http://127.0.0.1:{sendfile_port}/"]  # fmt: skip
        _timed(cat)  # the files were just written: make sure they are all cached
        raw = _best(cat)
        results["raw_cat_MBps"] = round(total / raw / 1e6)
        for fmt in ("zip", "tar"):
            command = [*zip_command[:-1], f"{url}/api/v0.1/Download/bundle.{fmt}"]
            seconds = _best(command)
            results[f"{fmt}_MBps"] = round(total / seconds / 1e6)
            results[f"{fmt}_vs_raw"] = round(raw / seconds, 2)
        seconds = _best(sendfile_command)
        results["sendfile_MBps"] = round(total / seconds / 1e6)
        results["sendfile_vs_raw"] = round(raw / seconds, 2)
        if _drop_caches():  # the same again with the files read from disk
            raw_cold = _best(cat, cold=True)
            zip_cold = _best(zip_command, cold=True)
            sendfile_cold = _best(sendfile_command, cold=True)
            results["cold_raw_cat_MBps"] = round(total / raw_cold / 1e6)
            results["cold_zip_MBps"] = round(total / zip_cold / 1e6)
            results["cold_zip_vs_raw"] = round(raw_cold / zip_cold, 2)
            results["cold_sendfile_MBps"] = round(total / sendfile_cold / 1e6)
            results["cold_sendfile_vs_raw"] = round(raw_cold / sendfile_cold, 2)
        listener.close()
        if _null_crcs(root / "home"):  # as if ingested before CRC-32s were recorded
            _timed(cat)
            seconds = _timed(zip_command)  # computes and stores them
            results["zip_crc_computed_MBps"] = round(total / seconds / 1e6)
            results["zip_crc_computed_vs_raw"] = round(raw / seconds, 2)
        results["server_peak_rss_MB"] = round(_peak_rss_mb(server.pid))
        script_seconds = []
        for _ in range(REPEATS):
            began = time.perf_counter()
            script = httpx.post(f"{url}/api/v0.1/Download/bundle.sh", data={"uri": uris},
                                timeout=60)  # fmt: skip
            script.raise_for_status()
            script_seconds.append(time.perf_counter() - began)
        # Best of 3 like the other figures; the first also pays for anything the page-cache
        # drops of the cold runs evicted (the server's own modules and catalog pages).
        results["curl_script_10k_s"] = round(min(script_seconds), 3)
        results["curl_script_10k_first_s"] = round(script_seconds[0], 3)
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
