"""Product lists of observations, as MAST's Mast.Caom.Products returns them.

A level-3 observation lists its own files and every member exposure's files. Each row's
``obsID`` is the observation the file is listed under and ``parent_obsid`` the observation that
was asked for. Within one requested observation a file appears once; across several requested
observations it repeats, as on MAST (clients de-duplicate on dataURI or productFilename).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Select, func, select

from skyarchive.access.rights import EXCLUSIVE_ACCESS, PUBLIC, data_rights
from skyarchive.db.driver_rows import DriverRows
from skyarchive.db.id_lists import in_ids
from skyarchive.db.tables import observation_members, observation_products, observations, products
from skyarchive.errors import BadQuery
from skyarchive.search.columns import PRODUCT_COLUMNS
from skyarchive.search.criteria import parse_identifier
from skyarchive.search.row_json import Prebuilt, as_text, json_object

_PRODUCT_FIELDS = [c.name for c in PRODUCT_COLUMNS if c.name in products.c]
#: Default most obsids one request may name (see ``Settings.max_obsids``).
MAX_OBSIDS = 5_000


#: A list as clients send it, "123,456": ids of at most 18 digits, which fit 64 bits, so each
#: is read by int() alone (a list of 1,000 cost 0.5 ms read one id at a time).
_PLAIN_OBSIDS = re.compile(r"[ \t]*[0-9]{1,18}[ \t]*(?:,[ \t]*[0-9]{1,18}[ \t]*)*", re.ASCII)


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
    if isinstance(value, str) and _PLAIN_OBSIDS.fullmatch(value):
        return [int(item) for item in items]  # what parse_obsid reads from each
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
    return _listed(conn, obsids, _DictRows(now))


def product_json_batches(
    conn: Connection, obsids: Sequence[int], *, now: float
) -> Iterator[list[str]]:
    """The rows of :func:`product_rows` as JSON objects (text), written by the database: the
    same keys in the same order, with the same values. They come as one list per batch of
    requested observations, so the caller pages and joins them without a step per row."""
    wanted = list(dict.fromkeys(obsids))
    listing = _json_listing(conn.dialect.name)
    for start in range(0, len(wanted), _BATCH):
        yield _json_rows_for(conn, listing, wanted[start : start + _BATCH], now)


def _listed(conn: Connection, obsids: Sequence[int], shape: _DictRows) -> Iterator:
    wanted = list(dict.fromkeys(obsids))
    for start in range(0, len(wanted), _BATCH):
        yield from _rows_for(conn, wanted[start : start + _BATCH], shape)


_BATCH = 500
_LISTED = observations.alias("listed")
_OWNER = observations.alias("owner")
#: The release date that decides a file's rights: its owner's, else the listing observation's.
_RELEASE = func.coalesce(_OWNER.c.t_obs_release, _LISTED.c.t_obs_release)


class _DictRows:
    """Rows as dicts built in Python. Columns come out in the order of the answer so each row
    is one dict(zip(...)); the few derived values are patched afterwards."""

    #: The statement's columns, one list for every request (so its statement is built once).
    columns = (
        *[products.c[name] for name in _PRODUCT_FIELDS],
        _LISTED.c.dataproduct_type.label("listed_type"),
        _LISTED.c.filters.label("listed_filters"),
        _LISTED.c.obs_id,
        _RELEASE.label("release"),
        observation_products.c.obsid.label("obsID"),
        products.c.product_id,
    )

    def __init__(self, now: float) -> None:
        self.now = now
        fields = len(_PRODUCT_FIELDS)
        position = {name: i for i, name in enumerate(_PRODUCT_FIELDS)}
        self._kind, self._filters = position.get("dataproduct_type"), position.get("filters")
        self._fields = fields

    def make(self, parent_text: str, r: Any) -> dict:
        fields = self._fields
        listed_type, listed_filters, obs_id, release, obsid, _pid = r[fields:]
        row = dict(zip(_PRODUCT_FIELDS, r[:fields], strict=False))
        row["obsID"] = str(obsid)
        row["obs_id"] = obs_id
        if self._kind is not None and r[self._kind] is None:
            row["dataproduct_type"] = listed_type
        if self._filters is not None and r[self._filters] is None:
            row["filters"] = listed_filters
        row["parent_obsid"] = parent_text
        row["dataRights"] = data_rights(release, now=self.now)
        return row


#: What follows each product's object, in place of its closing brace: the requested
#: observation and the rights (each of :func:`data_rights`'s two answers), in the spacing
#: clients have always had.
_PARENT_KEY = ', "parent_obsid": "'
_RIGHTS_TAILS = {rights: f'", "dataRights": "{rights}"}}' for rights in (PUBLIC, EXCLUSIVE_ACCESS)}


@functools.lru_cache(maxsize=4)
def _json_listing(dialect: str) -> DriverRows:
    """The listing's rows as (the product's JSON object, the release date that decides its
    rights, the listed obsid, the file's id), run on the driver's cursor.

    The parent and the rights are appended in Python: on PostgreSQL cutting the brace and
    appending there (rtrim, ||, CASE) cost its backend 2.5 ms of CPU for 1,134 rows, several
    times what Python spends; on SQLite both cost the same.
    """
    columns = (
        _json_product(dialect).label("product"),
        _RELEASE.label("release"),
        observation_products.c.obsid,
        products.c.product_id,
    )
    return DriverRows(_listing_query(columns, dialect))


def _json_product(dialect: str) -> Prebuilt:
    def value(name: str) -> Any:
        if name in ("dataproduct_type", "filters"):  # the file's own, else the observation's
            return func.coalesce(products.c[name], _LISTED.c[name])
        return products.c[name]

    pairs = [(name, value(name)) for name in _PRODUCT_FIELDS]
    pairs += [("obsID", as_text(observation_products.c.obsid)), ("obs_id", _LISTED.c.obs_id)]
    return Prebuilt(("product row", dialect), json_object(dialect, pairs))


def _json_rows_for(
    conn: Connection, listing: DriverRows, parents: list[int], now: float
) -> list[str]:
    """The JSON rows of ``parents`` (distinct obsids), as :func:`_rows_for` orders them."""
    members = _members_of(conn, parents)
    listed_ids = sorted({*parents, *(m for found in members.values() for m in found)})
    rows = listing.tuples(conn, {"listed": listed_ids})
    # The rows come ordered by obs_id, which is unique: each listed observation's rows are
    # consecutive, already in the order they are listed in, so they are grouped in C.
    by_listed: dict[int, list[Any]] = {}
    for listed, group in groupby(rows, _LISTED_OBSID):
        by_listed.setdefault(listed, []).extend(group)
    # The rights of each release date, decided once (a list has fewer dates than files).
    tails = {
        release: _RIGHTS_TAILS[data_rights(release, now=now)]
        for release in set(map(_RELEASE_OF, rows))
    }
    rank = {listed: i for i, listed in enumerate(by_listed)} if members else {}
    parts: list[tuple[str, Sequence[Any]]] = []  # (the parent's text, its rows) in order
    for parent in parents:
        own = by_listed.get(parent, ())
        if parent in members:
            own = _with_members(own, members[parent], by_listed, rank)
        parts.append((_PARENT_KEY + str(parent), own))
    # Each object's closing brace (the text's last character on both databases) is replaced
    # by the parent and the rights; one comprehension over all parents, the row unpacked by
    # name (a comprehension per parent, or a starred target, cost a third as much again).
    return [
        f"{product[:-1]}{listed_under}{tails[release]}"
        for listed_under, own in parts
        for product, release, _, _ in own
    ]


_RELEASE_OF = itemgetter(1)
_LISTED_OBSID = itemgetter(2)


def _with_members(
    own: Sequence[Any], members: list[int], by_listed: dict[int, list[Any]], rank: dict[int, int]
) -> list[Any]:
    """A level-3 observation's own files, then its members' files in the listing's order
    (``rank``: the place of each listed observation's group), each file once."""
    listed_members = sorted((m for m in set(members) if m in rank), key=rank.__getitem__)
    rows = list(own)
    seen = {row[3] for row in own}
    for member in listed_members:
        for row in by_listed[member]:
            if row[3] not in seen:  # within one requested observation a file appears once
                seen.add(row[3])
                rows.append(row)
    return rows


def _members_of(conn: Connection, parents: list[int]) -> dict[int, list[int]]:
    """The members of those ``parents`` that have any (a parent is never its own member)."""
    members: dict[int, list[int]] = {}
    found = _member_listing(conn.dialect.name).tuples(conn, {"parents": parents})
    for parent, member in found:
        if member != parent:
            members.setdefault(parent, []).append(member)
    return members


@functools.lru_cache(maxsize=4)
def _member_listing(dialect: str) -> DriverRows:
    return DriverRows(_members_query(dialect))


def _rows_for(conn: Connection, parents: list[int], shape: _DictRows) -> Iterator:
    # Members are fetched first: "obsid = parent OR obsid IN (subquery)" defeats the index.
    members: dict[int, list[int]] = {parent: [] for parent in parents}
    dialect = conn.dialect.name
    for parent, member in conn.execute(_members_query(dialect), {"parents": parents}).tuples():
        if member != parent:
            members[parent].append(member)
    listed_ids = sorted({*parents, *(m for found in members.values() for m in found)})
    by_listed: dict[int, list[tuple[int, Any]]] = {}  # listed obsid -> (position, row)
    params = {"now": shape.now, "listed": listed_ids}
    listing = _listing_query(shape.columns, dialect)
    for position, r in enumerate(conn.execute(listing, params).all()):
        by_listed.setdefault(r[-2], []).append((position, r))
    make = shape.make
    for parent in parents:
        parent_text = str(parent)
        if not members[parent]:  # its own files only, each once (the table's key)
            for _, r in by_listed.get(parent, ()):
                yield make(parent_text, r)
            continue
        # The observation's own files first, then its members', each part in query order.
        others = sorted(row for m in members[parent] for row in by_listed.get(m, ()))
        seen: set[int] = set()
        for _, r in [*by_listed.get(parent, ()), *others]:
            if r[-1] in seen:  # within one requested observation a file appears once
                continue
            seen.add(r[-1])
            yield make(parent_text, r)


# Statements built once per database, their lists of obsids bound at execution as one value
# each (:mod:`skyarchive.db.id_lists`): building them (the joins, ~30 columns, a list of
# literal obsids) cost more than SQLite took to run them, and so did rendering an expanding
# IN list of 1,000 placeholders.
@functools.lru_cache(maxsize=4)
def _members_query(dialect: str) -> Select[Any]:
    members = observation_members.c
    return select(members.parent_obsid, members.member_obsid).where(
        in_ids(members.parent_obsid, "parents", dialect)
    )


@functools.lru_cache(maxsize=8)
def _listing_query(columns: tuple[Any, ...], dialect: str) -> Select[Any]:
    return (
        select(*columns)
        .join(products, products.c.product_id == observation_products.c.product_id)
        .join(_LISTED, _LISTED.c.obsid == observation_products.c.obsid)
        .outerjoin(_OWNER, _OWNER.c.obsid == products.c.owner_obsid)
        .where(in_ids(observation_products.c.obsid, "listed", dialect))
        .order_by(_LISTED.c.obs_id, products.c.productFilename)
    )
