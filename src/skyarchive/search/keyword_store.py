"""The keyword store: what ``product_keywords`` holds for each FITS file, and which keyword
table lists it.

Keyword search must not work out per query which files an exposure shows (a correlated
subquery per file, most of a query's time at a million files). Instead each keyword row
stores ``listed_in``: the table that lists the file (``NIRCAM`` ... ``FGS``, ``GUIDESTAR``),
or NULL when no table lists it. The one product writer (``ingest/writer.py``) calls
:func:`refresh_listing` for the exposures whose files it writes, in the same transaction.

``keyword_counts`` holds how many files each table lists per exposure type. A page's total
under no criterion or under exposure types only, and the exposure-type dialog's counts, are
read from it; counting them from an index costs a few milliseconds per 50,000 files, every
request. The writer recounts the tables its rows were or are listed in
(:func:`refresh_counts`) after the listing, in the same transaction, so the figures are exact
by construction.

Like MAST, an exposure shows only its files at the highest product level it reached
(``rate`` files disappear once ``cal`` files exist; ``crf`` files are never listed), and
every level-3 file is listed.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    bindparam,
    delete,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy import func as sql

from skyarchive.db.state import read_state, write_state
from skyarchive.db.tables import (
    EXPOSURE_NAME_LENGTH,
    keyword_counts,
    observations,
    product_keywords,
    products,
)
from skyarchive.search.keyword_columns import LEVEL_2A, LEVEL_2C, is_guide_star
from skyarchive.search.keyword_rows import (
    FileFacts,
    date_value,
    mjd_of_iso,
    stored_keyword_columns,
    stored_stamp,
)

INSTRUMENTS = ("NIRCAM", "NIRISS", "NIRSPEC", "MIRI", "FGS")
GUIDE_STAR = "GUIDESTAR"
# Typed text columns: searched with criteria only (rows show the header's own values), so
# they are stored lower-case; a criterion is then plain equality on an indexed column.
FOLDED = frozenset(("instrume", "detector", "exp_type", "filter", "pupil", "grating",
                    "subarray", "readpatt", "targname", "category"))  # fmt: skip
_BATCH = 500  # exposures per query (bound parameters stay far below every backend's limit)


def level_rank(calib_level: int | None, subgroup: str | None) -> int:
    """Order of product levels within an exposure: 1b < 2a < 2b; 2c (crf) is never shown."""
    if calib_level == 1:
        return 1
    kind = (subgroup or "").upper()
    if kind in LEVEL_2A:
        return 2
    if kind in LEVEL_2C:
        return 0
    return 3 if calib_level == 2 else 4


def exposure_name(filename: str) -> str:
    """The exposure a file belongs to: ``jw01091002001_03102_00001`` (program ... exposure)."""
    return filename[:EXPOSURE_NAME_LENGTH]


def _is_exposure_file(calib_level: int | None) -> bool:
    return calib_level in (1, 2)


def listings(files: Sequence[dict[str, Any]]) -> dict[int, str | None]:
    """The table listing each file, by product_id; ``files`` are whole exposures' files.

    Each file is a mapping with ``product_id``, ``productFilename``, ``calib_level``,
    ``productSubGroupDescription``, ``obs_collection`` and ``instrume``.
    """
    best: dict[str, int] = defaultdict(int)
    for f in files:
        if _is_exposure_file(f["calib_level"]):
            name = exposure_name(f["productFilename"])
            rank = level_rank(f["calib_level"], f["productSubGroupDescription"])
            best[name] = max(best[name], rank)
    found: dict[int, str | None] = {}
    for f in files:
        found[f["product_id"]] = _listing(f, best[exposure_name(f["productFilename"])])
    return found


def _listing(f: dict[str, Any], best: int) -> str | None:
    if f["obs_collection"] != "JWST":
        return None
    if is_guide_star(f["productSubGroupDescription"]):
        return GUIDE_STAR
    instrument = (f["instrume"] or "").upper()
    if instrument not in INSTRUMENTS:
        return None
    level = f["calib_level"]
    if level is not None and not _is_exposure_file(level):  # level 3: always listed
        return instrument
    rank = level_rank(level, f["productSubGroupDescription"])
    return instrument if rank > 0 and rank >= best else None


def refresh_listing(conn: Connection, filenames: Iterable[str]) -> set[str]:
    """Recompute ``listed_in`` for every keyword row of the exposures of ``filenames``.

    Returns the tables that listed or now list one of those rows: the ones whose
    :func:`refresh_counts` may have changed.
    """
    exposures = sorted({exposure_name(name) for name in filenames})
    tables: set[str] = set()
    for start in range(0, len(exposures), _BATCH):
        tables |= _refresh(conn, exposures[start : start + _BATCH])
    return tables


def _exposure_expression() -> ColumnElement[str]:
    # Written as literals, not bound values: SQLite uses the expression index of schema 0009
    # only for the very same expression.
    one: ColumnElement[int] = literal_column("1")
    length: ColumnElement[int] = literal_column(str(EXPOSURE_NAME_LENGTH))
    return sql.substr(products.c.productFilename, one, length)


def _refresh(conn: Connection, exposures: list[str]) -> set[str]:
    p, k = products, product_keywords
    query = (
        select(p.c.product_id, p.c.productFilename, p.c.calib_level,
               p.c.productSubGroupDescription, p.c.obs_collection, k.c.instrume, k.c.listed_in)
        .join(k, k.c.product_id == p.c.product_id)
        .where(_exposure_expression().in_(exposures))
    )  # fmt: skip
    files = [dict(row) for row in conn.execute(query).mappings()]
    stored = {f["product_id"]: f["listed_in"] for f in files}
    changed: dict[str | None, list[int]] = defaultdict(list)
    for product_id, table in listings(files).items():
        if stored[product_id] != table:
            changed[table].append(product_id)
    for table, ids in changed.items():
        for start in range(0, len(ids), _BATCH):
            chunk = ids[start : start + _BATCH]
            conn.execute(update(k).where(k.c.product_id.in_(chunk)).values(listed_in=table))
    return {t for t in (*stored.values(), *changed) if t is not None}


def listing_tables(conn: Connection, product_ids: Sequence[int]) -> set[str]:
    """The tables that list any of these files now (read before their rows are rewritten)."""
    k = product_keywords
    tables: set[str] = set()
    for start in range(0, len(product_ids), _BATCH):
        chunk = list(product_ids[start : start + _BATCH])
        query = select(k.c.listed_in).where(k.c.product_id.in_(chunk), k.c.listed_in.is_not(None))
        tables |= set(conn.execute(query.distinct()).scalars())
    return tables


def refresh_counts(conn: Connection, tables: Iterable[str] | None = None) -> None:
    """Recount ``keyword_counts`` of ``tables`` (every table when None) from the keyword rows.

    Call it in the transaction that wrote the rows, after :func:`refresh_listing`, with every
    table a written row was or is listed in. The count reads the (listed_in, exp_type, ...)
    index in order: a few milliseconds per 50,000 listed files, once per write.
    """
    chosen = None if tables is None else sorted(set(tables))
    if chosen == []:
        return
    if conn.dialect.name == "postgresql":
        # Writers recount one after the other, so the later one counts the earlier one's
        # committed rows (the lock is held until this transaction ends).
        conn.execute(select(sql.pg_advisory_xact_lock(_COUNTS_LOCK)))
    k, c = product_keywords, keyword_counts
    listed = k.c.listed_in.is_not(None) if chosen is None else k.c.listed_in.in_(chosen)
    conn.execute(delete(c).where(c.c.listed_in.in_(chosen)) if chosen else delete(c))
    exp_type = sql.coalesce(k.c.exp_type, "")
    counted = select(k.c.listed_in, exp_type, sql.count()).where(listed)
    conn.execute(c.insert().from_select(["listed_in", "exp_type", "files"],
                                        counted.group_by(k.c.listed_in, k.c.exp_type)))  # fmt: skip


_COUNTS_LOCK = 0x534B59_4B5743  # our advisory lock for keyword_counts ("SKY", "KWC")


def stored_count(conn: Connection, table: str, exp_types: Sequence[str] | None = None) -> int:
    """How many files ``table`` lists (with one of the stored ``exp_types`` when given)."""
    c = keyword_counts
    query = select(sql.coalesce(sql.sum(c.c.files), 0)).where(c.c.listed_in == table)
    if exp_types is not None:
        query = query.where(c.c.exp_type.in_([value for value in exp_types if value]))
    return int(conn.scalar(query) or 0)


def stored_exp_type_counts(conn: Connection, table: str) -> list[tuple[str | None, int]]:
    """Each stored exposure type of ``table`` (None for files without one) with its files."""
    c = keyword_counts
    query = select(c.c.exp_type, c.c.files).where(c.c.listed_in == table, c.c.files > 0)
    return [(value or None, int(files)) for value, files in conn.execute(query)]


def fold(value: Any) -> str | None:
    """A :data:`FOLDED` keyword's stored form (also what a value is compared as)."""
    return None if value is None else str(value).strip()[:120].lower() or None


def keyword_row(facts: FileFacts, header: dict[str, Any], s_region: str | None) -> dict[str, Any]:
    """The stored form of one file's primary header: all of it as JSON, beside typed columns
    (the :data:`FOLDED` ones lower-case), the keyword columns its tables show and the archive
    columns they show of its ``facts`` (its products row, :func:`file_facts`)."""

    def text(key: str) -> str | None:  # case-folded once here, so criteria compare it as is
        return fold(header.get(key))

    def number(key: str, kind: type) -> int | float | None:
        value = header.get(key)
        usable = isinstance(value, int | float) and not isinstance(value, bool)
        return kind(value) if usable else None

    tso = header.get("TSOVISIT")
    return {
        "product_id": facts.product_id,
        "header": json.dumps(header),
        "s_region": s_region,
        **{name: text(name.upper()) for name in FOLDED},
        "tsovisit": tso if isinstance(tso, bool) else None,
        "nints": number("NINTS", int),
        "ngroups": number("NGROUPS", int),
        "effexptm": number("EFFEXPTM", float),
        "expstart": number("EXPSTART", float),
        # typed so that a date criterion, sort or range reads no header (schema 0026)
        "date_obs_mjd": mjd_of_iso(date_value(header, "DATE-OBS")),
        "listed_in": None,  # set by refresh_listing once the exposure's rows are written
        # what a keyword table shows of it, ready (schemas 0043-0045: search/keyword_rows.py)
        **stored_keyword_columns(header, facts),
    }


def _facts_query() -> Select:
    """The :class:`~skyarchive.search.keyword_rows.FileFacts` of files (to be chosen by id)."""
    p, o = products, observations
    return select(p.c.product_id, p.c.productFilename, p.c.calib_level,
                  p.c.productSubGroupDescription, o.c.obs_id, p.c.size, p.c.sha256,
                  p.c.dataURI, p.c.ingested_at
                  ).select_from(p.outerjoin(o, o.c.obsid == p.c.owner_obsid))  # fmt: skip


def file_facts(conn: Connection, product_ids: Sequence[int]) -> dict[int, FileFacts]:
    """The :class:`~skyarchive.search.keyword_rows.FileFacts` of these files, by id, as the
    catalogue holds them now (call it once their products rows are written)."""
    found: dict[int, FileFacts] = {}
    for start in range(0, len(product_ids), _BATCH):
        chunk = list(product_ids[start : start + _BATCH])
        query = _facts_query().where(products.c.product_id.in_(chunk))
        found.update((int(row[0]), FileFacts(*row)) for row in conn.execute(query))
    return found


#: ``archive_state``: the stamp (:func:`~skyarchive.search.keyword_rows.stored_stamp`) of the
#: code whose columns every keyword file was last found to carry by :func:`write_keyword_columns`.
COLUMNS_STATE = "keyword_columns_stamp"


def keyword_columns_behind(engine: Engine) -> bool:
    """Whether keyword files may lack the columns this code stores: :func:`write_keyword_columns`
    has not yet run to its end under this code's stamp (an archive upgraded to schema 0043, or
    to code that shapes some value otherwise). One primary-key read; files written since carry
    the current stamp from their writer."""
    with engine.connect() as conn:
        return read_state(conn, COLUMNS_STATE) != stored_stamp()


def write_keyword_columns(engine: Engine, *, batch: int = 1000) -> int:
    """Stores the keyword tables' columns (and the archive's, schema 0045) of every file whose
    stored ones are missing (ingested before schema 0043) or were made by other code (another
    stamp): each batch of files in
    a transaction of its own, in ``product_id`` order, so a long run holds no lock for long
    and can be stopped and run again. Returns how many files it wrote. The answers do not
    change: such files were shaped from their headers per search, the same way. Once no file
    is left behind, notes the stamp in ``archive_state`` (:func:`keyword_columns_behind`)."""
    k = product_keywords
    stamp = stored_stamp()
    behind = or_(k.c.keyword_columns_stamp.is_(None), k.c.keyword_columns_stamp != stamp)
    write = (
        update(k)
        .where(k.c.product_id == bindparam("file"))
        .values(
            keyword_columns=bindparam("columns"),
            keyword_column_set=bindparam("column_set"),
            keyword_columns_stamp=bindparam("stamp"),
            archive_members=bindparam("members"),
        )
    )
    files = _facts_query().add_columns(k.c.header).join(k, k.c.product_id == products.c.product_id)
    written, after = 0, -1
    while True:
        with engine.begin() as conn:
            query = files.where(behind, k.c.product_id > after)
            found = conn.execute(query.order_by(k.c.product_id).limit(batch)).all()
            if not found:
                write_state(conn, COLUMNS_STATE, stamp, now=time.time())
                return written
            rows = []
            for *facts, header in found:  # json: a header may hold NaN
                stored = stored_keyword_columns(json.loads(header), FileFacts(*facts))
                rows.append({"file": facts[0], "columns": stored["keyword_columns"],
                             "column_set": stored["keyword_column_set"],
                             "stamp": stored["keyword_columns_stamp"],
                             "members": stored["archive_members"]})  # fmt: skip
            conn.execute(write, rows)
        written += len(found)
        after = found[-1][0]
