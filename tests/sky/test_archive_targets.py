"""The archive's own target names (the resolver chain's first): read once, as the server starts
or else before the first lookup, then refreshed in the background when the catalogue has
changed, never in a lookup; each lookup notes the generation of the index it answered from."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy import Connection, create_engine, select

from skyarchive.archive import Archive
from skyarchive.db.catalogue_generation import CopiesRead, noting_copies_read, read_generation
from skyarchive.db.tables import observations
from skyarchive.sky.resolver import normalise_name
from skyarchive.sky.targets import ArchiveTargets, Index
from skyarchive.web import create_app
from tests.catalogue_edits import change_first_observations
from tests.e2e.conftest import LiveServer

NEW_NAME = "Brand New Nebula"
NEW_KEY = normalise_name(NEW_NAME)
WAIT = 30.0  # seconds a test waits at most for another thread (a busy machine is slow)


def counting_loads(targets: ArchiveTargets) -> list[Index]:
    """The indexes ``targets`` reads from now on, one entry per read."""
    loads: list[Index] = []
    real = targets._load

    def load(conn: Connection) -> Index:
        index = real(conn)
        loads.append(index)
        return index

    targets._load = load  # type: ignore[method-assign]
    return loads


def a_known_name(archive: Archive) -> str:
    """A name the index holds that stays when the tests rename the first observation's."""
    obs = observations.c
    with archive.engine.connect() as conn:
        names = ArchiveTargets(archive.engine)._load(conn)
        first = conn.execute(select(obs.target_name).order_by(obs.obsid).limit(1)).scalar_one()
    renamed = normalise_name(first or "")
    return next(key for key in sorted(names) if key not in (NEW_KEY, renamed))


def slowed_loads(targets: ArchiveTargets) -> tuple[threading.Event, threading.Event]:
    """From now on each index read of ``targets`` sets the first event once begun and waits
    for the second before it goes on."""
    started, release = threading.Event(), threading.Event()
    real: Callable[[Connection], Index] = targets._load

    def slow_load(conn: Connection) -> Index:
        started.set()
        assert release.wait(WAIT), "the test never let the load end"
        return real(conn)

    targets._load = slow_load  # type: ignore[method-assign]
    return started, release


def refreshing_targets(archive: Archive) -> tuple[ArchiveTargets, str]:
    """Targets that find their index due at every lookup (no interval), not yet loaded, and a
    name their index will hold."""
    return ArchiveTargets(archive.search_engine, refresh_seconds=0), a_known_name(archive)


def test_a_lookup_during_a_slow_refresh_answers_at_once_from_the_old_index(
    demo_archive_copy: Archive,
) -> None:
    archive = demo_archive_copy
    targets, known = refreshing_targets(archive)
    assert targets.lookup(known) is not None  # the first load, in the lookup
    assert targets.lookup(NEW_KEY) is None
    targets.wait_for_refresh(WAIT)  # that lookup found the index due; nothing changed yet

    started, release = slowed_loads(targets)
    change_first_observations(archive, {"target_name": NEW_NAME})
    try:
        assert targets.lookup(NEW_KEY) is None  # starts the refresh, answers from the old index
        assert started.wait(WAIT)
        # the refresh is stuck in its load: lookups answer at once, from the old index
        answered = threading.Event()
        found: list[object] = []

        def look_up() -> None:
            found.extend([targets.lookup(known), targets.lookup(NEW_KEY)])
            answered.set()

        threading.Thread(target=look_up, daemon=True).start()
        assert answered.wait(WAIT)
        assert found[0] is not None and found[1] is None
    finally:
        release.set()
    targets.wait_for_refresh(WAIT)
    hit = targets.lookup(NEW_KEY)
    assert hit is not None and hit[2] == NEW_NAME


def test_a_new_target_is_found_after_the_interval_and_nothing_is_read_while_unchanged(
    demo_archive_copy: Archive,
) -> None:
    archive = demo_archive_copy
    targets, known = refreshing_targets(archive)
    loads = counting_loads(targets)
    assert targets.lookup(known) is not None
    assert len(loads) == 1
    for _ in range(3):  # each lookup finds the index due; the catalogue has not changed
        assert targets.lookup(NEW_KEY) is None
        targets.wait_for_refresh(WAIT)
    assert len(loads) == 1

    change_first_observations(archive, {"target_name": NEW_NAME})
    targets.lookup(NEW_KEY)  # the refresh starts
    targets.wait_for_refresh(WAIT)
    assert len(loads) == 2
    hit = targets.lookup(NEW_KEY)
    assert hit is not None and hit[2] == NEW_NAME
    targets.wait_for_refresh(WAIT)
    assert len(loads) == 2


def test_within_the_interval_a_lookup_starts_no_refresh(demo_archive_copy: Archive) -> None:
    targets = ArchiveTargets(demo_archive_copy.search_engine, refresh_seconds=3600)
    loads = counting_loads(targets)
    change = {"target_name": NEW_NAME}
    assert targets.lookup(NEW_KEY) is None
    change_first_observations(demo_archive_copy, change)
    assert targets.lookup(NEW_KEY) is None
    assert targets._refresh_thread is None
    assert len(loads) == 1


def test_a_failed_refresh_keeps_the_old_index_and_is_logged_once(
    demo_archive_copy: Archive, caplog: pytest.LogCaptureFixture
) -> None:
    archive = demo_archive_copy
    targets, known = refreshing_targets(archive)
    before = targets.lookup(known)
    assert before is not None
    targets.wait_for_refresh(WAIT)

    change_first_observations(archive, {"target_name": NEW_NAME})
    gone = create_engine("sqlite:////nonexistent-folder/archive.db")  # the database gone
    targets.engine = gone
    caplog.set_level(logging.INFO, logger="skyarchive.sky.targets")
    try:
        for _ in range(3):
            assert targets.lookup(known) == before  # never raised into the lookup
            targets.wait_for_refresh(WAIT)
    finally:
        targets.engine = archive.search_engine
        gone.dispose()
    failures = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(failures) == 1, [r.getMessage() for r in caplog.records]
    assert "target names" in failures[0].getMessage()
    assert targets.lookup(NEW_KEY) is None  # still the old index; the database back, this
    targets.wait_for_refresh(WAIT)  # lookup's refresh reads the change
    hit = targets.lookup(NEW_KEY)
    assert hit is not None and hit[2] == NEW_NAME
    assert any("refreshed again" in r.getMessage() for r in caplog.records)


def test_the_archive_resolver_reads_its_names_on_the_search_engine(
    demo_archive_copy: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("skyarchive.sky.targets._REFRESH_SECONDS", 0.0)
    archive = demo_archive_copy
    chain = archive.resolver
    (lookup,) = [r for r in chain.resolvers if r.name == "ARCHIVE"]
    targets = lookup._lookup.__self__  # type: ignore[attr-defined]
    assert isinstance(targets, ArchiveTargets)
    assert targets.engine is archive.search_engine
    assert "ARCHIVE" not in [hit.resolver for hit in chain.resolve_all(NEW_NAME)]
    change_first_observations(archive, {"target_name": NEW_NAME})
    targets.wait_for_refresh(WAIT)
    chain.resolve_all(NEW_NAME)  # the interval (none here) has passed: the refresh starts
    targets.wait_for_refresh(WAIT)
    assert chain.resolve(NEW_NAME).resolver == "ARCHIVE"


def current_generation(archive: Archive) -> int:
    with archive.engine.connect() as conn:
        generation = read_generation(conn)
    assert generation is not None
    return generation


def test_each_lookup_notes_the_generation_its_index_was_read_at(
    demo_archive_copy: Archive,
) -> None:
    archive = demo_archive_copy
    targets = ArchiveTargets(archive.search_engine, refresh_seconds=3600)
    known = a_known_name(archive)
    before = current_generation(archive)
    assert targets.lookup(NEW_KEY) is None  # outside any answer: nothing is noted
    with noting_copies_read(CopiesRead()) as read:
        assert targets.lookup(known) is not None
    assert read.oldest == before and read.as_new_as(before)

    change_first_observations(archive, {"target_name": NEW_NAME})
    after = current_generation(archive)
    assert after > before
    with noting_copies_read(CopiesRead()) as read:
        assert targets.lookup(NEW_KEY) is None  # within the interval: the index read before
    assert read.oldest == before and not read.as_new_as(after)


def test_a_lookup_during_the_load_begun_at_start_waits_for_that_load(
    demo_archive_copy: Archive,
) -> None:
    archive = demo_archive_copy
    known = a_known_name(archive)
    targets = ArchiveTargets(archive.search_engine, refresh_seconds=3600)
    loads = counting_loads(targets)
    started, release = slowed_loads(targets)
    targets.start_loading()
    answered = threading.Event()
    found: list[object] = []
    try:
        assert started.wait(WAIT)
        targets.start_loading()  # a second start while loading starts nothing

        def look_up() -> None:
            found.append(targets.lookup(known))
            answered.set()

        threading.Thread(target=look_up, daemon=True).start()
        assert not answered.wait(0.3), "the lookup answered before the index was read"
    finally:
        release.set()
    assert answered.wait(WAIT)
    targets.wait_for_load(WAIT)
    assert found[0] is not None
    assert len(loads) == 1  # the lookup read nothing itself
    assert targets.generation == current_generation(archive)


@contextmanager
def started_server(archive: Archive) -> Iterator[httpx.Client]:
    """A client of a server over ``archive`` that starts up as a deployed one does."""
    with (
        LiveServer(archive, lifespan="on") as server,
        httpx.Client(base_url=server.url, timeout=WAIT) as client,
    ):
        yield client


def test_the_server_reads_the_names_as_it_starts(demo_archive_copy: Archive) -> None:
    archive = demo_archive_copy
    known = a_known_name(archive)
    loads = counting_loads(archive.target_names)
    create_app(archive)
    assert loads == []  # making the app reads nothing (benchmarks, the CLI's commands)
    with started_server(archive) as client:
        archive.target_names.wait_for_load(WAIT)
        assert len(loads) == 1 and known in loads[0]
        answer = client.post("/api/portal/search", json={"text": known})
        assert answer.status_code == 200, answer.text
        assert answer.json()["query"]["position"]["resolver"] == "ARCHIVE"
        assert len(loads) == 1  # the search read nothing itself


def test_a_server_starts_with_its_database_down_and_reads_the_names_later(
    demo_archive_copy: Archive, caplog: pytest.LogCaptureFixture
) -> None:
    archive = demo_archive_copy
    known = a_known_name(archive)
    targets = archive.target_names
    gone = create_engine("sqlite:////nonexistent-folder/archive.db")
    targets.engine = gone
    targets_log = "skyarchive.sky.targets"
    caplog.set_level(logging.WARNING, logger=targets_log)
    try:
        with started_server(archive) as client:
            targets.wait_for_load(WAIT)
            assert client.get("/api/").status_code == 200  # started and answering
            failures = [r.getMessage() for r in caplog.records if r.name == targets_log]
            assert len(failures) == 1 and "target names" in failures[0]
            targets.engine = archive.search_engine  # the database is back
            answer = client.post("/api/portal/search", json={"text": known})
    finally:
        targets.engine = archive.search_engine
        gone.dispose()
    assert answer.status_code == 200, answer.text
    assert answer.json()["query"]["position"]["resolver"] == "ARCHIVE"


class FakeWatch:
    """A generation watch told by the test what it knows (None: it cannot tell)."""

    def __init__(self, generation: int | None = None) -> None:
        self.known = generation
        self.asked = 0

    def generation(self) -> int | None:
        self.asked += 1
        return self.known

    def close(self) -> None:
        self.known = None


def watched_targets(archive: Archive) -> tuple[ArchiveTargets, FakeWatch, str]:
    """Targets whose interval never passes, loaded, with a watch that knows the generation of
    their index; and a name their index holds."""
    watch = FakeWatch(current_generation(archive))
    targets = ArchiveTargets(archive.search_engine, refresh_seconds=3600, watch=watch)
    known = a_known_name(archive)
    assert targets.lookup(known) is not None
    return targets, watch, known


def test_a_lookup_starts_the_refresh_as_soon_as_the_watch_tells_of_a_write(
    demo_archive_copy: Archive,
) -> None:
    archive = demo_archive_copy
    targets, watch, _known = watched_targets(archive)
    loads = counting_loads(targets)
    assert targets.lookup(NEW_KEY) is None
    assert targets._refresh_thread is None  # the watch knows the index's generation
    change_first_observations(archive, {"target_name": NEW_NAME})
    assert targets.lookup(NEW_KEY) is None
    assert targets._refresh_thread is None  # written, but the watch has not told yet
    watch.known = current_generation(archive)
    assert targets.lookup(NEW_KEY) is None  # answers from the old index, starts the refresh
    targets.wait_for_refresh(WAIT)
    assert len(loads) == 1
    hit = targets.lookup(NEW_KEY)
    assert hit is not None and hit[2] == NEW_NAME
    assert targets.generation == watch.known
    targets.wait_for_refresh(WAIT)
    assert len(loads) == 1  # caught up: no more reads


def test_a_watch_that_cannot_tell_leaves_the_interval_to_decide(
    demo_archive_copy: Archive,
) -> None:
    archive = demo_archive_copy
    targets, watch, _known = watched_targets(archive)
    change_first_observations(archive, {"target_name": NEW_NAME})
    watch.known = None  # e.g. the listener reconnecting
    assert targets.lookup(NEW_KEY) is None
    assert watch.asked > 0 and targets._refresh_thread is None
    targets.refresh_seconds = 0  # the interval passes
    assert targets.lookup(NEW_KEY) is None
    targets.wait_for_refresh(WAIT)
    hit = targets.lookup(NEW_KEY)
    assert hit is not None and hit[2] == NEW_NAME


def test_during_a_burst_of_writes_one_refresh_runs_and_the_last_write_is_caught_up(
    demo_archive_copy: Archive,
) -> None:
    archive = demo_archive_copy
    targets, watch, known = watched_targets(archive)
    loads = counting_loads(targets)
    started, release = slowed_loads(targets)
    change_first_observations(archive, {"target_name": "First Rename"})
    watch.known = current_generation(archive)
    try:
        assert targets.lookup(known) is not None  # starts the refresh
        assert started.wait(WAIT)
        first_refresh = targets._refresh_thread
        for n in range(3):  # more writes while it reads: told, yet no second refresh
            change_first_observations(archive, {"target_name": f"Rename {n}"})
            watch.known = current_generation(archive)
            assert targets.lookup(known) is not None
            assert targets._refresh_thread is first_refresh
    finally:
        release.set()
    targets.wait_for_refresh(WAIT)
    assert len(loads) == 1
    assert targets.generation is not None and targets.generation < watch.known
    change_first_observations(archive, {"target_name": NEW_NAME})
    watch.known = current_generation(archive)
    targets.lookup(known)  # behind the watch: the next refresh starts
    targets.wait_for_refresh(WAIT)
    assert len(loads) == 2 and targets.generation == watch.known
    hit = targets.lookup(NEW_KEY)
    assert hit is not None and hit[2] == NEW_NAME


def test_after_a_failed_refresh_the_watch_does_not_hasten_the_next(
    demo_archive_copy: Archive,
) -> None:
    archive = demo_archive_copy
    targets, watch, known = watched_targets(archive)
    change_first_observations(archive, {"target_name": NEW_NAME})
    watch.known = current_generation(archive)
    gone = create_engine("sqlite:////nonexistent-folder/archive.db")
    targets.engine = gone
    try:
        assert targets.lookup(known) is not None  # starts a refresh, which fails
        targets.wait_for_refresh(WAIT)
        failed = targets._refresh_thread
        for _ in range(3):  # the database is not asked again within the interval
            assert targets.lookup(known) is not None
            assert targets._refresh_thread is failed
    finally:
        targets.engine = archive.search_engine
        gone.dispose()


def test_the_archive_names_learn_of_writes_from_the_archive_s_one_watch(
    demo_archive_copy: Archive,
) -> None:
    archive = demo_archive_copy
    watch = archive.generation_watch()
    assert watch is not None  # SQLite: data_version; PostgreSQL: the listener
    assert archive.target_names.watch is watch
    assert archive.generation_watch() is watch  # made once
    known = a_known_name(archive)
    assert archive.target_names.lookup(known) is not None
    change_first_observations(archive, {"target_name": NEW_NAME})
    deadline = time.monotonic() + WAIT
    while (hit := archive.target_names.lookup(NEW_KEY)) is None and time.monotonic() < deadline:
        time.sleep(0.02)  # no interval passes here (a minute): the watch alone starts it
    assert hit is not None and hit[2] == NEW_NAME
    archive.close()
    assert archive.generation_watch() is None  # closed: not made again
    assert watch.generation() is None
