"""File-level events for subscriptions: New, First, Reprocessed and Public.

Events are written in the same transaction as what caused them, and only for programs someone
follows (an event older than every subscription would never be sent):

* ingest, per committed batch of pipeline files and per manifest (:func:`record_batch_events`):
  New for files archived for the first time, First as well when they are the program's first
  files of that mission, Reprocessed for newer versions that replaced a file. Unchanged or
  older files make no event.
* ingest, after release dates are set (:func:`record_arrivals`): Public for new files that are
  already public when they arrive (a waived or ended exclusive-access period).
* a release date passing (:func:`record_due_releases`, run by the worker): Public for files
  whose release date lies between the last check (a watermark in ``notification_state``) and now.
* an operator changing the period (:func:`record_release_changes`, from ``set_eap_months``):
  Public for files that were exclusive before the change and are public after it.

A file version gives one event per kind at most (unique kind, filename, version), so the paths
above may overlap without sending a file twice.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Connection, and_, func, select, update

from skyarchive.db.tables import (
    notification_events,
    notification_state,
    observations,
    products,
    subscriptions,
)
from skyarchive.db.upsert import insert_ignore
from skyarchive.errors import IngestError
from skyarchive.notify.subscriptions import (
    COLLECTIONS,
    FIRST,
    NEW,
    PUBLIC,
    REPROCESSED,
    subscribed_programs,
)
from skyarchive.products.naming import Kind, parse_filename

RELEASE_CHECK = "release_check"
_UNIX_EPOCH_MJD = 40587.0
_EXPOSURE_SET = re.compile(r"^(jw\d{11}_\d{5}_\d{5})")


def fileset_of(filename: str, collection: str, obs_id: str | None = None) -> str:
    """MAST's file set of a file: ``jw05105001001_02201_00001`` for an exposure's files (no
    segment or detector), ``jw01191-o018_t002_miri`` for stage-3 files, the name without its
    suffix for association, pool, guide-star and MSA files; the observation ID elsewhere."""
    if collection == "JWST":
        try:
            name = parse_filename(filename)
        except IngestError:
            name = None
        if name is not None:
            if name.kind is Kind.EXPOSURE and (m := _EXPOSURE_SET.match(filename)):
                return m[1]
            if name.kind is Kind.LEVEL3 and name.obs_id:
                return "_".join(name.obs_id.split("_")[:3])
            stem = filename.rpartition(".")[0].removesuffix("_thumb")
            return stem.rpartition("_")[0] or stem
    return obs_id or filename.rpartition(".")[0] or filename


def iso_from_mjd(mjd: float | None) -> str | None:
    if mjd is None:
        return None
    moment = datetime.fromtimestamp((mjd - _UNIX_EPOCH_MJD) * 86400.0, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def iso_archived(value: str | None, fallback: float) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmm`` (UTC) of a stored ISO time, else of the Unix time given."""
    moment = None
    if value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
    if moment is None:
        moment = datetime.fromtimestamp(fallback, UTC)
    elif moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


class IngestedBatch(Protocol):
    """What notify needs of an ingest batch (``ingest.catalog.BatchOutcome`` is one): notify
    sits below ingest, so it names the shape instead of importing it."""

    added: list[str]
    replaced: list[str]
    programs: set[str]
    executed_plans: dict[str, str]


def record_batch_events(
    conn: Connection, outcome: IngestedBatch, *, now: float | None = None
) -> int:
    """New / First / Reprocessed events of one committed ingest batch; returns how many."""
    changed = {name: NEW for name in outcome.added} | {
        name: REPROCESSED for name in outcome.replaced
    }
    if not changed:
        return 0
    followed = {
        (collection, program)
        for collection in COLLECTIONS
        for program in subscribed_programs(conn, collection, outcome.programs)
    }
    if not followed:
        return 0
    now = time.time() if now is None else now
    rows = [
        r for r in _product_rows(conn, list(changed))
        if (r["obs_collection"], r["proposal_id"]) in followed
    ]  # fmt: skip
    events: list[dict[str, Any]] = []
    for row in rows:
        event = _event(row, changed[row["productFilename"]], row["sha256"], now)
        if event["kind"] == NEW:  # the plan its observation carried out, if it did in this batch
            event["planned_obs_id"] = outcome.executed_plans.get(row.get("obs_id") or "")
        events.append(event)
    for collection, program in {(r["obs_collection"], r["proposal_id"]) for r in rows}:
        new_here = [
            r for r in rows
            if (r["obs_collection"], r["proposal_id"]) == (collection, program)
            and changed[r["productFilename"]] == NEW
        ]  # fmt: skip
        held = conn.scalar(
            select(func.count())
            .select_from(products)
            .where(products.c.proposal_id == program, products.c.obs_collection == collection)
        )
        if new_here and held == len(new_here):  # nothing of the program was here before
            events += [_event(r, FIRST, r["sha256"], now) for r in new_here]
    insert_ignore(conn, notification_events, events)
    return len(events)


def record_arrivals(conn: Connection, programs: Iterable[str], *, now: float | None = None) -> int:
    """Public events for new files of ``programs`` that are public on arrival; returns how many.

    Runs after ingest has set release dates. New events are checked once; a file still under
    exclusive access is left to the release-date check.
    """
    wanted = sorted(set(programs))
    if not wanted:
        return 0
    now = time.time() if now is None else now
    unchecked = and_(
        notification_events.c.kind == NEW,
        notification_events.c.arrival_checked.is_(False),
        notification_events.c.proposal_id.in_(wanted),
    )
    names = list(conn.scalars(select(notification_events.c.filename).where(unchecked)))
    if not names:
        return 0
    today = _mjd(now)
    rows = [
        r for r in _product_rows(conn, names)
        if r["t_obs_release"] is not None and r["t_obs_release"] <= today
    ]  # fmt: skip
    events = [_event(r, PUBLIC, _release_key(r["t_obs_release"]), now) for r in rows]
    insert_ignore(conn, notification_events, events)
    conn.execute(update(notification_events).where(unchecked).values(arrival_checked=True))
    return len(events)


def release_snapshot(conn: Connection, proposal_id: str) -> dict[int, float | None]:
    """Release date of each observation of a program (taken before changing its period)."""
    rows = conn.execute(
        select(observations.c.obsid, observations.c.t_obs_release).where(
            observations.c.proposal_id == str(proposal_id)
        )
    )
    return {int(obsid): release for obsid, release in rows}


@dataclass(frozen=True)
class Opened:
    """What a changed release date did: files it made public, Public events it recorded."""

    files: int
    events: int


def record_release_changes(
    conn: Connection,
    proposal_id: str,
    before: dict[int, float | None],
    *,
    now: float | None = None,
) -> Opened:
    """Public events for a program's files that a changed release date has just made public."""
    now = time.time() if now is None else now
    today = _mjd(now)
    opened = [
        obsid for obsid, release in release_snapshot(conn, proposal_id).items()
        if release is not None and release <= today
        and (before.get(obsid) is None or before[obsid] > today)  # type: ignore[operator]
    ]  # fmt: skip
    files = 0
    events: list[dict[str, Any]] = []
    for start in range(0, len(opened), 500):
        rows = _product_rows(conn, None, owners=opened[start : start + 500])
        files += len(rows)
        for collection in {r["obs_collection"] for r in rows}:
            if not subscribed_programs(conn, collection, [str(proposal_id)]):
                continue
            events += [
                _event(r, PUBLIC, _release_key(r["t_obs_release"]), now)
                for r in rows
                if r["obs_collection"] == collection
            ]
    return Opened(files, _insert_counted(conn, events))


def release_watermark(conn: Connection) -> float | None:
    """Unix time of the last release-date check (None before the first)."""
    return conn.scalar(
        select(notification_state.c.value).where(notification_state.c.name == RELEASE_CHECK)
    )


def count_released_files(conn: Connection, *, since: float, until: float) -> int:
    """Archived files (of every program, followed or not) whose release date lies in
    (``since``, ``until``] (Unix times): the files that became public in between."""
    owner = observations.alias("owner")
    return int(
        conn.scalar(
            select(func.count())
            .select_from(products.join(owner, owner.c.obsid == products.c.owner_obsid))
            .where(owner.c.t_obs_release > _mjd(since), owner.c.t_obs_release <= _mjd(until))
        )
        or 0
    )


def _insert_counted(conn: Connection, events: list[dict[str, Any]]) -> int:
    """Insert events unless already there (one per kind and file version); how many were new."""
    if not events:
        return 0
    ids = [e["event_id"] for e in events]
    insert_ignore(conn, notification_events, events)
    stored = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        stored += conn.scalar(
            select(func.count())
            .select_from(notification_events)
            .where(notification_events.c.event_id.in_(chunk))
        ) or 0  # fmt: skip
    return stored


def record_due_releases(conn: Connection, *, now: float | None = None) -> int:
    """Public events for followed files whose release date passed since the last check."""
    now = time.time() if now is None else now
    last = release_watermark(conn)
    if last is None:  # first check: releases before it are history
        insert_ignore(conn, notification_state, [{"name": RELEASE_CHECK, "value": now}])
        return 0
    if now <= last:
        return 0
    followed = conn.execute(
        select(subscriptions.c.obs_collection, subscriptions.c.proposal_id).distinct()
    ).all()
    by_collection: dict[str, list[str]] = {}
    for collection, program in followed:
        by_collection.setdefault(collection, []).append(program)
    owner = observations.alias("owner")
    events: list[dict[str, Any]] = []
    for collection, programs in by_collection.items():
        query = (
            _product_query(owner)
            .where(
                products.c.obs_collection == collection,
                products.c.proposal_id.in_(programs),
                owner.c.t_obs_release > _mjd(last),
                owner.c.t_obs_release <= _mjd(now),
            )
        )  # fmt: skip
        for row in conn.execute(query).mappings():
            events.append(_event(dict(row), PUBLIC, _release_key(row["t_obs_release"]), now))
    recorded = _insert_counted(conn, events)
    conn.execute(
        update(notification_state)
        .where(notification_state.c.name == RELEASE_CHECK)
        .values(value=now)
    )
    return recorded


def _product_query(owner):  # type: ignore[no-untyped-def]
    return select(
        products.c.productFilename,
        products.c.proposal_id,
        products.c.obs_collection,
        products.c.sha256,
        products.c.ingested_at,
        owner.c.obs_id,
        owner.c.t_obs_release,
    ).outerjoin(owner, owner.c.obsid == products.c.owner_obsid)


def _product_rows(
    conn: Connection, filenames: list[str] | None, *, owners: list[int] | None = None
) -> list[dict[str, Any]]:
    owner = observations.alias("owner")
    found: list[dict[str, Any]] = []
    if owners is not None:
        query = _product_query(owner).where(products.c.owner_obsid.in_(owners))
        return [dict(r) for r in conn.execute(query).mappings()]
    for start in range(0, len(filenames or []), 500):
        chunk = (filenames or [])[start : start + 500]
        query = _product_query(owner).where(products.c.productFilename.in_(chunk))
        found += [dict(r) for r in conn.execute(query).mappings()]
    return found


def _event(row: dict[str, Any], kind: str, version: str, now: float) -> dict[str, Any]:
    filename = row["productFilename"]
    return {
        "event_id": str(uuid.uuid4()),
        "obs_collection": row["obs_collection"],
        "proposal_id": row["proposal_id"],
        "kind": kind,
        "filename": filename,
        "fileset": fileset_of(filename, row["obs_collection"], row.get("obs_id"))[:200],
        "version": version,
        "archived_date": iso_archived(row.get("ingested_at"), now),
        "release_mjd": row["t_obs_release"] if kind == PUBLIC else None,
        "arrival_checked": kind != NEW,
        "created_at": now,
        "planned_obs_id": None,
    }


def _release_key(mjd: float) -> str:
    return f"release:{mjd:.6f}"


def _mjd(unix: float) -> float:
    return unix / 86400.0 + _UNIX_EPOCH_MJD
