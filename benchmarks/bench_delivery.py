"""Delivery figures: bundle throughput beside raw reads, server memory, cURL script time.

``python -m benchmarks.bench_delivery [--quick]`` prints JSON; ``run(quick)`` returns it.

* Bundle throughput: ``curl`` downloads ``POST /api/v0.1/Download/bundle.zip`` (stored zip)
  and ``bundle.tar`` of N files to /dev/null, against ``cat`` of the same files to /dev/null
  and two references, in rounds: every round runs each command once, back to back, so the
  figures of one round meet the same machine. Warm: page cache holding the files. Cold (run
  as root): the page cache emptied before every single command. Each MB/s figure is the
  median over the rounds, each ratio the median of the rounds' ratios. The server runs in its
  own process (``benchmarks.serve``) so its peak resident memory is read from /proc.
* ``cat_to_client``: ``cat`` of the same files with its output on the connection of the same
  ``curl`` (a minimal server writes the HTTP header, then ``cat`` writes the files): the raw
  read of the files measured where the bundles are measured, at the client. The zip's target
  (>= 0.8 of raw) is taken against it, warm and cold; ``cat`` to /dev/null is reported beside.
* ``loopback``: the same number of bytes from one buffer in memory (no files, no disk) to the
  same ``curl``: what loopback TCP and the client alone allow on this machine.
* ``zip_to_null``: the zip as the delivery layer builds it (access check and selection,
  MANIFEST.HTML, the stored-zip stream of the files) written to /dev/null in this process, no
  HTTP: the issue's literal comparison, bundle bytes against ``cat`` to /dev/null.
  ``zip_to_null_read_ahead``: the same through the server's read-ahead (one hand-over between
  threads per 2 MiB chunk, which over HTTP lets the disk and the socket work at once).
* ``zip_crc_computed``: the first zip of files ingested before CRC-32s were recorded (their
  ``crc32`` set to NULL): the CRC-32 is computed while streaming, then stored.
* cURL script: time until the whole ``bundle.sh`` for 10,000 data URIs has arrived (the rows
  are inserted straight into the catalog; a script needs no file bytes); the best of the
  rounds, and the first request on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from importlib.util import find_spec
from pathlib import Path

import httpx
from sqlalchemy import insert, select, update

from benchmarks.harness import free_port
from skyarchive.access.policy import Caller
from skyarchive.access.rights import now_mjd
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.tables import observations, products
from skyarchive.delivery.bundles import prepare_bundle
from skyarchive.delivery.manifest import manifest_html
from skyarchive.delivery.readahead import read_ahead
from skyarchive.delivery.selection import resolve_selection
from skyarchive.ingest.run import ingest_paths

Command = list[str] | Callable[[], float]  # a program to time, or a function timing itself

SCRIPT_FILES = 10_000
REPEATS = 5
# Cold figures swing with the virtual disk's state (a fast and a slow regime, minutes apart):
# more rounds keep a single swing from setting the median.
COLD_ROUNDS = 9


def _write_files(folder: Path, count: int, size: int, *, stem: str = "bench") -> list[str]:
    """``count`` files of ``size`` random bytes and a manifest making them one observation
    (``stem``: the files' and observation's names, so several sets can share one archive)."""
    folder.mkdir(parents=True)
    block = os.urandom(1 << 20)
    names = []
    for i in range(count):
        name = f"{stem}{i:04d}_drz.dat"
        with open(folder / name, "wb") as out:
            left = size
            while left > 0:
                out.write(block[: min(left, len(block))])
                left -= len(block)
        names.append(name)
    manifest = {
        "skyarchive_manifest": 1,
        "observations": [{
            "obs_id": f"{stem}-obs", "obs_collection": "HST", "t_obs_release": 50000.0,
            "products": [{"file": n, "productType": "SCIENCE", "mrp": True} for n in names],
        }],
    }  # fmt: skip
    (folder / f"{stem}.skyarchive.json").write_text(json.dumps(manifest))
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


def _timed(command: Command) -> float:
    if callable(command):
        return command()
    began = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - began


def _zip_to_null(archive: Archive, uris: list[str], *, hop: bool = False) -> Callable[[], float]:
    """Seconds to build the zip of ``uris`` and write it to /dev/null (``hop``: through the
    server's read-ahead thread, as the HTTP server receives it)."""
    caller = Caller()

    def manifest(items, excluded) -> str:  # type: ignore[no-untyped-def]
        return manifest_html(items, excluded, caller=caller, source="http://bench")

    async def drain_read_ahead(chunks: Iterable[bytes], out: int) -> int:
        return sum([os.write(out, chunk) async for chunk in read_ahead(chunks)])

    def drain(chunks: Iterable[bytes], out: int) -> int:
        if hop:
            return asyncio.run(drain_read_ahead(chunks, out))
        return sum(os.write(out, chunk) for chunk in chunks)

    def run_once() -> float:
        began = time.perf_counter()
        with archive.engine.connect() as conn:
            selection = resolve_selection(conn, archive.storage, caller=caller, now=now_mjd(),
                                          uris=uris)  # fmt: skip
        bundle = prepare_bundle(selection, storage=archive.storage, fmt="zip", manifest=manifest)
        out = os.open(os.devnull, os.O_WRONLY)
        try:
            written = drain(bundle.chunks, out)
        finally:
            os.close(out)
        seconds = time.perf_counter() - began
        if written != bundle.length or bundle.files != len(uris):
            raise RuntimeError(f"zip of {bundle.files} files, {written} bytes: incomplete")
        return seconds

    return run_once


def _serve_once_at_a_time(send_body: Callable[[socket.socket], None], total: int) -> socket.socket:
    """A minimal HTTP server on a free port (the listener returned) answering ``total`` bytes."""
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
                # A client that left early must not stop the server for the next one.
                with contextlib.suppress(OSError, subprocess.CalledProcessError):
                    send_body(conn)

    threading.Thread(target=serve, daemon=True).start()
    return listener


def _cat_server(paths: list[Path]) -> socket.socket:
    """``cat`` of the files with its output on the client's connection, after the header."""

    def send_files(conn: socket.socket) -> None:
        subprocess.run(["cat", *map(str, paths)], stdout=conn.fileno(), check=True)

    return _serve_once_at_a_time(send_files, sum(p.stat().st_size for p in paths))


def _loopback_server(total: int) -> socket.socket:
    """``total`` bytes from one buffer in memory: loopback TCP and curl alone, no files."""
    block = memoryview(bytes(4 << 20))

    def send_memory(conn: socket.socket) -> None:
        left = total
        while left:
            part = block[: min(left, len(block))]
            conn.sendall(part)
            left -= len(part)

    return _serve_once_at_a_time(send_memory, total)


def _interleaved(commands: dict[str, Command], total: int, *, cold: bool) -> dict[str, list]:
    """MB/s of each command, run in turn for some rounds (``cold``: page cache emptied first).

    Run back to back, the commands of one round meet the same machine (its other load, the
    disk's state), so their ratios round by round are steadier than separate bests.
    """
    speeds: dict[str, list] = {name: [] for name in commands}
    for _ in range(COLD_ROUNDS if cold else REPEATS):
        for name, command in commands.items():
            if cold:
                _drop_caches()
            speeds[name].append(total / _timed(command) / 1e6)
    return speeds


def _paired(speeds: dict[str, list], name: str, against: str) -> float:
    """Median over the rounds of ``name``'s speed over ``against``'s in the same round."""
    rounds = zip(speeds[name], speeds[against], strict=True)
    return round(statistics.median(a / b for a, b in rounds), 2)


def _rounded(speeds: dict[str, list]) -> dict[str, list[int]]:
    return {name: [round(v) for v in values] for name, values in speeds.items()}


def _medians(speeds: dict[str, list], prefix: str = "") -> dict[str, int]:
    return {f"{prefix}{name}_MBps": round(statistics.median(v)) for name, v in speeds.items()}


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
    return [str(r["dataURI"]) for r in rows]


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
        results["rounds"] = REPEATS
        results["cold_rounds"] = COLD_ROUNDS
        cat = ["cat", *map(str, stored)]

        def download(target: str) -> list[str]:
            post = ["--data", data] if "Download" in target else []
            return ["curl", "-s", "-f", "-m", "600", "-o", "/dev/null", *post, target]

        references = [_cat_server(stored), _loopback_server(total)]
        cat_port, loopback_port = (ref.getsockname()[1] for ref in references)
        zip_command = download(f"{url}/api/v0.1/Download/bundle.zip")
        zip_to_null = _zip_to_null(archive, names)
        zip_to_null_read_ahead = _zip_to_null(archive, names, hop=True)
        cat_to_client = download(f"http://127.0.0.1:{cat_port}/")
        warm: dict[str, Command] = {
            "raw_cat": cat,
            "cat_to_client": cat_to_client,
            "zip": zip_command,
            "tar": download(f"{url}/api/v0.1/Download/bundle.tar"),
            "loopback": download(f"http://127.0.0.1:{loopback_port}/"),
            "zip_to_null": zip_to_null,
            "zip_to_null_read_ahead": zip_to_null_read_ahead,
        }
        _timed(cat)  # the files were just written: make sure they are all cached
        speeds = _interleaved(warm, total, cold=False)
        results["rounds_MBps"] = {"warm": _rounded(speeds)}
        results.update(_medians(speeds))
        for name in ("cat_to_client", "zip", "tar", "loopback", "zip_to_null",
                     "zip_to_null_read_ahead"):  # fmt: skip
            results[f"{name}_vs_raw"] = _paired(speeds, name, "raw_cat")
        results["zip_vs_cat_to_client"] = _paired(speeds, "zip", "cat_to_client")
        results["zip_vs_loopback"] = _paired(speeds, "zip", "loopback")
        results["tar_vs_cat_to_client"] = _paired(speeds, "tar", "cat_to_client")
        if _drop_caches():  # the same again with the files read from disk
            cold: dict[str, Command] = {
                "raw_cat": cat, "cat_to_client": cat_to_client, "zip": zip_command,
                "zip_to_null": zip_to_null,
            }  # fmt: skip
            speeds = _interleaved(cold, total, cold=True)
            results["rounds_MBps"]["cold"] = _rounded(speeds)
            results.update(_medians(speeds, "cold_"))
            results["cold_cat_to_client_vs_raw"] = _paired(speeds, "cat_to_client", "raw_cat")
            results["cold_zip_vs_raw"] = _paired(speeds, "zip", "raw_cat")
            results["cold_zip_vs_cat_to_client"] = _paired(speeds, "zip", "cat_to_client")
            results["cold_zip_to_null_vs_raw"] = _paired(speeds, "zip_to_null", "raw_cat")
        archive.engine.dispose()
        for listener in references:
            listener.close()
        raw = total / (results["raw_cat_MBps"] * 1e6)
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
        # The best of the rounds; the first also pays for anything the page-cache drops of
        # the cold runs evicted (the server's own modules and catalog pages).
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
