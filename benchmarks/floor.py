"""The floor of a request: what the framework alone costs to answer it.

Capture the real answer of a request, then serve the same bytes from the same framework and
middleware stack with no work behind them. The floor app is the real app (``web.create_app``:
every middleware, error handler and route) with one FastAPI route per captured path put in
front of the others; that route reads the request body as the real route does, looks the
captured answer up by (query string, body) and sends it back: same status, same headers, same
bytes. Whatever a real request costs above the floor's is the service's own work.

How to use it (``bench_floor.py`` does this for the MAST API)::

    from benchmarks.floor import Ask, capture, compare, served

    asks = [Ask.invoke("Mast.Caom.Cone", {"ra": 283.396, "dec": 33.029, "radius": 1 / 60}),
            Ask.get("/api/v0.1/Download/file?uri=mast:JWST/product/x.fits")]
    with served(home, database_url) as real:                 # the real server, one worker
        exchanges = capture(real.url, asks)                   # its answers, kept byte for byte
        with served(home, database_url, replay=exchanges, work=tmp) as floor:
            for exchange in exchanges:
                figures = compare(real.url, floor.url, exchange)
                # {"real": {"p50_ms", "req_per_s", ...}, "floor": {...},
                #  "latency_ratio": real p50 / floor p50, "throughput_ratio": real / floor}

Both servers are ``python -m benchmarks.serve`` (one uvicorn process, access log off, the
configuration of ``web.server_config``); the floor one gets ``--replay FILE``
(:func:`write_exchanges`). :func:`compare` checks first that the floor answers the very bytes
the real server did, then measures both with ``wrk`` (compiled, so the load generator's own
cost stays small): latency one request at a time (``wrk -c 1``, its median) and throughput at
``connections`` open connections, real and floor in turn, ``rounds`` times; the ratios are
medians of each round's ratio, so a machine busy with other work shows less in them.
"""

from __future__ import annotations

import base64
import json
import statistics
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import httpx
from fastapi import APIRouter, FastAPI, Request, Response

from benchmarks.bench_load import lua_script, process_cpu_seconds, run_wrk
from benchmarks.harness import ServerProcess

if TYPE_CHECKING:
    from skyarchive.archive import Archive

#: Response headers the server writes itself for every answer; the floor's server writes its own.
_SERVER_HEADERS = frozenset({"date", "server", "content-length", "transfer-encoding", "connection"})
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Ask:
    """One request as a client sends it: ``target`` is the path with its query string."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    label: str = ""

    @classmethod
    def invoke(cls, service: str, params: dict, *, label: str = "", **extra: object) -> Ask:
        """``POST /api/v0/invoke`` with ``request=<json>``, url-encoded, as astroquery sends it
        (``extra``: more keys of the request, e.g. ``pagesize``)."""
        request = {"service": service, "params": params, "format": "json", "pagesize": 50000,
                   "page": 1, **extra}  # fmt: skip
        body = ("request=" + quote(json.dumps(request))).encode()
        return cls("POST", "/api/v0/invoke", (("Content-Type", FORM),), body, label or service)

    @classmethod
    def get(cls, target: str, *, label: str = "") -> Ask:
        return cls("GET", target, (), b"", label or target)

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> bytes:
        return self.target.split("?", 1)[1].encode() if "?" in self.target else b""

    def wrk_request(self) -> tuple[str, str, dict[str, str], str]:
        """The request as ``bench_load.lua_script`` takes it (the body must be ASCII)."""
        return (self.method, self.target, dict(self.headers), self.body.decode("ascii"))


@dataclass(frozen=True)
class Exchange:
    """A request and the real server's answer to it: status, headers and every byte."""

    ask: Ask
    status: int
    headers: tuple[tuple[str, str], ...]
    content: bytes = field(repr=False)

    def to_json(self) -> dict:
        ask = self.ask
        return {
            "method": ask.method, "target": ask.target, "request_headers": list(ask.headers),
            "body": base64.b64encode(ask.body).decode(), "label": ask.label,
            "status": self.status, "headers": list(self.headers),
            "content": base64.b64encode(self.content).decode(),
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: dict) -> Exchange:
        ask = Ask(data["method"], data["target"], tuple(map(tuple, data["request_headers"])),
                  base64.b64decode(data["body"]), data["label"])  # fmt: skip
        headers = tuple((name, value) for name, value in data["headers"])
        return cls(ask, data["status"], headers, base64.b64decode(data["content"]))


def capture(url: str, asks: Iterable[Ask]) -> list[Exchange]:
    """The real server's answers to ``asks`` (server-written headers left out).

    Raises RuntimeError for an answer that is not a success, or a MAST ``status: ERROR`` sent
    under 200: a floor of an error would measure the wrong thing.
    """
    exchanges = []
    with httpx.Client(base_url=url, timeout=300) as client:
        for ask in asks:
            response = client.request(
                ask.method, ask.target, headers=dict(ask.headers), content=ask.body or None
            )
            content = response.content
            if response.status_code >= 300 or b'"status": "ERROR"' in content[:200]:
                raise RuntimeError(f"{ask.label}: {response.status_code} {content[:300]!r}")
            headers = tuple(
                (name, value) for name, value in response.headers.multi_items()
                if name.lower() not in _SERVER_HEADERS
            )  # fmt: skip
            exchanges.append(Exchange(ask, response.status_code, headers, content))
    return exchanges


def write_exchanges(exchanges: Sequence[Exchange], path: Path) -> Path:
    path.write_text(json.dumps([e.to_json() for e in exchanges]))
    return path


def read_exchanges(path: Path) -> list[Exchange]:
    return [Exchange.from_json(item) for item in json.loads(path.read_text())]


def floor_app(archive: Archive, exchanges: Sequence[Exchange]) -> FastAPI:
    """The real app with a replaying route in front for each captured (method, path)."""
    from skyarchive.web import create_app

    app = create_app(archive)
    answers: dict[tuple[str, str], dict[tuple[bytes, bytes], Exchange]] = {}
    for exchange in exchanges:
        key = (exchange.ask.method, exchange.ask.path)
        answers.setdefault(key, {})[(exchange.ask.query, exchange.ask.body)] = exchange
    replay = APIRouter()
    for (method, path), by_request in answers.items():
        replay.add_api_route(path, _replaying(by_request), methods=[method],
                             include_in_schema=False)  # fmt: skip
    app.router.routes[:0] = replay.routes  # first: the real route for the path is never reached
    return app


def _replaying(by_request: dict[tuple[bytes, bytes], Exchange]):  # type: ignore[no-untyped-def]
    async def replay(request: Request) -> Response:
        body = await request.body()
        exchange = by_request.get((request.scope["query_string"], body))
        if exchange is None:
            return Response(b"not captured", status_code=404, media_type="text/plain")
        return Response(exchange.content, status_code=exchange.status,
                        headers=dict(exchange.headers))  # fmt: skip

    return replay


@contextmanager
def served(
    home: Path,
    database_url: str | None,
    *,
    replay: Sequence[Exchange] = (),
    work: Path | None = None,
    answer_cache: bool = False,
) -> Iterator[ServerProcess]:
    """The real server over ``home`` (one process), or with ``replay`` its floor: the exchanges
    are written to a file in ``work`` (a temporary directory when not given). The answer cache
    is off unless ``answer_cache``: a repeated request then measures the search itself."""
    with tempfile.TemporaryDirectory(prefix="skyarchive-floor-", dir=work) as tmp:
        replay_file = write_exchanges(replay, Path(tmp) / "exchanges.json") if replay else None
        with ServerProcess(home, database_url, replay=replay_file,
                           answer_cache=answer_cache) as server:  # fmt: skip
            yield server


def same_answers(url: str, exchanges: Sequence[Exchange]) -> None:
    """RuntimeError unless the server at ``url`` answers each request with the captured bytes."""
    for exchange, again in zip(exchanges, capture(url, [e.ask for e in exchanges]), strict=True):
        if again.content != exchange.content or again.status != exchange.status:
            raise RuntimeError(f"{exchange.ask.label}: the floor answers other bytes")


def wrk_figures(
    url: str, ask: Ask, *, connections: int, seconds: float, work: Path, pid: int | None = None
) -> dict:
    """``wrk`` sending ``ask`` over ``connections`` connections for ``seconds``; with the
    server's ``pid``, also the CPU time it spent per request (``cpu_ms``): on a machine busy
    with other work, wall-clock figures swing with the load, CPU per request much less."""
    script = work / f"ask-{abs(hash(ask))}.lua"
    script.write_text(lua_script([ask.wrk_request()]))
    cpu_before = process_cpu_seconds([pid]) if pid else 0.0
    figures = run_wrk(url, script, clients=connections, seconds=seconds)
    cpu = process_cpu_seconds([pid]) - cpu_before if pid else None
    errors = sum(figures[k] for k in ("connect", "read", "write", "status", "timeout"))
    if errors:
        raise RuntimeError(f"{ask.label}: {errors} errors under wrk at {url}: {figures}")
    wall = figures["duration_us"] / 1e6
    per_request = 1000 * cpu / figures["requests"] if cpu and figures["requests"] else None
    return {
        "requests": figures["requests"],
        "req_per_s": round(figures["requests"] / wall, 1),
        "p50_ms": round(figures["p50_us"] / 1000, 3),
        "p95_ms": round(figures["p95_us"] / 1000, 3),
        "cpu_ms": None if per_request is None else round(per_request, 3),
    }


def compare(
    real_url: str,
    floor_url: str,
    exchange: Exchange,
    *,
    connections: int = 16,
    seconds: float = 3.0,
    rounds: int = 3,
    pids: tuple[int, int] | None = None,
) -> dict:
    """The real server beside its floor for one captured request.

    Each round measures, real then floor, the median latency one at a time (``wrk -c 1``)
    and the throughput at ``connections`` connections. ``latency_ratio`` (real / floor, lower
    is better) and ``throughput_ratio`` (real / floor, higher is better) are medians of the
    rounds' ratios; the figures of each side are medians over the rounds. With the servers'
    ``pids`` (real, floor), ``cpu_ratio`` is the real server's CPU time per request at
    ``connections`` over the floor's (lower is better; the inverse of the throughput ratio on
    an otherwise idle machine).
    """
    same_answers(floor_url, [exchange])
    ask = exchange.ask
    sides: dict[str, dict[str, list[float]]] = {"real": {}, "floor": {}}
    with tempfile.TemporaryDirectory(prefix="skyarchive-wrk-") as tmp:
        work = Path(tmp)
        for url in (real_url, floor_url):  # warm-up: caches, pools, statement caches
            wrk_figures(url, ask, connections=2, seconds=1, work=work)
        real_pid, floor_pid = pids or (None, None)
        for _ in range(rounds):
            for side, url, pid in (("real", real_url, real_pid), ("floor", floor_url, floor_pid)):
                one = wrk_figures(url, ask, connections=1, seconds=seconds, work=work)
                many = wrk_figures(url, ask, connections=connections, seconds=seconds, work=work,
                                   pid=pid)  # fmt: skip
                figures = sides[side]
                if many["cpu_ms"] is not None:
                    figures.setdefault("cpu_ms", []).append(many["cpu_ms"])
                figures.setdefault("p50_ms", []).append(one["p50_ms"])
                figures.setdefault("p95_ms", []).append(one["p95_ms"])
                figures.setdefault("req_per_s", []).append(many["req_per_s"])
                figures.setdefault(f"p50_ms_at_{connections}", []).append(many["p50_ms"])
    real, floor = sides["real"], sides["floor"]
    latency = [r / f for r, f in zip(real["p50_ms"], floor["p50_ms"], strict=True)]
    throughput = [r / f for r, f in zip(real["req_per_s"], floor["req_per_s"], strict=True)]
    found = {
        "query": ask.label,
        "bytes": len(exchange.content),
        "connections": connections,
        "seconds": seconds,
        "rounds": rounds,
        "real": {k: round(statistics.median(v), 3) for k, v in real.items()},
        "floor": {k: round(statistics.median(v), 3) for k, v in floor.items()},
        "latency_ratio": round(statistics.median(latency), 2),
        "throughput_ratio": round(statistics.median(throughput), 2),
    }
    if "cpu_ms" in real and "cpu_ms" in floor:
        cpu = [r / f for r, f in zip(real["cpu_ms"], floor["cpu_ms"], strict=True) if f]
        found["cpu_ratio"] = round(statistics.median(cpu), 2) if cpu else None
    return found
