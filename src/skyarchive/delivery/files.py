"""Single-file delivery: find a product by data URI, check access, answer ranges.

A data URI is looked up in the catalog, never turned into a path: whatever a client sends,
only files the catalog names can be read, from the storage key the catalog holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace

from sqlalchemy import ColumnElement, Connection, Select, bindparam, func, select

from skyarchive.access.caller import LOOKUPS, CallerLookup, Credential
from skyarchive.access.policy import ANONYMOUS, Caller, check_retrieval, may_retrieve
from skyarchive.access.rights import restricted_clause
from skyarchive.db.driver_rows import DriverRows
from skyarchive.db.tables import observations, products, wss_products
from skyarchive.errors import BadQuery, NotFound, RangeNotSatisfiable
from skyarchive.storage import Storage

_MEDIA_TYPES = {
    "fits": "application/fits", "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png",
    "gif": "image/gif", "json": "application/json", "csv": "text/csv", "ecsv": "text/plain",
    "txt": "text/plain",
}  # fmt: skip
#: The only types a browser may show in place (previews); every other file is an attachment.
#: Never HTML, SVG or script: a data file must not run as a page of the archive's origin.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif"})
_RANGE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$", re.ASCII)
_MAX_DIGITS = 18  # a byte position beyond 10**18 lies past the end of any file
_MAX_URI = 1024


@dataclass(frozen=True)
class ProductFile:
    product_id: int
    filename: str
    data_uri: str
    size: int
    sha256: str
    storage_key: str
    proposal_id: str | None
    t_obs_release: float | None
    obs_id: str | None
    obs_collection: str

    @property
    def etag(self) -> str:
        return f'"{self.sha256}"'

    @property
    def media_type(self) -> str:
        return media_type_of(self.filename)


def media_type_of(filename: str) -> str:
    """The type a file is served as, by extension; unknown (HTML, SVG, JS...) as bytes."""
    return _MEDIA_TYPES.get(filename.rsplit(".", 1)[-1].lower(), "application/octet-stream")


# A file's release: its owning observation's, or, for a file owned by no observation, its own
# (WSS products are public on arrival). Every query that judges a file reads this one expression.
FILE_RELEASE = func.coalesce(observations.c.t_obs_release, wss_products.c.released_mjd).label(
    "t_obs_release"
)


def joined_to_owner(query: Select) -> Select:
    """``query`` over products, joined to what decides each file's release (FILE_RELEASE)."""
    return query.outerjoin(observations, observations.c.obsid == products.c.owner_obsid).outerjoin(
        wss_products, wss_products.c.product_id == products.c.product_id
    )


def _product_file_query(key: ColumnElement[str]) -> Select:
    return joined_to_owner(
        select(
            products.c.product_id, products.c.productFilename, products.c.dataURI,
            products.c.size, products.c.sha256, products.c.storage_key, products.c.proposal_id,
            products.c.obs_collection, observations.c.obs_id, FILE_RELEASE,
        )
    ).where(key == bindparam("uri"))  # fmt: skip


# Built once: building the statement and its cache key per request cost as much as running it.
_BY_DATA_URI = _product_file_query(products.c.dataURI)
_BY_FILENAME = _product_file_query(products.c.productFilename)
# ... and read on the driver's cursor: SQLAlchemy's execution of it cost more than the read.
_ROWS_BY_URI = {True: DriverRows(_BY_DATA_URI), False: DriverRows(_BY_FILENAME)}


def _with_caller(query: Select, lookup: CallerLookup) -> Select:
    """``query`` with the rows of a credential's caller (``lookup.statement``, the one
    statement for a token or a session, its user and programs) beside the file's row: a row
    per program, the ``caller_*`` columns NULL when no credential has the digest, and for a
    file already public (``rights.restricted_clause``, the SQL twin of the rule's public test,
    at ``:now``): its answer does not depend on who asks, so the credential is not even
    looked up."""
    caller = lookup.statement.subquery("caller")
    labelled = (caller.c[name].label(f"caller_{name}") for name in lookup.fields)
    restricted = restricted_clause(FILE_RELEASE.element, bindparam("now"))
    return query.add_columns(*labelled).outerjoin(caller, restricted)


#: (credential kind, looked up by data URI?) -> the file's and the caller's statement.
_WITH_CALLER = {
    (lookup.name, by_uri): DriverRows(_with_caller(query, lookup))
    for lookup in LOOKUPS
    for by_uri, query in ((True, _BY_DATA_URI), (False, _BY_FILENAME))
}


def _checked_uri(uri: str) -> str:
    uri = (uri or "").strip()
    if not uri or len(uri) > _MAX_URI or "\x00" in uri:
        raise BadQuery("Give the file's data URI, e.g. uri=mast:JWST/product/<filename>.")
    return uri


def find_product(conn: Connection, uri: str) -> ProductFile:
    """The product whose dataURI is ``uri`` (a bare file name is accepted too)."""
    uri = _checked_uri(uri)
    rows = _ROWS_BY_URI[":" in uri].all(conn, {"uri": uri})
    if not rows:
        raise NotFound(f"No file with data URI {uri!r} in this archive.")
    return _product(rows[0])


def find_product_and_caller(
    conn: Connection, uri: str, credential: Credential, *, now: float
) -> tuple[ProductFile, Callable[[], Caller]]:
    """The product (as :func:`find_product`) and the caller ``credential`` stands for (an API
    token or a portal session), read in one statement; the caller comes as a function for
    :func:`authorise` (at the same ``now``), which calls it only when the file is not public
    (it judges the credential then, and may record its use on ``conn``)."""
    uri = _checked_uri(uri)
    lookup = credential.lookup
    query = _WITH_CALLER[lookup.name, ":" in uri]
    rows = query.all(conn, {"uri": uri, "digest": credential.digest, "now": now})
    if not rows:
        raise NotFound(f"No file with data URI {uri!r} in this archive.")

    def caller() -> Caller:  # only for a file that is not public: the rows are read then
        found = [
            SimpleNamespace(**{name: getattr(row, f"caller_{name}") for name in lookup.fields})
            for row in rows
            if row.caller_user_id is not None
        ]
        return credential.caller(conn, found)

    return _product(rows[0]), caller


def _product(row) -> ProductFile:  # type: ignore[no-untyped-def]
    return ProductFile(
        product_id=row.product_id, filename=row.productFilename, data_uri=row.dataURI,
        size=row.size, sha256=row.sha256, storage_key=row.storage_key,
        proposal_id=row.proposal_id, t_obs_release=row.t_obs_release, obs_id=row.obs_id,
        obs_collection=row.obs_collection,
    )  # fmt: skip


def authorise(caller: Caller | Callable[[], Caller], product: ProductFile, *, now: float) -> None:
    """Raise unless ``caller`` may retrieve ``product`` (the one rule, ``check_retrieval``).

    ``caller`` may be a function that finds the caller (from a token or a session, in the
    catalogue): it is called only when the answer depends on who asks, that is when even an
    anonymous caller would be refused, so a public file costs no lookup.
    """
    if not isinstance(caller, Caller):
        public = may_retrieve(ANONYMOUS, proposal_id=product.proposal_id,
                              t_obs_release=product.t_obs_release, now=now)  # fmt: skip
        caller = ANONYMOUS if public else caller()
    check_retrieval(
        caller,
        filename=product.filename,
        proposal_id=product.proposal_id,
        t_obs_release=product.t_obs_release,
        now=now,
    )


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte for a ``Range`` header, None for the whole file.

    Several ranges, or a unit other than bytes, are answered with the whole file, as HTTP
    allows; a range that starts past the end raises :class:`RangeNotSatisfiable`.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = (_position(text) for text in match.groups())
    if first is None and last is None:
        return None
    if first is None:  # suffix range: the last N bytes
        length = last or 0
        if length == 0:
            raise RangeNotSatisfiable(f"Range {_quoted(header)} selects no bytes.", size=size)
        return max(0, size - length), size - 1
    start = first
    end = min(last, size - 1) if last is not None else size - 1
    if start >= size or end < start:
        raise RangeNotSatisfiable(
            f"Range {_quoted(header)} is outside the file's {size} bytes.", size=size
        )
    return start, end


def _position(digits: str) -> int | None:
    """A byte position; one of more than 18 digits is read as 10**18 (past any file's end),
    so a header of thousands of digits costs no big-number conversion."""
    if not digits:
        return None
    digits = digits.lstrip("0") or "0"
    return 10**_MAX_DIGITS if len(digits) > _MAX_DIGITS else int(digits)


def _quoted(header: str) -> str:
    return repr(header) if len(header) <= 60 else repr(header[:40]) + f" ({len(header)} characters)"


def read_bytes(storage: Storage, product: ProductFile, first: int, last: int) -> Iterator[bytes]:
    return storage.open_range(product.storage_key, first, last)
