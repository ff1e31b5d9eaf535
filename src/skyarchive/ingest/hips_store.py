"""The archive's HiPS kept in its storage: each build under its own prefix, one pointer to it.

A build (:func:`skyarchive.ingest.hips.build_hips`) is assembled in a local working directory
and then published through the storage seam, file by file, under ``hips/<build>/`` (the same
keys on a local directory, an S3 bucket or memory). The name of the build being served is kept
in ``archive_state`` (``hips_build``) and written only once every file of the build is stored,
so every server process, on any storage, goes from one whole build to the next in one step.
The previous build's files are deleted afterwards, by the list of names stored beside them
(``hips/<build>/files``): the storage interface has no listing, and needs none.

Stale: a HiPS holds the images that were public when it was built. When a program's
exclusive-access period changes so that images of the sky leave the public set
(:func:`mark_stale`, from ``ingest/release.py``), the tiles may show data that are exclusive
again: until the next build the archive serves no HiPS at all (the sky view draws the
footprints on its dark background). Images that became public only make the sky
incomplete: it is served, and the next build adds them.

A build takes minutes, and a period may change while it runs: images it chose as public may be
exclusive again by the time it is published. So the publishing transaction asks again (the
build's ``withdrawn`` callback) and publishes such a build withheld, naming those programs.
It and the period change (:func:`hold_sky`, first in ``set_eap_months``) hold one lock, so
either the change sees the new build's programs and withholds it, or the build sees the
changed release dates: never neither.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine

from skyarchive.db.state import read_state, write_state
from skyarchive.db.subject_locks import serialise_subjects
from skyarchive.errors import NotFound
from skyarchive.sky.hips_tiles import parse_properties
from skyarchive.storage import Storage

PREFIX = "hips"
#: ``archive_state`` names: the build served, and why it may not be (JSON, see mark_stale).
BUILD_STATE = "hips_build"
STALE_STATE = "hips_stale"
PROGRAMS_STATE = "hips_programs"  # the programs whose images the served build is made of
_FILE_LIST = "files"
_SKY_SUBJECT = "hips-sky"  # the lock a publication and a release change both hold


@dataclass(frozen=True)
class HipsFile:
    """One file of the served build: its storage key, size, and path when on local disk."""

    name: str
    build: str
    key: str
    size: int
    local_path: Path | None


def _key(build: str, name: str) -> str:
    return f"{PREFIX}/{build}/{name}"


def hold_sky(conn: Connection) -> None:
    """Hold the sky's lock until ``conn``'s transaction ends: a change of release dates that
    may take images out of the sky takes it first, as publishing a build does."""
    serialise_subjects(conn, [_SKY_SUBJECT])


def publish(
    engine: Engine,
    storage: Storage,
    directory: Path,
    *,
    programs: Iterable[str] = (),
    withdrawn: Callable[[Connection], list[str]] = lambda _conn: [],
) -> str:
    """Store every file of the built HiPS in ``directory``, then serve it; returns its name.

    ``withdrawn`` names the programs of which an image the build used is no longer public,
    asked under the sky's lock: the build is then published withheld (stale, naming them);
    otherwise publishing clears the stale mark. The former build's files are deleted once the
    new one is served.
    """
    build = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{os.getpid()}"
    names = sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file())
    for name in names:
        storage.put_file(_key(build, name), directory / name)
    listing = directory / _FILE_LIST  # written after the names were taken: not one of them
    listing.write_text("\n".join(names) + "\n", encoding="utf-8")
    storage.put_file(_key(build, _FILE_LIST), listing)
    with engine.begin() as conn:
        hold_sky(conn)
        gone = sorted(withdrawn(conn))
        former = read_state(conn, BUILD_STATE)
        write_state(conn, BUILD_STATE, build, now=time.time())
        write_state(conn, PROGRAMS_STATE, json.dumps(sorted(programs)), now=time.time())
        stale = json.dumps({"programs": gone[:20]}) if gone else ""
        write_state(conn, STALE_STATE, stale, now=time.time())
    if former and former != build:
        _delete_build(storage, former)
    return build


def _delete_build(storage: Storage, build: str) -> None:
    try:
        names = b"".join(storage.open_range(_key(build, _FILE_LIST))).decode().split()
    except NotFound:
        return
    for name in names:
        storage.delete(_key(build, name))
    storage.delete(_key(build, _FILE_LIST))


def served_build(engine: Engine) -> str | None:
    """The build the archive serves now: None before the first build and while stale."""
    with engine.connect() as conn:
        build = read_state(conn, BUILD_STATE)
        stale = read_state(conn, STALE_STATE)
    return None if not build or stale else build


def stale_reason(engine: Engine) -> str | None:
    """Why the HiPS is withheld (programs whose images left the public set), else None."""
    with engine.connect() as conn:
        stale = read_state(conn, STALE_STATE)
    if not stale:
        return None
    programs = json.loads(stale).get("programs", [])
    return f"images of program {', '.join(programs)} are no longer public"


def in_sky(conn: Connection, program: str) -> bool:
    """Whether images of ``program`` are in the HiPS built last: only then can a change of its
    period take images out of the sky (a build made before this rule recorded no programs and
    counts every program as in it)."""
    if not read_state(conn, BUILD_STATE):
        return False
    recorded = read_state(conn, PROGRAMS_STATE)
    return recorded is None or program in json.loads(recorded)


def mark_stale(conn: Connection, programs: list[str]) -> None:
    """Withhold the HiPS until the next build: images of ``programs`` left the public set."""
    found = read_state(conn, STALE_STATE)
    already = json.loads(found).get("programs", []) if found else []
    listed = sorted({*already, *programs})
    write_state(conn, STALE_STATE, json.dumps({"programs": listed[:20]}), now=time.time())


def hips_file(engine: Engine, storage: Storage, name: str) -> HipsFile | None:
    """The served build's file ``name`` (a path already checked against the HiPS names), or
    None when there is no such file or no HiPS is served."""
    build = served_build(engine)
    if build is None:
        return None
    key = _key(build, name)
    try:
        size = storage.size(key)
        local = storage.local_path(key)
    except NotFound:
        return None
    return HipsFile(name, build, key, size, local)


def read_hips_file(engine: Engine, storage: Storage, name: str) -> bytes | None:
    """The bytes of the served build's file ``name`` (small files: properties, tiles)."""
    found = hips_file(engine, storage, name)
    return None if found is None else b"".join(storage.open_range(found.key))


def hips_properties(engine: Engine, storage: Storage) -> dict[str, str] | None:
    """The served HiPS's ``properties`` as a dict, or None when none is served."""
    raw = read_hips_file(engine, storage, "properties")
    if raw is None:
        return None
    return parse_properties(raw.decode("utf-8"))


def hips_names(engine: Engine, storage: Storage) -> list[str]:
    """Every file name of the served build (``properties``, ``Norder3/Allsky.png``, tiles)."""
    raw = read_hips_file(engine, storage, _FILE_LIST)
    return raw.decode("utf-8").split() if raw else []
