"""The one product writer: FITS ingest and manifest ingest store every file through here.

The policy, decided per file name by :func:`classify` against what the catalogue holds:

- a name the catalogue does not hold is **added**;
- a name held by another collection or another observation is **refused** (a file name
  belongs to one observation);
- the same bytes again are **unchanged**;
- other bytes with a newer FITS ``DATE`` **replace** the archived version: the row is updated,
  the replacement is recorded in ``product_versions`` and the old object is removed from storage
  once the new row has committed;
- other bytes with an older, equal or missing ``DATE`` are **stale**: reported and skipped.

Observations follow the same rule of replacement: a JWST observation accepted but not yet
executed (``status`` planned, from a manifest) is **replaced** by the executed one when data of
the same program and observation number arrive (:func:`replace_planned`), and a planned
record for an observation already executed is not added again (:func:`executed_counterparts`).

Storage writes follow the catalogue transaction (:func:`product_transaction`): objects written
for a transaction that rolls back are removed again, so storage never holds a file without a
catalogue row, and a full disk stops the run with :class:`StorageUnavailable`.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, select, update
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from skyarchive.db.tables import (
    basket_items,
    footprint_cells,
    footprint_vertices,
    observation_members,
    observation_products,
    observation_tokens,
    observations,
    product_keywords,
    product_versions,
    products,
)
from skyarchive.errors import IngestError, StorageUnavailable
from skyarchive.search.keyword_store import (
    file_facts,
    keyword_row,
    listing_tables,
    refresh_counts,
    refresh_listing,
)
from skyarchive.storage import Storage


def data_uri(collection: str, filename: str) -> str:
    """The MAST data URI of an archived file (``mast:JWST/product/<file>``)."""
    return f"mast:{collection}/product/{filename}"


def storage_key(collection: str, sha256: str, filename: str) -> str:
    """Where a file's bytes are stored: its content hash keeps reprocessed versions apart."""
    return f"{collection}/product/{sha256[:16]}/{filename}"


class Verdict(StrEnum):
    ADDED = "added"
    UNCHANGED = "unchanged"
    REPLACED = "replaced"
    STALE = "stale"
    REFUSED = "refused"


@dataclass(frozen=True)
class Candidate:
    """A file about to become (or replace) a product.

    ``values`` is the product row (``productFilename``, ``obs_collection``, ``sha256``,
    ``file_date``, ``storage_key``, ...); ``owner`` is the ``obs_id`` the file belongs to by
    its name or manifest, None for files that the linking step assigns (associations, pools).
    """

    path: Path
    values: dict[str, Any]
    owner: str | None

    @property
    def filename(self) -> str:
        return str(self.values["productFilename"])


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str | None = None


def archived_products(conn: Connection, filenames: Sequence[str]) -> dict[str, dict[str, Any]]:
    """What the catalogue holds under each of ``filenames`` (with its owner's obs_id)."""
    query = (
        select(
            products.c.product_id,
            products.c.productFilename,
            products.c.obs_collection,
            products.c.sha256,
            products.c.crc32,
            products.c.file_date,
            products.c.storage_key,
            observations.c.obs_id.label("owner"),
        )
        .outerjoin(observations, observations.c.obsid == products.c.owner_obsid)
        .where(products.c.productFilename.in_(list(filenames)))
    )
    return {row["productFilename"]: dict(row) for row in conn.execute(query).mappings()}


def classify(candidate: Candidate, archived: Mapping[str, Any] | None) -> Decision:
    """Apply the policy to one file (see the module text)."""
    if archived is None:
        return Decision(Verdict.ADDED)
    name = candidate.filename
    collection = candidate.values["obs_collection"]
    if archived["obs_collection"] != collection:
        return Decision(
            Verdict.REFUSED,
            f"{name}: the archive already holds a file of this name in collection "
            f"{archived['obs_collection']}, not {collection}; a file name belongs to one "
            "observation. Rename the file.",
        )
    if candidate.owner and archived["owner"] and archived["owner"] != candidate.owner:
        return Decision(
            Verdict.REFUSED,
            f"{name}: the archive already holds a file of this name in observation "
            f"{archived['owner']}, not {candidate.owner}; a file name belongs to one "
            "observation. Rename the file.",
        )
    if archived["sha256"] == candidate.values["sha256"]:
        return Decision(Verdict.UNCHANGED)
    new_date, old_date = candidate.values.get("file_date"), archived["file_date"]
    if is_newer(new_date, old_date):
        return Decision(Verdict.REPLACED)
    return Decision(
        Verdict.STALE,
        f"{name}: other content with FITS DATE {new_date or 'none'}, not newer than the archived "
        f"version's {old_date or 'none'}; kept the archived version.",
    )


def is_newer(date: str | None, than: str | None) -> bool:
    """True if FITS ``DATE`` ``date`` is later than ``than``; a missing date is never newer."""
    if not date:
        return False
    if not than:
        return True
    try:
        return _as_utc(date) > _as_utc(than)
    except ValueError:  # not ISO 8601: compare the text (FITS dates sort as text)
        return date > than


def _as_utc(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.strip())
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@dataclass
class StoredObjects:
    """The storage side of one catalogue transaction."""

    storage: Storage
    written: list[str] = field(default_factory=list)  # objects this transaction created
    superseded: list[str] = field(default_factory=list)  # objects to remove after commit

    def put(self, key: str, source: Path) -> None:
        try:
            if not self.storage.exists(key):
                self.written.append(key)
            self.storage.put_file(key, source)
        except OSError as exc:
            raise storage_unavailable(exc, source.name) from exc

    def rolled_back(self) -> None:
        for key in self.written:
            with suppress(OSError):  # unreachable storage: nothing more can be undone
                self.storage.delete(key)
        self.written.clear()

    def committed(self) -> None:
        for key in self.superseded:
            if key not in self.written:
                self.storage.delete(key)
        self.written.clear()
        self.superseded.clear()


def storage_unavailable(exc: OSError, filename: str) -> StorageUnavailable:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        what = "the archive's storage is full (no space left on device)"
    else:
        what = f"the archive's storage cannot be written ({exc.strerror or exc})"
    return StorageUnavailable(
        f"{what} while storing {filename}; the files of this batch were not archived. "
        "Make room and run the same ingest again: what is archived is skipped as unchanged."
    )


@contextmanager
def product_transaction(
    engine: Engine, storage: Storage
) -> Iterator[tuple[Connection, StoredObjects]]:
    """A catalogue transaction with its storage writes: both happen, or neither stays."""
    objects = StoredObjects(storage)
    try:
        with engine.begin() as conn:
            yield conn, objects
    except BaseException as exc:
        objects.rolled_back()
        if isinstance(exc, IntegrityError | DataError):  # a value the catalogue cannot hold
            raise IngestError(f"the catalogue refused the write ({exc.orig}).") from exc
        if isinstance(exc, OperationalError):
            raise StorageUnavailable(
                f"the catalogue cannot be written ({exc.orig}); nothing of this batch was "
                "archived. Fix the database and run the same ingest again."
            ) from exc
        raise
    objects.committed()


def store_products(
    conn: Connection,
    objects: StoredObjects,
    chosen: Sequence[tuple[Candidate, Decision]],
    archived: Mapping[str, Mapping[str, Any]],
    owners: Mapping[str, int],
) -> dict[str, int]:
    """Write the ADDED and REPLACED candidates (file, row, history); product_id by file name.

    ``owners`` gives the ``owner_obsid`` of files whose observation is known.
    """
    now = datetime.now(UTC).isoformat(timespec="seconds")
    new_rows: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    ids: dict[str, int] = {}
    for candidate, decision in chosen:
        if decision.verdict not in (Verdict.ADDED, Verdict.REPLACED):
            continue
        name = candidate.filename
        values = {**candidate.values, "ingested_at": now, "owner_obsid": owners.get(name)}
        objects.put(values["storage_key"], candidate.path)
        old = archived.get(name)
        if old is None:
            new_rows.append(values)
            continue
        ids[name] = int(old["product_id"])
        conn.execute(update(products).where(products.c.product_id == ids[name]).values(values))
        history.append({
            "product_id": ids[name], "productFilename": name,
            "old_sha256": old["sha256"], "new_sha256": values["sha256"],
            "old_file_date": old["file_date"], "new_file_date": values.get("file_date"),
            "old_storage_key": old["storage_key"], "replaced_at": now,
        })  # fmt: skip
        if old["storage_key"] != values["storage_key"]:
            objects.superseded.append(old["storage_key"])
    if new_rows:
        inserted = conn.execute(
            products.insert().returning(products.c.product_id, products.c.productFilename),
            new_rows,
        )
        ids.update({name: int(pid) for pid, name in inserted})
    if history:
        conn.execute(product_versions.insert(), history)
        # a new version may change a file's level: its exposure's listing is worked out again
        tables = refresh_listing(conn, [entry["productFilename"] for entry in history])
        refresh_counts(conn, tables)
    return ids


@dataclass(frozen=True)
class KeywordEntry:
    """A FITS product's primary header (and science S_REGION), for the keyword store."""

    product_id: int
    filename: str
    header: dict[str, Any]
    s_region: str | None


def store_keywords(conn: Connection, entries: Sequence[KeywordEntry]) -> None:
    """Replace the stored headers of these products and keep the keyword tables' listing true.

    Which files a keyword table lists depends on the other files of their exposures
    (:mod:`skyarchive.search.keyword_store`), so it is worked out again here for every
    exposure touched, in the same transaction, and the tables' stored counts with it.
    """
    if not entries:
        return
    ids = [entry.product_id for entry in entries]
    tables = listing_tables(conn, ids)  # the counts of the tables they leave change too
    conn.execute(delete(product_keywords).where(product_keywords.c.product_id.in_(ids)))
    facts = file_facts(conn, ids)  # the products rows are written: what the rows show of them
    rows = [keyword_row(facts[e.product_id], e.header, e.s_region) for e in entries]
    conn.execute(product_keywords.insert(), rows)
    tables |= refresh_listing(conn, [entry.filename for entry in entries])
    refresh_counts(conn, tables)


# JWST observations by program and observation number: exposure-level ids
# (``jw04567001001_02101_00001_nrca1``, and planned ones ``jw04567001001_xx101_00001_nircam``)
# and stage-3 ids of an observation's own association (``jw04567-o001_t001_nircam_clear-f200w``).
_EXPOSURE_OBSERVATION = re.compile(r"^jw(?P<program>\d{5})(?P<obs>\d{3})\d{3}_")
_LEVEL3_OBSERVATION = re.compile(r"^jw(?P<program>\d{5})-o(?P<obs>\d{3})_")


def observation_number(obs_id: str) -> tuple[str, str] | None:
    """(program, observation number) of a JWST observation id, None when it names none."""
    found = _EXPOSURE_OBSERVATION.match(obs_id) or _LEVEL3_OBSERVATION.match(obs_id)
    return (found["program"], found["obs"]) if found else None


def _planned_rows(conn: Connection, programs: set[str]) -> list[tuple[int, str]]:
    if not programs:
        return []
    query = select(observations.c.obsid, observations.c.obs_id).where(
        observations.c.obs_collection == "JWST",
        observations.c.status == "planned",
        observations.c.proposal_id.in_(sorted(programs)),
    )
    return [(int(obsid), obs_id) for obsid, obs_id in conn.execute(query)]


def replace_planned(conn: Connection, executed_obs_ids: Sequence[str]) -> list[str]:
    """Remove the planned JWST observations that the executed ``executed_obs_ids`` carry out.

    Call it in the transaction that writes the executed observations (the caller recounts the
    program's figures after). Returns the obs_ids of the planned rows removed.
    """
    done = {key for key in map(observation_number, executed_obs_ids) if key is not None}
    programs = {str(int(program)) for program, _ in done}
    retired = [
        (obsid, obs_id)
        for obsid, obs_id in _planned_rows(conn, programs)
        if obs_id not in executed_obs_ids and observation_number(obs_id) in done
    ]
    obsids = [obsid for obsid, _ in retired]
    if obsids:
        tables: list[tuple[Table, str]] = [
            (footprint_cells, "obsid"), (footprint_vertices, "obsid"),
            (observation_tokens, "obsid"), (observation_products, "obsid"), (basket_items, "obsid"),
            (observation_members, "parent_obsid"), (observation_members, "member_obsid"),
        ]  # fmt: skip
        for table, column in tables:
            conn.execute(delete(table).where(table.c[column].in_(obsids)))
        conn.execute(delete(observations).where(observations.c.obsid.in_(obsids)))
    return [obs_id for _, obs_id in retired]


def plans_carried_out(
    executed_obs_ids: Sequence[str], planned_obs_ids: Sequence[str]
) -> dict[str, str]:
    """Which planned observation each executed one carried out (same program and number)."""
    plan_of = {observation_number(obs_id): obs_id for obs_id in planned_obs_ids}
    return {
        obs_id: plan_of[key]
        for obs_id in executed_obs_ids
        if (key := observation_number(obs_id)) is not None and key in plan_of
    }


def executed_counterparts(conn: Connection, planned_obs_id: str) -> list[str]:
    """The executed JWST observations that carry out a planned one (same program and number)."""
    key = observation_number(planned_obs_id)
    if key is None:
        return []
    program, _ = key
    query = select(observations.c.obs_id).where(
        observations.c.obs_collection == "JWST",
        observations.c.status == "executed",
        observations.c.proposal_id == str(int(program)),
    )
    return [obs_id for obs_id in conn.scalars(query) if observation_number(obs_id) == key]
