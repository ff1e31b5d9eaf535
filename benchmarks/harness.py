"""What the benchmark sections share: the machine's description, scratch PostgreSQL databases,
the server in its own process, bare SQL on the same database, free ports and peak-RSS resets.

Sections import from here (never from ``run``, which imports every section).
"""

from __future__ import annotations

import contextlib
import os
import platform
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

PG_ADMIN_URL = os.environ.get(
    "SKYARCHIVE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def verdict(met: bool | None) -> str:
    """A report's "met?" cell: yes, **no** (bold, to stand out), or n/a where no target applies."""
    return "n/a" if met is None else ("yes" if met else "**no**")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def reset_peak(pid: int) -> bool:
    """Set the process's peak RSS (VmHWM) back to its current RSS; False when not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    with contextlib.suppress(OSError):
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split(":", 1)[1].strip()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }


def postgres_available() -> str | None:
    """None when PostgreSQL answers, else the reason it is skipped."""
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            pass
        engine = create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001  (any failure means: skip with the reason)
        return f"PostgreSQL unreachable at {PG_ADMIN_URL} ({type(exc).__name__})"
    return None


class ScratchPostgres:
    """A database of our own, dropped afterwards."""

    def __init__(self) -> None:
        self.name = f"skyarchive_bench_{uuid.uuid4().hex[:8]}"
        self.admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + self.name

    def __enter__(self) -> str:
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        return self.url

    def __exit__(self, *exc: object) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


class ServerProcess:
    """``benchmarks.serve`` in its own process; ``replay``: the floor of the captured answers in
    that file instead (benchmarks/floor.py)."""

    def __init__(
        self,
        home: Path,
        database_url: str | None,
        replay: Path | None = None,
        *,
        answer_cache: bool = False,
    ) -> None:
        """``answer_cache``: let the server keep answers (off by default, so that repeated
        requests measure the searches themselves, not the cache)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "benchmarks.serve", "--home", str(home),
                   "--port", str(self.port)]  # fmt: skip
        if database_url:
            command += ["--database-url", database_url]
        if replay is not None:
            command += ["--replay", str(replay)]
        self.command = command
        self.env = {**os.environ, "SKYARCHIVE_ANSWER_CACHE": "true" if answer_cache else "false"}

    def __enter__(self) -> ServerProcess:
        root = Path(__file__).resolve().parent.parent
        self.process = subprocess.Popen(self.command, cwd=root, env=self.env)
        deadline = time.monotonic() + 180  # imports take long on a machine busy with others
        while True:
            try:
                httpx.get(self.url + "/whoami", timeout=1).raise_for_status()
                return self
            except httpx.HTTPError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.process.kill()
                    raise RuntimeError("benchmark server did not start") from None
                time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def memory_kb(self) -> dict[str, int]:
        values = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
        return values

    def reset_peak(self) -> bool:
        return reset_peak(self.process.pid)


class BareSql:
    """The same queries on the DBAPI connection of the same database (fetch every row)."""

    def __init__(self, database_url: str | None, home: Path) -> None:
        url = database_url or f"sqlite:///{(home / 'archive.db').resolve()}"
        self.engine = create_engine(url)
        self.paramstyle = "?" if url.startswith("sqlite") else "%s"

    def time(self, sql: str, params: tuple) -> tuple[float, int]:
        sql = sql.replace("?", self.paramstyle)
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            began = time.perf_counter()
            cursor.execute(sql, params)
            rows = cursor.fetchall()
            elapsed = (time.perf_counter() - began) * 1000
            cursor.close()
        finally:
            raw.close()
        return elapsed, len(rows)
