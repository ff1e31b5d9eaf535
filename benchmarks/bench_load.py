"""Throughput under a mixed astroquery-like load, with 1 and 2 server processes.

The server is ``skyarchive serve --workers N`` as an operator starts it (access log off), over
the demo archive on SQLite and on PostgreSQL. The load comes from ``wrk`` (compiled, from
Debian), cycling through four requests as astroquery sends them (``POST /api/v0/invoke`` with
``request=<json>``): a cone, a criteria query, a product list and a small file download. Each
point runs for a fixed time with 1, 8, 32 and 64 open connections (clients), after a warm-up.

The load generator shares the machine's cores with the server, so its own CPU time is measured
(``wait4``), and so is everything else the machine did meanwhile (``/proc/stat`` minus the
server's and wrk's time): other work on a shared machine takes cores from the server.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from urllib.parse import quote

import httpx
from sqlalchemy import select

from benchmarks.harness import free_port
from skyarchive.access.rights import now_mjd
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.tables import observations, products
from skyarchive.demo import generate
from skyarchive.ingest.run import ingest_paths

CLIENTS = (1, 8, 32, 64)
WORKERS = (1, 2)
TARGET_RATIO = 1.6  # 2 workers / 1 worker at 32 clients
RATIO_CLIENTS = 32
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

LUA = """
local prepared = {}
local next_one = 0
init = function(args)
  local bodies = %(requests)s
  for i, r in ipairs(bodies) do
    prepared[i] = wrk.format(r[1], r[2], r[3], r[4])
  end
end
request = function()
  next_one = next_one %% #prepared + 1
  return prepared[next_one]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %%d, "duration_us": %%d, "connect": %%d, "read": %%d, "write": %%d, ' ..
    '"status": %%d, "timeout": %%d, "p50_us": %%d, "p95_us": %%d, "p99_us": %%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal here (ASCII)


def _invoke(service: str, params: dict) -> tuple[str, str, dict[str, str], str]:
    request = {"service": service, "params": params, "format": "json", "pagesize": 500,
               "page": 1, "removenullcolumns": True}  # fmt: skip
    body = "request=" + quote(json.dumps(request))
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return ("POST", "/api/v0/invoke", headers, body)


def mixed_requests(archive: Archive) -> list[tuple[str, str, dict[str, str], str]]:
    """The four requests of the mix, chosen from the archive: public data only."""
    now = now_mjd()
    with archive.engine.connect() as conn:
        obsids = conn.scalars(
            select(observations.c.obsid)
            .where(observations.c.proposal_id == "1073", observations.c.t_obs_release <= now)
            .order_by(observations.c.obsid)
            .limit(3)
        ).all()
        small = conn.scalar(
            select(products.c.dataURI)
            .where(products.c.size < 64 * 1024, products.c.proposal_id == "1073")
            .order_by(products.c.size.desc())
            .limit(1)
        )  # fmt: skip
    if not obsids or small is None:
        raise RuntimeError("the demo archive lacks program 1073 or a small public file")
    return [
        _invoke("Mast.Caom.Cone", {"ra": 283.396, "dec": 33.029, "radius": 0.02}),
        _invoke(
            "Mast.Caom.Filtered",
            {
                "columns": "*",
                "filters": [
                    {"paramName": "obs_collection", "values": ["JWST"]},
                    {"paramName": "proposal_id", "values": ["1073"]},
                ],
            },
        ),  # fmt: skip
        _invoke("Mast.Caom.Products", {"obsid": ",".join(str(o) for o in obsids)}),
        ("GET", f"/api/v0.1/Download/file?uri={quote(small)}", {}, ""),
    ]


def lua_script(requests: list[tuple[str, str, dict[str, str], str]]) -> str:
    entries = []
    for method, path, headers, body in requests:
        pairs = [f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items()]
        header_table = ", ".join(pairs)
        body_value = _lua_string(body) if body else "nil"
        entries.append(
            f"{{{_lua_string(method)}, {_lua_string(path)}, {{{header_table}}}, {body_value}}}"
        )
    return LUA % {"requests": "{" + ", ".join(entries) + "}"}


class Served(AbstractContextManager["Served"]):
    """``skyarchive serve --workers N`` on a free port, as an operator runs it (the load
    benchmark, and the tests of several processes: ``log`` keeps its output and access log)."""

    def __init__(
        self,
        home: Path,
        database_url: str | None,
        workers: int,
        *,
        log: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.command = [
            sys.executable, "-m", "skyarchive", "--home", str(home), "serve",
            "--workers", str(workers), "--port", str(self.port),
        ]  # fmt: skip
        if log is None:
            self.command.append("--no-access-log")
        self.log = log
        self.env = {**os.environ, **(env or {})}  # env: more settings (SKYARCHIVE_*)
        if database_url:
            self.env["SKYARCHIVE_DATABASE_URL"] = database_url

    def __enter__(self) -> Served:
        self.launch()
        return self.wait_until_listening()

    def launch(self) -> None:
        """Start the server process without waiting for it (see :func:`served_together`)."""
        output = self.log.open("wb") if self.log else subprocess.DEVNULL
        self.process = subprocess.Popen(  # noqa: S603  (our own command line)
            self.command, env=self.env, stdout=output, stderr=subprocess.STDOUT
        )

    def wait_until_listening(self) -> Served:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(self.url + "/", timeout=2).status_code == 200 and self._all_listen():
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.__exit__()
                said = self.log.read_text()[-2000:] if self.log else ""
                raise RuntimeError(f"skyarchive serve did not start. {said}")
            time.sleep(0.2)

    def _all_listen(self) -> bool:
        """Every worker process listens: before that, the first ones up get every connection."""
        pids = self.pids()
        listening = connections_per_process(pids, self.port, LISTENING)
        return len(pids) >= self.workers and all(listening.values())

    def pids(self) -> list[int]:
        """The processes that answer requests (the worker processes, or the one server)."""
        if self.workers == 1:
            return [self.process.pid]
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        with contextlib.suppress(FileNotFoundError):
            return [
                int(pid) for pid in path.read_text().split()
                if b"resource_tracker" not in _read(f"/proc/{pid}/cmdline")
            ]  # fmt: skip
        return []

    def __exit__(self, *exc: object) -> None:
        self.interrupt()
        self.wait_for_exit()

    def interrupt(self) -> None:
        """Ctrl-C: the server finishes what it serves and exits."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)

    def wait_for_exit(self) -> None:
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def served_together(*servers: Served) -> Iterator[tuple[Served, ...]]:
    """Several servers started side by side and stopped side by side: a server's start (its
    imports) and its exit take seconds each, and overlapped they cost about one."""
    with contextlib.ExitStack() as stopping:
        for server in servers:
            server.launch()
            stopping.callback(server.wait_for_exit)  # run last, after every interrupt below
        for server in servers:
            stopping.callback(server.interrupt)
        for server in servers:
            server.wait_until_listening()
        yield servers


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        return b""


def process_cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = _read(f"/proc/{pid}/stat").decode().rsplit(")", 1)[-1].split()
        if len(fields) > 12:
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


ESTABLISHED, LISTENING = "01", "0A"  # TCP states as /proc/net/tcp writes them


def connections_per_process(pids: list[int], port: int, state: str = ESTABLISHED) -> dict[int, int]:
    """Open TCP connections to ``port`` each process holds (its sockets in /proc/PID/fd that
    /proc/net/tcp lists as established on that local port): how a client's keep-alive
    connections are spread over the server processes. ``state=LISTENING``: its listening
    sockets on the port instead."""
    established = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in _read(table).decode().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == state:
                established.add(fields[9])  # the socket's inode
    counts = {}
    for pid in pids:
        held = 0
        with contextlib.suppress(FileNotFoundError, PermissionError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:[") and target[8:-1] in established:
                        held += 1
        counts[pid] = held
    return counts


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent on anything but idling, since boot (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / CLOCK_TICKS


def run_wrk(
    url: str,
    script: Path,
    *,
    clients: int,
    seconds: float,
    midway: Callable[[], object] | None = None,
) -> dict:
    """One load point; the figures of wrk plus its own CPU time (``midway``: called half-way
    through, its answer kept as ``figures["midway"]``)."""
    threads = min(clients, 2)
    command = ["wrk", "-t", str(threads), "-c", str(clients), "-d", f"{seconds:.0f}s",
               "--timeout", "30s", "-s", str(script), url]  # fmt: skip
    out_path = script.with_suffix(f".{clients}.out")
    seen = None
    with out_path.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
        if midway is not None:
            time.sleep(seconds / 2)
            seen = midway()
        _pid, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    text = out_path.read_text()
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed: {text[-500:]}")
    figures = json.loads(text.strip().splitlines()[-1])
    figures["wrk_cpu_s"] = usage.ru_utime + usage.ru_stime
    figures["midway"] = seen
    return figures


def load_point(served: Served, script: Path, *, clients: int, seconds: float) -> dict:
    pids = served.pids()
    server_before, machine_before = process_cpu_seconds(pids), machine_busy_seconds()
    each_before = [process_cpu_seconds([pid]) for pid in pids]
    figures = run_wrk(served.url, script, clients=clients, seconds=seconds,
                      midway=lambda: connections_per_process(pids, served.port))  # fmt: skip
    each_cpu = [
        process_cpu_seconds([pid]) - before
        for pid, before in zip(pids, each_before, strict=True)
    ]  # fmt: skip
    server_cpu = process_cpu_seconds(pids) - server_before
    machine_cpu = machine_busy_seconds() - machine_before
    wall = figures["duration_us"] / 1e6
    errors = sum(figures[k] for k in ("connect", "read", "write", "status", "timeout"))
    return {
        "workers": served.workers,
        "clients": clients,
        "requests": figures["requests"],
        "req_per_s": round(figures["requests"] / wall, 1),
        "p50_ms": round(figures["p50_us"] / 1000, 1),
        "p95_ms": round(figures["p95_us"] / 1000, 1),
        "p99_ms": round(figures["p99_us"] / 1000, 1),
        "errors": errors,
        "error_kinds": {
            k: figures[k] for k in ("connect", "read", "write", "status", "timeout") if figures[k]
        },  # fmt: skip
        "server_cores": round(server_cpu / wall, 2),
        # Throughput per CPU-second the server got: on a machine shared with other work, the
        # figure that shows whether a second process costs efficiency (locks, contention).
        "req_per_cpu_s": round(figures["requests"] / server_cpu, 1) if server_cpu else None,
        # How the load was spread over the processes: the connections each held half-way
        # through, and the cores each used.
        "connections_per_process": sorted(figures["midway"].values(), reverse=True),
        "cores_per_process": sorted((round(c / wall, 2) for c in each_cpu), reverse=True),
        "wrk_cores": round(figures["wrk_cpu_s"] / wall, 2),
        "other_cores": round(max(machine_cpu - server_cpu - figures["wrk_cpu_s"], 0) / wall, 2),
    }


def ingested_demo(work: Path, label: str, demo_dir: Path, database_url: str | None) -> Archive:
    """A fresh archive in ``work`` (``load-<label>``) with the demo output in ``demo_dir``."""
    archive = Archive.open(Settings(home=work / f"load-{label}", database_url=database_url))
    report = ingest_paths(
        [demo_dir], engine=archive.engine, storage=archive.storage, default_eap_months=12
    )
    if not report.ok:
        raise RuntimeError(f"demo ingest failed: {report.failed[:3]}")
    return archive


def bench_database(
    label: str, work: Path, demo_dir: Path, database_url: str | None, *, seconds: float
) -> list[dict]:
    archive = ingested_demo(work, label, demo_dir, database_url)
    script = work / f"mix-{label}.lua"
    script.write_text(lua_script(mixed_requests(archive)))
    home = archive.settings.home
    archive.engine.dispose()
    points = []
    for workers in WORKERS:
        with Served(home, database_url, workers) as served:
            run_wrk(served.url, script, clients=8, seconds=3)  # warm-up: caches, pools, imports
            for clients in CLIENTS:
                point = {"database": label, **load_point(served, script, clients=clients,
                                                         seconds=seconds)}  # fmt: skip
                print(f"load: {point}", flush=True)
                points.append(point)
    return points


def ratios(points: list[dict]) -> list[dict]:
    """2 workers / 1 worker, per database and number of clients."""
    by_key = {(p["database"], p["workers"], p["clients"]): p for p in points}
    found = []
    for (database, workers, clients), one in by_key.items():
        two = by_key.get((database, 2, clients))
        if workers == 1 and two and one["req_per_s"]:
            found.append({"database": database, "clients": clients,
                          "ratio": round(two["req_per_s"] / one["req_per_s"], 2)})  # fmt: skip
    return found


def run(quick: bool, *, postgres: Callable[[], AbstractContextManager[str]] | None) -> dict | None:
    """The load benchmark's figures, or None when ``wrk`` is missing (say so in the report)."""
    if shutil.which("wrk") is None:
        return None
    seconds = 5.0 if quick else 10.0
    import tempfile

    with tempfile.TemporaryDirectory(prefix="skyarchive-load-") as tmp:
        work = Path(tmp)
        demo_dir = work / "demo"
        generate(demo_dir, seed=1, scale=1)
        points = bench_database("sqlite", work, demo_dir, None, seconds=seconds)
        if postgres is not None:
            with postgres() as url:
                points += bench_database("postgresql", work, demo_dir, url, seconds=seconds)
    return {
        "seconds_per_point": seconds,
        "mix": "cone, criteria (proposal 1073), product list (3 obsids), small file download",
        "points": points,
        "ratios": ratios(points),
        "target_ratio": TARGET_RATIO,
        "ratio_clients": RATIO_CLIENTS,
    }


def render(load: dict | None) -> Iterator[str]:
    """The markdown section of the report."""
    yield "## Mixed load, 1 and 2 server processes (wrk)\n"
    if load is None:
        yield "Not measured: `wrk` is not installed (`apt-get install wrk`).\n"
        return
    yield (f"{load['seconds_per_point']:.0f} s per point; mix: {load['mix']}. Cores: what the "
           "server, wrk and everything else on the machine used, in cores (of "
           f"{os.cpu_count()}).\n")  # fmt: skip
    yield "| database | workers | clients | req/s | p50 ms | p95 ms | errors | server cores " \
          "| cores per process | connections per process | req per server CPU-s | wrk cores " \
          "| other cores |"  # fmt: skip
    yield "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    for p in load["points"]:
        spread = " / ".join(str(c) for c in p.get("connections_per_process", []))
        cores = " / ".join(str(c) for c in p.get("cores_per_process", []))
        yield (f"| {p['database']} | {p['workers']} | {p['clients']} | {p['req_per_s']} | "
               f"{p['p50_ms']} | {p['p95_ms']} | {p['errors']} | {p['server_cores']} | "
               f"{cores} | {spread} | {p['req_per_cpu_s']} | {p['wrk_cores']} | "
               f"{p['other_cores']} |")  # fmt: skip
    yield ""
    yield "| database | clients | 2 workers / 1 worker |"
    yield "|---|---|---|"
    for r in load["ratios"]:
        mark = " (target ≥ 1.6)" if r["clients"] == load["ratio_clients"] else ""
        yield f"| {r['database']} | {r['clients']} | {r['ratio']}{mark} |"
    yield ""
