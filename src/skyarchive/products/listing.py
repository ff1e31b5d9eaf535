"""Product lists of observations, as MAST's Mast.Caom.Products returns them.

A level-3 observation lists its own files and every member exposure's files. Each row's
``obsID`` is the observation the file is listed under and ``parent_obsid`` the observation that
was asked for. Within one requested observation a file appears once; across several requested
observations it repeats, as on MAST (clients de-duplicate on dataURI or productFilename).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import Connection, select

from skyarchive.access.rights import EXCLUSIVE_ACCESS, PUBLIC
from skyarchive.db.tables import observation_members, observation_products, observations, products
from skyarchive.errors import BadQuery
from skyarchive.search.columns import PRODUCT_COLUMNS

_PRODUCT_FIELDS = [c.name for c in PRODUCT_COLUMNS if c.name in products.c]
_MAX_OBSIDS = 10_000


def parse_obsids(value: object) -> list[int]:
    """``"123,456"`` (or a list) -> [123, 456]; a helpful error for obs_id mix-ups."""
    items = value if isinstance(value, list) else str(value if value is not None else "").split(",")
    ids: list[int] = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        if not text.lstrip("-").isdigit():
            raise BadQuery(
                f"obsid {text!r} is not a Product Group ID (an integer from the 'obsid' column);"
                " an obs_id such as 'jw...' cannot be used here."
            )
        ids.append(int(text))
    if not ids:
        raise BadQuery("Give at least one obsid.")
    if len(ids) > _MAX_OBSIDS:
        raise BadQuery(f"Too many obsids in one request ({len(ids)} > {_MAX_OBSIDS}).")
    return ids


def product_rows(conn: Connection, obsids: Sequence[int], *, now: float) -> Iterator[dict]:
    """Product rows for each requested observation, in request order."""
    for parent in dict.fromkeys(obsids):
        yield from _rows_for(conn, parent, now)


def _rows_for(conn: Connection, parent: int, now: float) -> Iterator[dict]:
    # Members are fetched first: "obsid = parent OR obsid IN (subquery)" defeats the index.
    members = conn.execute(
        select(observation_members.c.member_obsid).where(
            observation_members.c.parent_obsid == parent
        )
    ).scalars()
    listed_ids = [parent, *members]
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
        .order_by(
            (observation_products.c.obsid != parent), listed.c.obs_id, products.c.productFilename
        )
    )
    fields = len(_PRODUCT_FIELDS)
    position = {name: i for i, name in enumerate(_PRODUCT_FIELDS)}
    kind, filters = position.get("dataproduct_type"), position.get("filters")
    parent_text = str(parent)
    seen: set[int] = set()
    for r in conn.execute(query).tuples():
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
        row["dataRights"] = PUBLIC if release is not None and now >= release else EXCLUSIVE_ACCESS
        yield row
