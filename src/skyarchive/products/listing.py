"""Product lists of observations, as MAST's Mast.Caom.Products returns them.

A level-3 observation lists its own files and every member exposure's files. Each row's
``obsID`` is the observation the file is listed under and ``parent_obsid`` the observation that
was asked for. Within one requested observation a file appears once; across several requested
observations it repeats, as on MAST (clients de-duplicate on dataURI or productFilename).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, select

from skyarchive.access.rights import data_rights
from skyarchive.db.tables import observation_members, observation_products, observations, products
from skyarchive.errors import BadQuery
from skyarchive.search.columns import PRODUCT_COLUMNS
from skyarchive.search.criteria import parse_identifier

_PRODUCT_FIELDS = [c.name for c in PRODUCT_COLUMNS if c.name in products.c]
#: Default most obsids one request may name (see ``Settings.max_obsids``).
MAX_OBSIDS = 5_000


def parse_obsids(value: object, *, limit: int = MAX_OBSIDS) -> list[int]:
    """``"123,456"`` (or a list) -> [123, 456]; a helpful error for obs_id mix-ups.

    Raises
    ------
    BadQuery
        For a value that is not an obsid, none at all, or more than ``limit`` of them.
    """
    items = value if isinstance(value, list) else str(value if value is not None else "").split(",")
    if len(items) > limit:  # before any parsing: the limit bounds the work too
        raise BadQuery(
            f"At most {limit} obsids per request (got {len(items)}); send them in batches."
        )
    ids = [parse_obsid(item) for item in items if not (isinstance(item, str) and not item.strip())]
    if not ids:
        raise BadQuery("Give at least one obsid.")
    return ids


def parse_obsid(value: object) -> int:
    """One obsid (Product Group ID); an obs_id given by mistake gets a message saying so."""
    try:
        return parse_identifier(value, "obsid")
    except BadQuery:
        if isinstance(value, str) and any(ch.isalpha() for ch in value):
            raise BadQuery(
                f"obsid {value.strip()[:40]!r} is not a Product Group ID (an integer from the"
                " 'obsid' column); an obs_id such as 'jw...' cannot be used here."
            ) from None
        raise


def product_rows(conn: Connection, obsids: Sequence[int], *, now: float) -> Iterator[dict]:
    """Product rows for each requested observation, in request order.

    Observations are read in batches of :data:`_BATCH`, two queries a batch (members, then
    every listed file), so a list of thousands of obsids costs a few queries, not two each.
    """
    wanted = list(dict.fromkeys(obsids))
    for start in range(0, len(wanted), _BATCH):
        yield from _rows_for(conn, wanted[start : start + _BATCH], now)


_BATCH = 500


def _rows_for(conn: Connection, parents: list[int], now: float) -> Iterator[dict]:
    # Members are fetched first: "obsid = parent OR obsid IN (subquery)" defeats the index.
    members: dict[int, list[int]] = {parent: [] for parent in parents}
    links = select(observation_members.c.parent_obsid, observation_members.c.member_obsid)
    for parent, member in conn.execute(
        links.where(observation_members.c.parent_obsid.in_(parents))
    ).tuples():
        if member != parent:
            members[parent].append(member)
    listed_ids = sorted({*parents, *(m for found in members.values() for m in found)})
    listed = observations.alias("listed")
    owner = observations.alias("owner")
    # Columns come out in the order of the answer so each row is one dict(zip(...)); the few
    # derived values are patched afterwards (this runs for every product of a large list).
    query = (
        select(
            *[products.c[name] for name in _PRODUCT_FIELDS],
            observation_products.c.obsid.label("obsID"),
            listed.c.obs_id,
            listed.c.dataproduct_type.label("listed_type"),
            listed.c.filters.label("listed_filters"),
            listed.c.t_obs_release.label("listed_release"),
            owner.c.t_obs_release.label("owner_release"),
            products.c.product_id,
        )
        .join(products, products.c.product_id == observation_products.c.product_id)
        .join(listed, listed.c.obsid == observation_products.c.obsid)
        .outerjoin(owner, owner.c.obsid == products.c.owner_obsid)
        .where(observation_products.c.obsid.in_(listed_ids))
        .order_by(listed.c.obs_id, products.c.productFilename)
    )
    fields = len(_PRODUCT_FIELDS)
    by_listed: dict[int, list[tuple[int, Any]]] = {}  # listed obsid -> (position, row)
    for position, r in enumerate(conn.execute(query).tuples()):
        by_listed.setdefault(r[fields], []).append((position, r))
    for parent in parents:
        # The observation's own files first, then its members', each part in query order.
        others = sorted(row for m in members[parent] for row in by_listed.get(m, ()))
        yield from _rows_of(parent, [*by_listed.get(parent, ()), *others], now)


def _rows_of(parent: int, rows: list[tuple[int, Any]], now: float) -> Iterator[dict]:
    fields = len(_PRODUCT_FIELDS)
    position = {name: i for i, name in enumerate(_PRODUCT_FIELDS)}
    kind, filters = position.get("dataproduct_type"), position.get("filters")
    parent_text = str(parent)
    seen: set[int] = set()
    for _, r in rows:
        obsid, obs_id, listed_type, listed_filters, listed_release, owner_release, pid = r[fields:]
        if pid in seen:
            continue
        seen.add(pid)
        row = dict(zip(_PRODUCT_FIELDS, r[:fields], strict=False))
        release = owner_release if owner_release is not None else listed_release
        row["obsID"] = str(obsid)
        row["obs_id"] = obs_id
        if kind is not None and r[kind] is None:
            row["dataproduct_type"] = listed_type
        if filters is not None and r[filters] is None:
            row["filters"] = listed_filters
        row["parent_obsid"] = parent_text
        row["dataRights"] = data_rights(release, now=now)
        yield row
