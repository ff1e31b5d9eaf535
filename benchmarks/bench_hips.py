"""The sky view's HiPS: build rate and tile serving latency.

``python -m benchmarks.bench_hips [--quick]`` prints JSON; ``run(quick)`` returns it.

* Build: the demo pipeline output (``demo.generate``) ingested into a fresh archive, then
  ``build_hips`` (what ``skyarchive hips build`` runs) timed over its public images, at the
  demo's order and at the default one; images per second.
* Serving: ``skyarchive serve`` in its own process answers ``GET /hips/<tile>`` for one of the
  built tiles; the reference, in the same run, is a bare Starlette ``FileResponse`` of a file of
  the same size, served by uvicorn with the same HTTP parser in another process. One httpx
  client with keep-alive per server; the two are asked in turn, round by round; latencies are
  medians and 95th percentiles, the ratio the median of each round's ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.bench_load import Served
from benchmarks.harness import free_port
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.demo import generate
from skyarchive.ingest.hips import DEFAULT_MAX_ORDER, build_hips, public_images
from skyarchive.ingest.hips_store import hips_names, read_hips_file
from skyarchive.ingest.run import ingest_paths

DEMO_ORDER = 7
ROUNDS = 5


def _latencies_ms(client: httpx.Client, path: str, requests: int) -> list[float]:
    times = []
    for _ in range(requests):
        began = time.perf_counter()
        answer = client.get(path)
        answer.raise_for_status()
        times.append((time.perf_counter() - began) * 1000)
    return times


def _p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


class _FileServer:
    """A bare ``FileResponse`` of one file (uvicorn, h11, no middleware) in another process."""

    def __init__(self, path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.path = path

    def __enter__(self) -> _FileServer:
        command = [sys.executable, "-m", "benchmarks.bench_hips", "--serve-file", str(self.path),
                   "--port", str(self.port)]  # fmt: skip
        quiet = subprocess.DEVNULL
        self.process = subprocess.Popen(command, stdout=quiet, stderr=quiet)  # noqa: S603
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/file", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("the reference file server did not start")
            time.sleep(0.2)

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


def _serve_file(path: Path, port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import FileResponse
    from starlette.routing import Route

    async def one_file(_request):  # type: ignore[no-untyped-def]
        return FileResponse(path, media_type="image/png")

    app = Starlette(routes=[Route("/file", one_file)])
    uvicorn.run(app, host="127.0.0.1", port=port, http="h11", log_level="warning")


def run(quick: bool) -> dict:
    requests = 100 if quick else 300
    with tempfile.TemporaryDirectory(prefix="skyarchive-bench-hips-") as tmp:
        work = Path(tmp)
        generate(work / "demo", seed=1, scale=1 if quick else 2)
        archive = Archive.open(Settings(home=work / "home"))
        ingest_paths([work / "demo"], engine=archive.engine, storage=archive.storage,
                     default_eap_months=12)  # fmt: skip
        images = len(public_images(archive.engine))
        builds = {}
        for label, order in (("demo_order", DEMO_ORDER), ("default_order", None)):
            began = time.perf_counter()
            report = build_hips(engine=archive.engine, storage=archive.storage, max_order=order)
            seconds = time.perf_counter() - began
            builds[label] = {
                "max_order": report.max_order, "images": report.images, "tiles": report.tiles,
                "seconds": round(seconds, 2), "images_per_s": round(report.images / seconds, 2),
            }  # fmt: skip
        tiles = [n for n in hips_names(archive.engine, archive.storage) if "/Dir" in n]
        sizes = {n: len(read_hips_file(archive.engine, archive.storage, n) or b"") for n in tiles}
        tile = max(tiles, key=lambda n: sizes[n])
        tile_bytes = sizes[tile]
        twin = work / "same-size.png"
        twin.write_bytes(read_hips_file(archive.engine, archive.storage, tile) or b"")
        tile_path = "/hips/" + tile
        archive.engine.dispose()
        rounds: dict[str, list[float]] = {"tile": [], "file": []}
        p95s: dict[str, list[float]] = {"tile": [], "file": []}
        with Served(work / "home", None, 1) as served, _FileServer(twin) as reference, \
                httpx.Client(base_url=served.url) as ours, \
                httpx.Client(base_url=reference.url) as bare:  # fmt: skip
            _latencies_ms(ours, tile_path, 20)  # warm both
            _latencies_ms(bare, "/file", 20)
            for _ in range(ROUNDS):
                for name, client, path in (("tile", ours, tile_path), ("file", bare, "/file")):
                    times = _latencies_ms(client, path, requests)
                    rounds[name].append(statistics.median(times))
                    p95s[name].append(_p95(times))
    ratios = [t / f for t, f in zip(rounds["tile"], rounds["file"], strict=True)]
    return {
        "public_images": images,
        "builds": builds,
        "default_max_order": DEFAULT_MAX_ORDER,
        "tile_bytes": tile_bytes,
        "requests_per_round": requests,
        "rounds": ROUNDS,
        "tile_median_ms": round(statistics.median(rounds["tile"]), 3),
        "tile_p95_ms": round(statistics.median(p95s["tile"]), 3),
        "file_median_ms": round(statistics.median(rounds["file"]), 3),
        "file_p95_ms": round(statistics.median(p95s["file"]), 3),
        "tile_vs_file": round(statistics.median(ratios), 2),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def render(d: dict) -> list[str]:
    """The report's section (markdown lines)."""
    lines = [
        "## HiPS (the sky view's image)",
        "",
        f"Build: `build_hips` over the {d['public_images']} public images of the demo archive "
        "(I2D mosaics, else CAL exposures), fresh archive, after ingest. Serving: "
        f"`GET /hips/<tile>` of a {d['tile_bytes']:,}-byte tile from `skyarchive serve`, beside a "
        "bare Starlette `FileResponse` of a file of the same size (uvicorn, h11, no middleware) "
        f"in another process, in turn; {d['rounds']} rounds of {d['requests_per_round']} "
        f"requests each, keep-alive. Load average {d['load_average_1min']} at the end.",
        "",
        "| build | max order | images | tiles | seconds | images/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, b in d["builds"].items():
        name = label.replace("_", " ")
        lines.append(f"| {name} | {b['max_order']} | {b['images']} | {b['tiles']} "
                     f"| {b['seconds']} | {b['images_per_s']} |")  # fmt: skip
    lines += [
        "",
        "| serving | median ms | p95 ms |",
        "|---|---:|---:|",
        f"| `/hips/` tile | {d['tile_median_ms']} | {d['tile_p95_ms']} |",
        f"| bare `FileResponse`, same size | {d['file_median_ms']} | {d['file_p95_ms']} |",
        f"| ratio (median of each round's) | {d['tile_vs_file']} | |",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--serve-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_file:
        _serve_file(args.serve_file, args.port)
        return
    print(json.dumps(run(args.quick), indent=2))


if __name__ == "__main__":
    main()
