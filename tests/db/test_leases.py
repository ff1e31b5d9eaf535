"""Job leases: one holder at a time, taken over when they run out or their process is gone."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from skyarchive.db import leases
from skyarchive.db.tables import job_leases


def test_one_holder_until_the_lease_runs_out(archive) -> None:  # type: ignore[no-untyped-def]
    engine = archive.engine
    assert leases.take(engine, "staging:a", holder="one", seconds=0.5)
    assert not leases.take(engine, "staging:a", holder="two", seconds=0.5)
    assert leases.take(engine, "staging:a", holder="one", seconds=0.5)  # a renewal
    assert leases.take(engine, "staging:b", holder="two", seconds=0.5)  # another job
    time.sleep(0.7)
    assert leases.take(engine, "staging:a", holder="two", seconds=30)  # ran out: taken over
    assert not leases.take(engine, "staging:a", holder="one", seconds=30)
    leases.give_back(engine, "staging:a", holder="one")  # not its lease any more: no effect
    assert not leases.take(engine, "staging:a", holder="three", seconds=30)
    leases.give_back(engine, "staging:a", holder="two")
    assert leases.take(engine, "staging:a", holder="three", seconds=30)


def test_of_many_at_once_exactly_one_takes_it(archive) -> None:  # type: ignore[no-untyped-def]
    def attempt(n: int) -> bool:
        return leases.take(archive.engine, "periodic:notify", holder=f"h{n}", seconds=30)

    with ThreadPoolExecutor(8) as pool:
        taken = list(pool.map(attempt, range(16)))
    assert taken.count(True) == 1


def test_held_runs_the_block_once_and_gives_the_lease_back(archive) -> None:  # type: ignore[no-untyped-def]
    with leases.held(archive.engine, "periodic:cleanup", seconds=30) as mine:
        assert mine
        with leases.held(archive.engine, "periodic:cleanup", seconds=30) as second:
            assert not second
    with archive.engine.connect() as conn:
        assert conn.scalar(select(job_leases.c.name)) is None


def test_a_dead_process_of_this_host_loses_its_leases(archive) -> None:  # type: ignore[no-untyped-def]
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    host = leases.new_holder().split(":")[0]
    dead, alive = f"{host}:{int(gone.stdout)}:x", leases.new_holder()
    far = f"elsewhere.example.org:{int(gone.stdout)}:y"  # another host: cannot be checked here
    assert leases.take(archive.engine, "staging:dead", holder=dead, seconds=600)
    assert leases.take(archive.engine, "staging:alive", holder=alive, seconds=600)
    assert leases.take(archive.engine, "staging:far", holder=far, seconds=600)
    assert leases.free_orphans(archive.engine) == 1
    assert leases.take(archive.engine, "staging:dead", holder="next", seconds=600)
    assert not leases.take(archive.engine, "staging:alive", holder="next", seconds=600)
    assert not leases.take(archive.engine, "staging:far", holder="next", seconds=600)
