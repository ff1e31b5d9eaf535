"""Download throughput from object storage (S3 on SeaweedFS) beside the local disk.

``python -m benchmarks.bench_storage [--storage-mib N]`` prints JSON; ``run(...)`` returns it.

One set of files (a handful of large ones, ``--storage-mib`` MiB each, and many small ones) is
ingested twice: into an archive on the local disk and into one on S3 (SeaweedFS's ``weed
server -s3``, started by :mod:`skyarchive.storage.seaweed`, as the tests start it). Each
archive is served by ``skyarchive serve`` in its own process; ``curl`` downloads to /dev/null:

* single files in stream mode (``GET /api/v0.1/Download/file``, the large files in one
  ``curl``), local and S3, and on S3 in redirect mode (``curl -L`` follows the 307 straight to
  the presigned URL of SeaweedFS);
* a zip bundle of every file (``POST /api/v0.1/Download/bundle.zip``), local and S3, with the
  growth of each server's peak resident memory (VmHWM, reset before the bundles when allowed)
  while the bundles ran.

References in the same run, the same bytes straight from the store: ``cat`` of the stored
files to /dev/null (local) and boto3 ``get_object`` of the same objects to /dev/null (S3). As
in :mod:`benchmarks.bench_delivery`, every command runs once per round, in turn; MB/s are
medians over the rounds, ratios medians of each round's ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import select

from benchmarks.bench_delivery import (
    Command,
    _interleaved,
    _medians,
    _paired,
    _peak_rss_mb,
    _rounded,
    _timed,
    _write_files,
)
from benchmarks.bench_load import Served
from benchmarks.harness import reset_peak, verdict
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.tables import products
from skyarchive.ingest.run import ingest_paths
from skyarchive.storage.seaweed import SeaweedS3, restore_credentials, set_credentials, weed_binary

#: The bundle's peak memory growth counted as flat (the keyword store's big answer's target).
FLAT_MB = 50
READ_CHUNK = 1 << 20


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _stored(archive: Archive, stems: tuple[str, ...]) -> dict[str, list[tuple[str, str]]]:
    """(dataURI, storage key) of each set's files, in name order."""
    with archive.engine.connect() as conn:
        rows = conn.execute(
            select(products.c.productFilename, products.c.dataURI, products.c.storage_key)
        ).all()
    return {
        stem: [(uri, key) for name, uri, key in sorted(rows) if name.startswith(stem)]
        for stem in stems
    }


def _get_objects(client: Any, bucket: str, keys: list[str]) -> Callable[[], float]:
    """Seconds for boto3 ``get_object`` of ``keys``, each body written to /dev/null."""

    def run_once() -> float:
        out = os.open(os.devnull, os.O_WRONLY)
        began = time.perf_counter()
        try:
            for key in keys:
                body = client.get_object(Bucket=bucket, Key=key)["Body"]
                for chunk in body.iter_chunks(READ_CHUNK):
                    os.write(out, chunk)
                body.close()
        finally:
            os.close(out)
        return time.perf_counter() - began

    return run_once


def _curl_files(url: str, uris: list[str], *, follow: bool = False) -> list[str]:
    """One ``curl`` downloading every file to /dev/null (``follow``: redirects too)."""
    command = ["curl", "-s", "-f", "-m", "600", *(["-L"] if follow else [])]
    for uri in uris:
        command += ["-o", "/dev/null", f"{url}/api/v0.1/Download/file?{urlencode({'uri': uri})}"]
    return command


def _curl_zip(url: str, names: list[str]) -> list[str]:
    data = "&".join(f"uri={name}" for name in names)
    return ["curl", "-s", "-f", "-m", "600", "-o", "/dev/null", "--data", data,
            f"{url}/api/v0.1/Download/bundle.zip"]  # fmt: skip


def _redirects(url: str, uri: str) -> bool:
    """Whether the server answers the file with a redirect (redirect mode really on)."""
    answer = httpx.get(f"{url}/api/v0.1/Download/file", params={"uri": uri}, timeout=30)
    return answer.status_code == 307


def run(
    *, storage_mib: int = 256, large: int = 4, small: int = 500, small_kib: int = 100
) -> dict | None:
    """Measure and return the figures; None when SeaweedFS's ``weed`` is not installed."""
    weed = weed_binary()
    if weed is None:
        return None
    root = Path(tempfile.mkdtemp(prefix="skyarchive-bench-storage-"))
    before = set_credentials()
    seaweed = SeaweedS3(weed, root / "seaweedfs")
    try:
        seaweed.start()
        large_names = _write_files(root / "in" / "large", large, storage_mib << 20, stem="large")
        small_names = _write_files(root / "in" / "small", small, small_kib << 10, stem="small")
        names = large_names + small_names
        location = seaweed.new_location()
        archives = {
            "local": Archive.open(Settings(home=root / "local")),
            "s3": Archive.open(
                Settings(home=root / "s3", storage_url=location, s3_endpoint_url=seaweed.endpoint)
            ),
        }
        for archive in archives.values():
            report = ingest_paths([root / "in"], engine=archive.engine, storage=archive.storage,
                                  default_eap_months=12)  # fmt: skip
            if not report.ok:
                raise RuntimeError(f"ingest failed: {report.failed}")
        local_files = _stored(archives["local"], ("large", "small"))
        s3_files = _stored(archives["s3"], ("large", "small"))
        local_dir = archives["local"].settings.resolved_storage_path
        s3_storage: Any = archives["s3"].storage
        for archive in archives.values():
            archive.engine.dispose()
        large_uris = [uri for uri, _ in local_files["large"]]
        large_bytes = large * (storage_mib << 20)
        all_bytes = large_bytes + small * (small_kib << 10)
        env = {"SKYARCHIVE_STORAGE_URL": location, "SKYARCHIVE_S3_ENDPOINT_URL": seaweed.endpoint}
        client = seaweed.client()
        object_keys = {
            stem: [s3_storage.prefix + key for _, key in files] for stem, files in s3_files.items()
        }
        with (
            Served(root / "local", None, 1) as local,
            Served(root / "s3", None, 1, env=env) as s3_stream,
            Served(
                root / "s3", None, 1, env={**env, "SKYARCHIVE_DOWNLOAD_MODE": "redirect"}
            ) as s3_redirect,
        ):
            if not _redirects(s3_redirect.url, large_uris[0]):
                raise RuntimeError("the redirect-mode server did not redirect")
            cat_large = ["cat", *(str(local_dir / key) for _, key in local_files["large"])]
            single: dict[str, Command] = {
                "local_cat": cat_large,
                "local_stream": _curl_files(local.url, large_uris),
                "s3_get_object": _get_objects(client, s3_storage.bucket, object_keys["large"]),
                "s3_stream": _curl_files(s3_stream.url, large_uris),
                "s3_redirect": _curl_files(s3_redirect.url, large_uris, follow=True),
            }
            _timed(cat_large)  # the files were just written: all in the page cache
            single_speeds = _interleaved(single, large_bytes, cold=False)
            every_key = object_keys["large"] + object_keys["small"]
            bundle: dict[str, Command] = {
                "local_cat_all": [
                    "cat",
                    *(str(local_dir / key) for files in local_files.values() for _, key in files),
                ],
                "local_zip": _curl_zip(local.url, names),
                "s3_get_object_all": _get_objects(client, s3_storage.bucket, every_key),
                "s3_zip": _curl_zip(s3_stream.url, names),
            }
            servers = {"local": local.process.pid, "s3": s3_stream.process.pid}
            peak_reset = all(reset_peak(pid) for pid in servers.values())
            rss_before = {label: _rss_mb(pid) for label, pid in servers.items()}
            bundle_speeds = _interleaved(bundle, all_bytes, cold=False)
            # The kernel brings its high-water mark up to date lazily, so VmHWM read after the
            # bundles can be below the VmRSS read just after the reset; the peak since the
            # reset is at least every reading taken since.
            peak_after = {
                label: max(_peak_rss_mb(pid), rss_before[label]) for label, pid in servers.items()
            }
        results: dict = {
            "large_files": large, "large_mib": storage_mib, "small_files": small,
            "small_kib": small_kib, "single_bytes": large_bytes, "bundle_bytes": all_bytes,
            "load_average_1min": round(os.getloadavg()[0], 2),
            "rounds_MBps": {"single": _rounded(single_speeds), "bundle": _rounded(bundle_speeds)},
            **_medians(single_speeds), **_medians(bundle_speeds),
            "local_stream_vs_cat": _paired(single_speeds, "local_stream", "local_cat"),
            "s3_stream_vs_get_object": _paired(single_speeds, "s3_stream", "s3_get_object"),
            "s3_redirect_vs_get_object": _paired(single_speeds, "s3_redirect", "s3_get_object"),
            "s3_stream_vs_local_stream": _paired(single_speeds, "s3_stream", "local_stream"),
            "local_zip_vs_cat": _paired(bundle_speeds, "local_zip", "local_cat_all"),
            "s3_zip_vs_get_object": _paired(bundle_speeds, "s3_zip", "s3_get_object_all"),
            "s3_zip_vs_local_zip": _paired(bundle_speeds, "s3_zip", "local_zip"),
            "peak_was_reset": peak_reset,
            "flat_mb": FLAT_MB,
        }  # fmt: skip
        for label in servers:
            results[f"{label}_rss_before_MB"] = round(rss_before[label], 1)
            results[f"{label}_peak_MB"] = round(peak_after[label], 1)
            results[f"{label}_bundle_growth_MB"] = round(peak_after[label] - rss_before[label], 1)
        return results
    finally:
        seaweed.stop()
        restore_credentials(before)
        shutil.rmtree(root, ignore_errors=True)


def render(d: dict) -> list[str]:
    """The report's section (markdown lines)."""

    def flat(label: str) -> str:
        growth = d[f"{label}_bundle_growth_MB"]
        met = verdict(growth < d["flat_mb"])
        return (
            f"| {label} | {d[f'{label}_rss_before_MB']} | {d[f'{label}_peak_MB']} | {growth} "
            f"| < {d['flat_mb']} MB: {met} |"
        )

    large_mb, bundle_mb = d["single_bytes"] / 1e6, d["bundle_bytes"] / 1e6
    return [
        "## Object storage throughput (S3 on SeaweedFS beside the local disk)",
        "",
        f"{d['large_files']} files of {d['large_mib']} MiB and {d['small_files']} of "
        f"{d['small_kib']} KiB in an archive on the local disk and one on S3 (SeaweedFS), each "
        "served by `skyarchive serve`; `curl` to /dev/null. Single files: the large files "
        f"({large_mb:,.0f} MB) in one `curl`; bundle: a zip of every file ({bundle_mb:,.0f} "
        "MB). References: `cat` of the stored files and boto3 `get_object` of the same "
        f"objects, to /dev/null. {len(next(iter(d['rounds_MBps']['single'].values())))} rounds "
        "warm, every command once per round: MB/s are medians, ratios medians of each round's "
        f"ratio. Load average {d['load_average_1min']} at the end.",
        "",
        "| figure | MB/s | of the store's own read | S3 / local |",
        "|---|---:|---:|---:|",
        f"| local: `cat` to /dev/null | {d['local_cat_MBps']} | 1 | |",
        f"| local: single files, stream | {d['local_stream_MBps']} "
        f"| {d['local_stream_vs_cat']} | |",
        f"| S3: boto3 `get_object` to /dev/null | {d['s3_get_object_MBps']} | 1 | |",
        f"| S3: single files, stream | {d['s3_stream_MBps']} | {d['s3_stream_vs_get_object']} "
        f"| {d['s3_stream_vs_local_stream']} |",
        f"| S3: single files, redirect to the store | {d['s3_redirect_MBps']} "
        f"| {d['s3_redirect_vs_get_object']} | |",
        f"| local: `cat` of every file | {d['local_cat_all_MBps']} | 1 | |",
        f"| local: zip bundle | {d['local_zip_MBps']} | {d['local_zip_vs_cat']} | |",
        f"| S3: `get_object` of every file | {d['s3_get_object_all_MBps']} | 1 | |",
        f"| S3: zip bundle | {d['s3_zip_MBps']} | {d['s3_zip_vs_get_object']} "
        f"| {d['s3_zip_vs_local_zip']} |",
        "",
        "Server memory during the bundles"
        + (" (peak reset before them):" if d["peak_was_reset"] else " (peak not reset):"),
        "",
        "| server | RSS before MB | peak after MB | growth MB | flat? |",
        "|---|---:|---:|---:|---|",
        flat("local"),
        flat("s3"),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--storage-mib", type=int, default=256, help="size of each large file")
    parser.add_argument("--large-files", type=int, default=4)
    parser.add_argument("--small-files", type=int, default=500)
    args = parser.parse_args()
    print(json.dumps(run(storage_mib=args.storage_mib, large=args.large_files,
                         small=args.small_files), indent=2))  # fmt: skip
