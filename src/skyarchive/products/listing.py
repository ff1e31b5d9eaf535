"""Product lists of observations, as MAST's Mast.Caom.Products returns them.

A level-3 observation lists its own files and every member exposure's files. Each row's
``obsID`` is the observation the file is listed under and ``parent_obsid`` the observation that
was asked for. Within one requested observation a file appears once; across several requested
observations it repeats, as on MAST (clients de-duplicate on dataURI or productFilename).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import Connection, select

from skyarchive.access.rights import data_rights
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
    query = (
        select(
            observation_products.c.obsid.label("obsID"),
            listed.c.obs_id,
            listed.c.dataproduct_type.label("listed_type"),
            listed.c.filters.label("listed_filters"),
            listed.c.t_obs_release.label("listed_release"),
            owner.c.t_obs_release.label("owner_release"),
            products.c.product_id,
            *[products.c[name] for name in _PRODUCT_FIELDS],
        )
        .join(products, products.c.product_id == observation_products.c.product_id)
        .join(listed, listed.c.obsid == observation_products.c.obsid)
        .outerjoin(owner, owner.c.obsid == products.c.owner_obsid)
        .where(observation_products.c.obsid.in_(listed_ids))
        .order_by(
            (observation_products.c.obsid != parent), listed.c.obs_id, products.c.productFilename
        )
    )
    seen: set[int] = set()
    for r in conn.execute(query):
        if r.product_id in seen:
            continue
        seen.add(r.product_id)
        release = r.owner_release if r.owner_release is not None else r.listed_release
        row = {name: getattr(r, name) for name in _PRODUCT_FIELDS}
        row.update(
            obsID=str(r.obsID),
            obs_id=r.obs_id,
            dataproduct_type=r.dataproduct_type or r.listed_type,
            filters=r.filters or r.listed_filters,
            parent_obsid=str(parent),
            dataRights=data_rights(release, now=now),
        )
        yield row
