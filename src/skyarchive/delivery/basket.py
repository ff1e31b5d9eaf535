"""The download basket: observations a user (or an anonymous browser) collects for download.

A basket belongs to a user, or to an anonymous browser through a random cookie (stored hashed).
It holds observations; its files are their product lists (members included), each file once,
minus files the user removed. Listing shows a tree Mission > Observation > File with facet
counts; the same filters select the files a delivery sends.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select, update

from skyarchive.access.policy import Caller, may_retrieve
from skyarchive.db.tables import (
    basket_items,
    basket_removed,
    baskets,
    delivery_requests,
    observations,
    products,
)
from skyarchive.db.upsert import insert_ignore
from skyarchive.delivery.selection import Item, candidates, observation_items
from skyarchive.errors import BadQuery, NotFound

BASKET_COOKIE = "skyarchive_basket"
MAX_OBSERVATIONS = 5000
MAX_FILES = 10_000  # added at once (add_products)
DAY_SECONDS = 86_400
FACETS = ("mrp", "productType", "productSubGroupDescription", "calib_level", "extension")


@dataclass(frozen=True)
class Filters:
    """File filters; an empty list accepts every value. ``mrp`` None accepts both."""

    mrp: bool | None = None
    productType: tuple[str, ...] = ()
    productSubGroupDescription: tuple[str, ...] = ()
    calib_level: tuple[int, ...] = ()
    extension: tuple[str, ...] = ()

    def accepts(self, values: dict[str, Any], *, skip: str | None = None) -> bool:
        for name in FACETS:
            if name == skip:
                continue
            wanted = getattr(self, name)
            if name == "mrp":
                if wanted is not None and values["mrp"] != wanted:
                    return False
            elif wanted and values[name] not in wanted:
                return False
        return True


@dataclass
class BasketFile:
    item: Item
    obsid: int
    obs_id: str
    mission: str
    facets: dict[str, Any] = field(default_factory=dict)


def _digest(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def extension(filename: str) -> str:
    """``jw..._cal.fits`` -> ``fits``; ``x.ecsv`` -> ``ecsv``."""
    return filename.rsplit(".", 1)[-1].lower() if "." in filename else ""


def find_basket(
    conn: Connection, *, caller: Caller, cookie: str | None, anonymous_days: float
) -> int | None:
    """The caller's basket id, if there is one (an anonymous one is found by its cookie).

    An anonymous basket unchanged for ``anonymous_days`` (the ``anonymous_basket_days``
    setting) is expired: it is not found, whether or not :func:`purge_expired_baskets` has
    removed it yet.
    """
    if not caller.anonymous:
        query = select(baskets.c.basket_id).where(baskets.c.user_id == caller.user_id)
    elif cookie and len(cookie) <= 100:
        query = select(baskets.c.basket_id).where(
            baskets.c.cookie_hash == _digest(cookie),
            baskets.c.updated_at >= time.time() - anonymous_days * DAY_SECONDS,
        )
    else:
        return None
    return conn.scalar(query)


def open_basket(
    conn: Connection, *, caller: Caller, cookie: str | None, anonymous_days: float
) -> tuple[int, str | None]:
    """The caller's basket, created if missing; returns (basket id, new cookie or None).

    A signed-in user's basket takes over what the same browser collected anonymously (unless
    that basket has expired). An expired anonymous basket is replaced by a new, empty one
    with a new cookie; the old one waits for :func:`purge_expired_baskets`.
    """
    now = time.time()
    found = find_basket(conn, caller=caller, cookie=cookie, anonymous_days=anonymous_days)
    new_cookie = None
    if found is None and caller.anonymous:
        new_cookie = secrets.token_urlsafe(32)
        insert = baskets.insert().values(
            cookie_hash=_digest(new_cookie), created_at=now, updated_at=now
        )
        found = int(conn.execute(insert.returning(baskets.c.basket_id)).scalar_one())
    elif found is None:
        # Two requests of one user (two tabs, two server processes) may both find no basket:
        # the first insert wins, the other is skipped and both read the same basket.
        row = {"user_id": caller.user_id, "created_at": now, "updated_at": now}
        insert_ignore(conn, baskets, [row])
        found = int(conn.execute(
            select(baskets.c.basket_id).where(baskets.c.user_id == caller.user_id)
        ).scalar_one())  # fmt: skip
    if not caller.anonymous and cookie:
        anonymous = find_basket(conn, caller=Caller(), cookie=cookie, anonymous_days=anonymous_days)
        if anonymous is not None and anonymous != found:
            _merge(conn, source=anonymous, target=found)
    return found, new_cookie


def purge_expired_baskets(engine: Engine, *, days: float, now: float | None = None) -> int:
    """Remove anonymous baskets unchanged for ``days`` (items and removals with them).

    Signed-in users' baskets are kept whatever their age. A browser that still sends the cookie
    of a removed basket simply has an empty one. Delivery requests made from a removed basket
    stay; they only lose the link to it. Returns the number of baskets removed.
    """
    cutoff = (time.time() if now is None else now) - days * DAY_SECONDS
    with engine.begin() as conn:
        expired = list(
            conn.scalars(
                select(baskets.c.basket_id).where(
                    baskets.c.user_id.is_(None), baskets.c.updated_at < cutoff
                )
            )
        )
        for start in range(0, len(expired), 500):
            chunk = expired[start : start + 500]
            conn.execute(
                update(delivery_requests)
                .where(delivery_requests.c.basket_id.in_(chunk))
                .values(basket_id=None)
            )
            for table in (basket_items, basket_removed, baskets):
                conn.execute(delete(table).where(table.c.basket_id.in_(chunk)))
    return len(expired)


def _merge(conn: Connection, *, source: int, target: int) -> None:
    rows = conn.execute(select(basket_items).where(basket_items.c.basket_id == source)).all()
    insert_ignore(conn, basket_items, [{**r._asdict(), "basket_id": target} for r in rows])
    conn.execute(delete(basket_items).where(basket_items.c.basket_id == source))
    conn.execute(delete(basket_removed).where(basket_removed.c.basket_id == source))
    conn.execute(delete(baskets).where(baskets.c.basket_id == source))


def _touch(conn: Connection, basket_id: int) -> None:
    conn.execute(
        update(baskets).where(baskets.c.basket_id == basket_id).values(updated_at=time.time())
    )


def add_observations(conn: Connection, *, basket_id: int, obsids: Sequence[int]) -> int:
    """Add observations (unknown obsids are refused); re-adding restores removed files."""
    wanted = list(dict.fromkeys(int(o) for o in obsids))
    known = set(conn.scalars(select(observations.c.obsid).where(observations.c.obsid.in_(wanted))))
    unknown = [o for o in wanted if o not in known]
    if unknown:
        raise NotFound(f"No observation with obsid {unknown[0]} in this archive.")
    count = conn.scalar(
        select(func.count()).select_from(basket_items).where(basket_items.c.basket_id == basket_id)
    )
    if (count or 0) + len(wanted) > MAX_OBSERVATIONS:
        raise BadQuery(f"A basket holds at most {MAX_OBSERVATIONS} observations.")
    now = time.time()
    insert_ignore(
        conn, basket_items, [{"basket_id": basket_id, "obsid": o, "added_at": now} for o in wanted]
    )
    _restore(conn, basket_id, [i.product_id for i in _items(conn, wanted) if isinstance(i, Item)])
    _touch(conn, basket_id)
    return len(wanted)


def _restore(conn: Connection, basket_id: int, product_ids: Sequence[int]) -> None:
    """Take files off the basket's list of removed files."""
    for start in range(0, len(product_ids), 1000):
        conn.execute(
            delete(basket_removed).where(
                basket_removed.c.basket_id == basket_id,
                basket_removed.c.product_id.in_(product_ids[start : start + 1000]),
            )
        )


def add_products(conn: Connection, *, basket_id: int, product_ids: Sequence[int]) -> int:
    """Add single files (by product id), e.g. the rows of a keyword search; returns how many.

    A basket holds observations, so each file comes in with the observation that owns it;
    when that observation is new to the basket, its other files are marked removed (as if the
    user had unticked them), except those the basket already held through another observation.
    Re-adding the whole observation later brings them all back.

    Raises
    ------
    NotFound
        When a product id names no file of the catalog (nothing is added then).
    BadQuery
        When the basket would hold more than :data:`MAX_OBSERVATIONS` observations.
    """
    wanted = list(dict.fromkeys(int(p) for p in product_ids))
    owners: dict[int, int] = {}
    for start in range(0, len(wanted), 1000):
        query = select(products.c.product_id, products.c.owner_obsid).where(
            products.c.product_id.in_(wanted[start : start + 1000])
        )
        owners.update({int(pid): obsid for pid, obsid in conn.execute(query)})
    unknown = [p for p in wanted if owners.get(p) is None]
    if unknown:
        raise NotFound(f"No file with product id {unknown[0]} in this archive; nothing was added.")
    held_obsids = set(
        conn.scalars(select(basket_items.c.obsid).where(basket_items.c.basket_id == basket_id))
    )
    held_files = {f.item.product_id for f in basket_files(conn, basket_id=basket_id, now=0.0)}
    new_owners = sorted({owners[p] for p in wanted} - held_obsids)
    add_observations(conn, basket_id=basket_id, obsids=new_owners)  # also un-removes their files
    chosen = set(wanted)
    hidden = [i.product_id for i in _items(conn, new_owners) if isinstance(i, Item)
              and i.product_id not in chosen and i.product_id not in held_files]  # fmt: skip
    insert_ignore(conn, basket_removed, [{"basket_id": basket_id, "product_id": p}
                                         for p in dict.fromkeys(hidden)])  # fmt: skip
    _restore(conn, basket_id, wanted)
    _touch(conn, basket_id)
    return len(wanted)


def _items(conn: Connection, obsids: Sequence[int]) -> list:  # type: ignore[type-arg]
    return list(candidates(conn, obsids=obsids, now=0.0))


def basket_obsids(conn: Connection, *, basket_id: int | None) -> list[int]:
    """The observations in a basket, in the order they were added (a data set's source)."""
    if basket_id is None:
        return []
    query = (
        select(basket_items.c.obsid)
        .where(basket_items.c.basket_id == basket_id)
        .order_by(basket_items.c.added_at, basket_items.c.obsid)
    )
    return [int(obsid) for obsid in conn.execute(query).scalars()]


def remove_observations(conn: Connection, *, basket_id: int, obsids: Sequence[int]) -> None:
    conn.execute(
        delete(basket_items).where(
            basket_items.c.basket_id == basket_id, basket_items.c.obsid.in_(list(obsids))
        )
    )
    _touch(conn, basket_id)


def clear_basket(conn: Connection, *, basket_id: int) -> None:
    conn.execute(delete(basket_items).where(basket_items.c.basket_id == basket_id))
    conn.execute(delete(basket_removed).where(basket_removed.c.basket_id == basket_id))
    _touch(conn, basket_id)


def remove_products(conn: Connection, *, basket_id: int, product_ids: Sequence[int]) -> None:
    """Take files out of the basket (e.g. once delivered); empty observations go too.

    Raises
    ------
    NotFound
        When a product id names no file of the catalog (nothing is removed then).
    """
    wanted = list(dict.fromkeys(product_ids))
    known = set(
        conn.scalars(select(products.c.product_id).where(products.c.product_id.in_(wanted)))
    )
    unknown = [p for p in wanted if p not in known]
    if unknown:
        listed = ", ".join(str(p) for p in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise NotFound(f"No file with product id {listed} in this archive; nothing was removed.")
    insert_ignore(
        conn, basket_removed, [{"basket_id": basket_id, "product_id": p} for p in product_ids]
    )
    removed = _removed(conn, basket_id)
    emptied = [
        obsid
        for obsid, files in _grouped(conn, basket_id=basket_id, now=0.0).items()
        if files and all(f.item.product_id in removed for f in files)
    ]
    if emptied:
        remove_observations(conn, basket_id=basket_id, obsids=emptied)
    _touch(conn, basket_id)


def _removed(conn: Connection, basket_id: int) -> set[int]:
    query = select(basket_removed.c.product_id).where(basket_removed.c.basket_id == basket_id)
    return {int(p) for p in conn.scalars(query)}


def _grouped(conn: Connection, *, basket_id: int, now: float) -> dict[int, list[BasketFile]]:
    """Every file of the basket's observations, grouped by observation, each file once."""
    query = (
        select(basket_items.c.obsid, observations.c.obs_id, observations.c.obs_collection)
        .join(observations, observations.c.obsid == basket_items.c.obsid)
        .where(basket_items.c.basket_id == basket_id)
        .order_by(basket_items.c.added_at, basket_items.c.obsid)
    )
    held = conn.execute(query).all()
    items = dict(observation_items(conn, [int(obsid) for obsid, _, _ in held], now=now))
    seen: set[int] = set()
    grouped: dict[int, list[BasketFile]] = {}
    for obsid, obs_id, mission in held:
        files = grouped.setdefault(int(obsid), [])
        for item in items.get(int(obsid)) or ():
            if item.product_id not in seen:
                seen.add(item.product_id)
                files.append(BasketFile(item, int(obsid), obs_id, mission, _facets(item)))
    return grouped


def _facets(item: Item) -> dict[str, Any]:
    return {
        "mrp": item.mrp, "productType": item.product_type or "",
        "productSubGroupDescription": item.subgroup or "", "calib_level": item.calib_level,
        "extension": extension(item.filename),
    }  # fmt: skip


def basket_files(conn: Connection, *, basket_id: int | None, now: float) -> list[BasketFile]:
    """The basket's files (removed ones left out), in basket order."""
    if basket_id is None:
        return []
    removed = _removed(conn, basket_id)
    return [
        f
        for files in _grouped(conn, basket_id=basket_id, now=now).values()
        for f in files
        if f.item.product_id not in removed
    ]


def select_files(
    files: Sequence[BasketFile], *, filters: Filters, product_ids: Sequence[int] | None = None
) -> list[BasketFile]:
    """Files passing ``filters`` (and, when given, among ``product_ids``)."""
    chosen = set(product_ids) if product_ids is not None else None
    return [
        f
        for f in files
        if filters.accepts(f.facets) and (chosen is None or f.item.product_id in chosen)
    ]


def facet_counts(files: Sequence[BasketFile], *, filters: Filters) -> dict[str, list[dict]]:
    """Per facet value: ``count`` passing the other facets' filters, of ``total`` in the basket."""
    out: dict[str, list[dict]] = {}
    for name in FACETS:
        totals: dict[Any, int] = {}
        counts: dict[Any, int] = {}
        for f in files:
            value = f.facets[name]
            totals[value] = totals.get(value, 0) + 1
            if filters.accepts(f.facets, skip=name):
                counts[value] = counts.get(value, 0) + 1
        wanted = getattr(filters, name)
        entries = []
        for value in sorted(totals, key=lambda v: (v is None, str(v))):
            label = {True: "Minimum Recommended Products", False: "Other products"}.get(value)
            label = label if name == "mrp" else str(value if value not in (None, "") else "none")
            count = counts.get(value, 0)
            checked = (wanted is None or wanted == value) if name == "mrp" else value in wanted
            entries.append({
                "value": value, "count": count, "total": totals[value], "checked": checked,
                "label": f"{label} ({count} of {totals[value]})",
            })  # fmt: skip
        out[name] = entries
    return out


def basket_tree(
    files: Sequence[BasketFile], *, filters: Filters, caller: Caller, now: float
) -> dict[str, Any]:
    """The basket as Mission > Observation > File, with selection flags and facet counts."""
    chosen = {f.item.product_id for f in select_files(files, filters=filters)}
    missions: dict[str, dict[str, Any]] = {}
    for f in files:
        mission = missions.setdefault(
            f.mission, {"mission": f.mission, "files": 0, "selected": 0, "observations": {}}
        )
        obs = mission["observations"].setdefault(f.obsid, {
            "obsid": str(f.obsid), "obs_id": f.obs_id, "files": 0, "selected": 0, "bytes": 0,
            "selected_bytes": 0, "children": [],
        })  # fmt: skip
        picked = f.item.product_id in chosen
        for node in (mission, obs):
            node["files"] += 1
            node["selected"] += picked
        obs["bytes"] += f.item.size
        obs["selected_bytes"] += f.item.size if picked else 0
        obs["children"].append(_file_node(f, picked, caller, now))
    tree = [{**m, "observations": list(m["observations"].values())} for m in missions.values()]
    selected = [f for f in files if f.item.product_id in chosen]
    return {
        "summary": {
            "observations": len({f.obsid for f in files}), "files": len(files),
            "bytes": sum(f.item.size for f in files), "selected_files": len(selected),
            "selected_bytes": sum(f.item.size for f in selected),
            "selected_restricted": sum(1 for f in selected if f.item.restricted),
        },
        "facets": facet_counts(files, filters=filters),
        "tree": tree,
    }  # fmt: skip


def _file_node(f: BasketFile, picked: bool, caller: Caller, now: float) -> dict[str, Any]:
    item = f.item
    allowed = may_retrieve(
        caller, proposal_id=item.proposal_id, t_obs_release=item.t_obs_release, now=now
    )
    return {
        "product_id": item.product_id, "productFilename": item.filename,
        "dataURI": item.data_uri, "path": item.path, "size": item.size,
        "description": item.description, "productType": item.product_type,
        "productSubGroupDescription": item.subgroup, "calib_level": item.calib_level,
        "mrp": item.mrp, "extension": f.facets["extension"], "restricted": item.restricted,
        "may_retrieve": allowed, "selected": picked,
    }  # fmt: skip
