"""What a delivery holds: a selection of data URIs, observations or product ids, resolved once.

Every delivery method (zip/tar bundles, cURL scripts, staging, the basket) turns its request
into a :class:`Selection` here, so the same rules apply everywhere:

* files sit at ``<collection>/<obs_id>/<file>`` (``obs_id`` of the observation a file is listed
  under; for a bare data URI, of the observation that owns it);
* an ``obsid`` brings the observation's whole product list (:func:`product_rows`: for a level-3
  observation its own products plus every member exposure's), or only its Minimum Recommended
  Products with ``mrp_only``;
* a file appears once (de-duplicated by file name, first occurrence wins);
* a file the caller may not read (:func:`may_retrieve`) or that storage lacks is not delivered
  but listed with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, bindparam, select, update
from sqlalchemy.exc import SQLAlchemyError

from skyarchive.access.policy import Caller, check_retrieval, may_retrieve
from skyarchive.access.rights import PUBLIC, data_rights
from skyarchive.db.tables import observations, products
from skyarchive.delivery.curl_script import safe_component
from skyarchive.delivery.files import FILE_RELEASE, joined_to_owner
from skyarchive.errors import BadQuery, NotFound
from skyarchive.products.listing import parse_obsids, product_rows
from skyarchive.products.rules import MRP
from skyarchive.storage import Storage

_CHUNK = 2000
_log = logging.getLogger(__name__)
MAX_SELECTION = 1_000_000

NOT_AUTHORISED = "not authorised"
MISSING = "missing from storage"
UNKNOWN = "not in this archive"


@dataclass(frozen=True, slots=True)
class Item:
    """One file of a selection, with everything a delivery needs to send and describe it."""

    product_id: int
    filename: str
    data_uri: str
    path: str
    size: int
    sha256: str
    storage_key: str
    description: str | None
    product_type: str | None
    subgroup: str | None
    calib_level: int | None
    mrp: bool
    proposal_id: str | None
    t_obs_release: float | None
    restricted: bool  # in an exclusive-access period now (whoever asks)
    crc32: int | None = None  # from ingest; None for files ingested before it was recorded


@dataclass(frozen=True, slots=True)
class Excluded:
    """A requested file (or request) that a delivery does not contain, and why."""

    name: str
    path: str | None
    reason: str
    size: int | None = None
    proposal_id: str | None = None


@dataclass
class Selection:
    items: list[Item] = field(default_factory=list)
    excluded: list[Excluded] = field(default_factory=list)
    #: Every item was found in storage when the selection was made, so a bundle need not ask
    #: again (on an object store each question is a request per file).
    checked_in_storage: bool = False

    @property
    def total_bytes(self) -> int:
        return sum(item.size for item in self.items)


def file_path(collection: str | None, obs_id: str | None, filename: str) -> str:
    """``<collection>/<obs_id>/<file>`` with every component made safe for a file system."""
    parts = (collection or "unknown", obs_id or "unassigned", filename)
    return "/".join(safe_component(part) for part in parts)


_QUERY = joined_to_owner(select(
    products.c.product_id, products.c.productFilename, products.c.dataURI,
    products.c.obs_collection, products.c.size, products.c.sha256, products.c.crc32,
    products.c.storage_key,
    products.c.description, products.c.productType, products.c.productSubGroupDescription,
    products.c.productGroupDescription, products.c.calib_level, products.c.proposal_id,
    observations.c.obs_id.label("owner_obs_id"), FILE_RELEASE,
))  # fmt: skip


def _item(row, obs_id: str | None, now: float) -> Item:  # type: ignore[no-untyped-def]
    return Item(
        product_id=int(row.product_id), filename=row.productFilename, data_uri=row.dataURI,
        path=file_path(row.obs_collection, obs_id or row.owner_obs_id, row.productFilename),
        size=int(row.size), sha256=row.sha256, storage_key=row.storage_key,
        description=row.description, product_type=row.productType,
        subgroup=row.productSubGroupDescription, calib_level=row.calib_level,
        mrp=row.productGroupDescription == MRP, proposal_id=row.proposal_id,
        t_obs_release=row.t_obs_release,
        restricted=data_rights(row.t_obs_release, now=now) != PUBLIC,
        crc32=None if row.crc32 is None else int(row.crc32),
    )  # fmt: skip


def _by(conn: Connection, column, keys: Sequence) -> dict:  # type: ignore[no-untyped-def]
    found = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = list(keys[start : start + _CHUNK])
        for row in conn.execute(_QUERY.where(column.in_(chunk))):
            found[getattr(row, column.name)] = row
    return found


def candidates(
    conn: Connection,
    *,
    uris: Sequence[str] = (),
    obsids: Sequence[int] = (),
    product_ids: Sequence[int] = (),
    mrp_only: bool = False,
    now: float,
) -> Iterator[Item | Excluded]:
    """Files of a selection in request order, unchecked for access and storage.

    Parameters
    ----------
    conn : Connection
        Catalog connection.
    uris : sequence of str
        Data URIs (``mast:JWST/product/<file>``) or bare file names.
    obsids : sequence of int
        Observations; each brings its product list (members included).
    product_ids : sequence of int
        Products by catalog id (the basket and staged requests use these).
    mrp_only : bool
        Keep only Minimum Recommended Products.
    now : float
        MJD used to decide exclusive access.

    Yields
    ------
    Item or Excluded
        A file, or a requested URI/obsid that names nothing in the catalog.
    """
    seen: set[str] = set()

    def fresh(items: Iterable[Item]) -> Iterator[Item]:
        for item in items:
            if item.filename not in seen and (item.mrp or not mrp_only):
                seen.add(item.filename)
                yield item

    wanted = [u.strip() for u in uris if u and u.strip()]
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        by_uri = _by(conn, products.c.dataURI, [u for u in chunk if ":" in u])
        by_name = _by(conn, products.c.productFilename, [u for u in chunk if ":" not in u])
        for uri in chunk:
            row = (by_uri if ":" in uri else by_name).get(uri)
            if row is None:
                if uri not in seen:
                    seen.add(uri)
                    yield Excluded(uri, None, UNKNOWN)
                continue
            yield from fresh([_item(row, None, now)])
    for start in range(0, len(product_ids), _CHUNK):
        ids = list(product_ids[start : start + _CHUNK])
        rows = _by(conn, products.c.product_id, ids)
        yield from fresh(_item(rows[pid], None, now) for pid in ids if pid in rows)
    for obsid, items in observation_items(conn, obsids, now=now):
        if items is None:
            yield Excluded(f"obsid {obsid}", None, UNKNOWN)
        else:
            yield from fresh(items)


_OBSERVATION_BATCH = 500


def observation_items(
    conn: Connection, obsids: Sequence[int], *, now: float
) -> Iterator[tuple[int, list[Item] | None]]:
    """Each observation's files (its members' included) in request order; None for an obsid
    the catalogue does not have.

    A few set-based queries per batch of 500 observations, whatever the list's length; a
    file listed under several observations comes with each of them.
    """
    wanted = list(dict.fromkeys(obsids))
    for start in range(0, len(wanted), _OBSERVATION_BATCH):
        batch = wanted[start : start + _OBSERVATION_BATCH]
        listed: dict[int, list[tuple[str, str]]] = {obsid: [] for obsid in batch}
        for entry in product_rows(conn, batch, now=now):
            listed[int(entry["parent_obsid"])].append((entry["productFilename"], entry["obs_id"]))
        known = _existing_observations(conn, [o for o, files in listed.items() if not files])
        names = list(dict.fromkeys(name for files in listed.values() for name, _ in files))
        rows: dict = {}
        for first in range(0, len(names), _CHUNK):
            rows.update(_by(conn, products.c.productFilename, names[first : first + _CHUNK]))
        for obsid, files in listed.items():
            if not files and obsid not in known:
                yield obsid, None
            else:
                yield obsid, [_item(rows[n], obs_id, now) for n, obs_id in files if n in rows]


def _existing_observations(conn: Connection, obsids: list[int]) -> set[int]:
    found: set[int] = set()
    for start in range(0, len(obsids), _CHUNK):
        query = select(observations.c.obsid).where(
            observations.c.obsid.in_(obsids[start : start + _CHUNK])
        )
        found.update(conn.execute(query).scalars())
    return found


def refusal(caller: Caller, item: Item) -> str:
    """Why ``caller`` may not have ``item`` (for manifests: short, no secrets)."""
    who = "log in or send an API token" if caller.anonymous else "ask the program's PI"
    return f"{NOT_AUTHORISED}: exclusive access of program {item.proposal_id}; {who}"


def resolve_selection(
    conn: Connection,
    storage: Storage | None,
    *,
    caller: Caller,
    now: float,
    uris: Sequence[str] = (),
    obsids: Sequence[int] = (),
    product_ids: Sequence[int] = (),
    mrp_only: bool = False,
    deliverable: bool = False,
) -> Selection:
    """The files ``caller`` gets for a request, and those left out with the reason.

    Parameters
    ----------
    conn : Connection
        Catalog connection.
    storage : Storage or None
        Checked for each file's presence; None skips the check.
    caller : Caller
        Who asks; files they may not read (:func:`may_retrieve`) are left out.
    now : float
        MJD of the request.
    uris, obsids, product_ids, mrp_only
        As for :func:`candidates`.
    deliverable : bool
        Refuse (as :func:`require_deliverable`) a selection that includes no file at all.

    Returns
    -------
    Selection
        Included items in request order and the excluded ones with reasons.
    """
    if not (uris or obsids or product_ids):
        raise BadQuery("Select something: give uri=<data URI> and/or obsid=<obsid> fields.")
    judged: list[Item | Excluded] = []
    for found in candidates(
        conn, uris=uris, obsids=obsids, product_ids=product_ids, mrp_only=mrp_only, now=now
    ):
        if isinstance(found, Excluded) or may_retrieve(
            caller, proposal_id=found.proposal_id, t_obs_release=found.t_obs_release, now=now
        ):
            judged.append(found)
        else:
            judged.append(
                Excluded(
                    found.filename,
                    found.path,
                    refusal(caller, found),
                    found.size,
                    found.proposal_id,
                )  # fmt: skip
            )
        if len(judged) > MAX_SELECTION:
            raise BadQuery(f"A selection may hold at most {MAX_SELECTION} files.")
    # Presence is asked once for all (an object store answers in parallel), after the rights.
    allowed = [found.storage_key for found in judged if isinstance(found, Item)]
    absent = storage.missing(allowed) if storage is not None and allowed else set()
    selection = Selection(checked_in_storage=storage is not None)
    for found in judged:
        if isinstance(found, Excluded):
            selection.excluded.append(found)
        elif found.storage_key in absent:
            selection.excluded.append(Excluded(found.filename, found.path, MISSING, found.size))
        else:
            selection.items.append(found)
    if deliverable:
        require_deliverable(selection, caller, now=now)
    return selection


_STORE_CRC32 = (
    update(products)
    .where(
        products.c.product_id == bindparam("pid"),
        products.c.sha256 == bindparam("sha"),  # still the same file
        products.c.crc32.is_(None),
    )
    .values(crc32=bindparam("crc"))
)


def crc32_recorder(engine: Engine) -> Callable[[list[tuple[Item, int]]], None]:
    """Store CRC-32s a bundle computed for files ingested before they were recorded.

    Run once per file: the next bundle finds the value in the catalog. A failure to store is
    logged, never raised (the download it follows has been sent).
    """

    def record(found: list[tuple[Item, int]]) -> None:
        rows = [{"pid": item.product_id, "sha": item.sha256, "crc": crc} for item, crc in found]
        try:
            with engine.begin() as conn:
                conn.execute(_STORE_CRC32, rows)
        except SQLAlchemyError as exc:
            _log.warning("could not store %d computed CRC-32s: %s", len(rows), exc)

    return record


def require_deliverable(selection: Selection, caller: Caller, *, now: float) -> None:
    """Raise the right error when a selection includes no file at all: Unauthorized or
    Forbidden when files were left out for want of rights, else NotFound with the reasons."""
    if selection.items:
        return
    for excluded in selection.excluded:
        if excluded.reason.startswith(NOT_AUTHORISED):
            check_retrieval(caller, filename=excluded.name, proposal_id=excluded.proposal_id,
                            t_obs_release=None, now=now)  # fmt: skip
    reasons = "; ".join(f"{e.name}: {e.reason}" for e in selection.excluded[:5])
    raise NotFound(f"None of the selected files can be delivered ({reasons}).")


def mrp_selection(
    conn: Connection, storage: Storage, *, caller: Caller, obsid: str, now: float
) -> Selection:
    """The Minimum Recommended Products of one observation (``obsid`` as given by a client)."""
    ids = parse_obsids(obsid)
    if len(ids) != 1:
        raise BadQuery("Give one obsid.")
    selection = resolve_selection(conn, storage, caller=caller, now=now, obsids=ids, mrp_only=True)
    if (
        not selection.items
        and selection.excluded
        and selection.excluded[0].reason.startswith("not in this archive")
    ):
        raise NotFound(f"No observation with obsid {ids[0]} in this archive.")
    require_deliverable(selection, caller, now=now)
    return selection
