"""The rows of MAST's JWST keyword tables: a FITS file's primary header turned into the
table's columns, as each column shows its values.

A table has some 250 columns and a header holds a few dozen of its keywords. Turning a page
of headers into rows is most of a keyword query's own work (docs/performance.md, issue 20), so
the one product writer stores each file's keyword columns ready, as JSON by column name
(:func:`stored_columns`, ``product_keywords.keyword_columns``, schema 0043), and a page whose
files all have them merges them into its rows instead of reading each header; MAST's answers
write the stored text itself into their rows (:meth:`RowShape.texts`), knowing which columns it
holds from the identity of its set of columns stored beside it (``keyword_column_set``, schema
0044) instead of decoding it. The writer stores the archive columns only a file's ingest
changes as well (:func:`archive_members`, schema 0045), so a MAST answer of a whole table
reads no products row (:meth:`RowShape.stored_texts`). What a stored form holds
depends on this module's code (the columns, their converters), so each is stamped
(:func:`stored_stamp`): a file stored by other code, or before schema 0043, is shaped from its
header as before, with the same outcome.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from itertools import repeat
from typing import Any, NamedTuple, cast

import orjson

from skyarchive.access.rights import PUBLIC, data_rights
from skyarchive.search.keyword_columns import (
    ARCHIVE,
    DATES,
    IDENTITY,
    INSTRUMENT_KEYWORDS,
    KeywordColumn,
    file_set_name,
    is_guide_star,
    product_level,
    table_columns,
)

MJD_OF_UNIX_EPOCH = 40587.0
#: The columns of a table that no keyword fills (:func:`_archive_columns`).
_ARCHIVE_NAMES = frozenset(f"{IDENTITY} {ARCHIVE}".split())


def date_value(header: dict[str, Any], keyword: str) -> Any:
    """A date keyword's value; ``DATE-OBS`` without a time gets ``TIME-OBS`` (or midnight)."""
    value = header.get(keyword)
    if keyword == "DATE-OBS" and isinstance(value, str) and "T" not in value:
        return f"{value}T{header.get('TIME-OBS') or '00:00:00'}"
    return value


def mjd_of_iso(value: Any) -> float | None:
    """A header date (ISO 8601 text, UTC unless it says otherwise) or number as MJD."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        return None
    return _mjd_of_text(value)


@lru_cache(maxsize=4096)  # files of one ingest share their dates (ingest time, DATE, ...)
def _mjd_of_text(value: str) -> float | None:
    if not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() / 86400.0 + MJD_OF_UNIX_EPOCH


@dataclass(frozen=True)
class _ColumnPlan:
    """What :class:`RowShape` does for each column of a choice of columns: the same for
    every answer with that choice, so worked out once (a table's 250 columns took 0.1 ms)."""

    blank: dict[str, Any]
    archive: list[str]
    # header keyword -> (column, converter of a column's values); a keyword fills one
    # column, except dates
    plain: dict[str, tuple[str, Callable[[list[Any]], list[Any]]]]
    # date keyword -> (column, as MJD?) for each column it fills (date_obs, date_obs_mjd)
    dated: dict[str, list[tuple[str, bool]]]
    keyword_names: frozenset[str]  # the columns a keyword fills
    # the keyword columns in column order, and per set of stored columns (by its
    # :func:`column_set`) what :meth:`RowShape.texts` writes of a row's keyword columns
    # (:meth:`keyword_parts`)
    keyword_order: tuple[str, ...]
    every_archive: bool  # every archive column is shown (those of :func:`_archive_columns`)
    stored_texts: dict[str, _StoredText] = field(default_factory=dict, compare=False, repr=False)

    @staticmethod
    @functools.lru_cache(maxsize=64)
    def of(columns: tuple[KeywordColumn, ...]) -> _ColumnPlan:
        archive: list[str] = []
        plain: dict[str, tuple[str, Callable[[list[Any]], list[Any]]]] = {}
        dated: dict[str, list[tuple[str, bool]]] = {}
        for column in columns:
            name, keyword = column.info.name, column.keyword
            if keyword is None:
                archive.append(name)
            elif column.date_of is not None or name in DATES:
                dated.setdefault(keyword, []).append((name, column.date_of is not None))
            else:
                plain[keyword] = (name, _COLUMN_CONVERTERS[column.info.type])
        blank = dict.fromkeys(column.info.name for column in columns)
        keyword_names = frozenset(blank) - frozenset(archive)
        keyword_order = tuple(name for name in blank if name in keyword_names)
        every_archive = frozenset(archive) == _ARCHIVE_NAMES
        return _ColumnPlan(blank, archive, plain, dated, keyword_names, keyword_order,
                           every_archive)  # fmt: skip

    def keyword_parts(self, text: str, column_set: str) -> tuple[str, str]:
        """What a row written as JSON text holds of its keyword columns, from a file's stored
        columns (``text``, holding the set of columns ``column_set`` names): every keyword
        column the answer shows, the stored ones as they are, then the others, null; two
        runs of members without braces (either may be empty), joined only into the row
        (a row's text is some 4 kB, each copy of it a cost). The text is decoded only the first
        time its set is met, and when the answer shows only some of its columns."""
        kept = self.stored_texts.get(column_set)
        if kept is None:
            kept = self._stored_text(column_set, tuple(orjson.loads(text)))
        if kept.shown is None:  # the usual file: its stored text is written as it is
            return text[1:-1], kept.nulls
        # another table's keyword, or a choice of columns: those shown only
        stored = orjson.loads(text)
        return orjson.dumps({name: stored[name] for name in kept.shown}).decode()[1:-1], kept.nulls

    def _stored_text(self, column_set: str, keys: tuple[str, ...]) -> _StoredText:
        present = frozenset(keys)
        shown = (
            None
            if present <= self.keyword_names
            else tuple(name for name in keys if name in self.keyword_names)
        )
        nulls = ",".join(
            orjson.dumps(name).decode() + ":null"
            for name in self.keyword_order
            if name not in present
        )
        kept = _StoredText(shown, nulls)
        if len(self.stored_texts) >= _MOST_STORED_TEXTS:  # files of unusual headers, many
            self.stored_texts.clear()
        self.stored_texts[column_set] = kept
        return kept


class _StoredText(NamedTuple):
    """Of a set of stored keyword columns: those an answer shows (None: all of them), and the
    members naming the answer's other keyword columns, each null."""

    shown: tuple[str, ...] | None
    nulls: str


#: Sets of stored columns a plan keeps the text of: a page's files share a few (the demo's 361
#: files, 29). An entry of a whole table is ~4 kB (its nulls), so a table's plan holds ~2 MB at
#: most; past it the plan starts again.
_MOST_STORED_TEXTS = 512


#: A file's row as the page query reads it (``keyword_search._file_rows``), by position: the
#: archive's columns, then the owner's (:func:`_owner_values`), then the stored header, the
#: stored keyword columns, their set of columns' identity and their stamp.
HEADER, STORED, COLUMN_SET, STAMP = -4, -3, -2, -1

#: A file's row as a MAST answer's page query reads it when the answer shows every archive
#: column (``keyword_search._stored_rows``), by position: the file's id, its stored archive
#: members, its observation's release date, its stored keyword columns, their set of columns'
#: identity and their stamp.
S_ID, S_MEMBERS, S_RELEASED, S_KEYWORDS, S_SET, S_STAMP = range(6)


class RowShape:
    """Builds result rows (dicts in column order) from database rows; what to do for each
    column is worked out once per answer, not per row.

    A row starts as a copy of an all-None row (one C-level copy, in column order) and only
    the keywords the file has are filled in: from its stored keyword columns when every file
    of the page has them from this very code (one C-level update a row), else from the
    page's headers, a column at a time, each by a converter chosen for its column's type
    beforehand: a table has some 250 columns and a header rarely holds them all, so the work
    follows the headers, not the table.
    """

    def __init__(
        self, columns: Sequence[KeywordColumn], now: float, *, with_owner: bool = False
    ) -> None:
        self._now = now
        self._with_owner = with_owner
        self._plan = plan = _ColumnPlan.of(tuple(columns))
        self._blank, self._archive = plan.blank, plan.archive

    def __call__(self, found: Sequence[Any]) -> list[dict[str, Any]]:
        """The rows of ``found`` (database rows), in the same order."""
        out = list(map(dict.copy, repeat(self._blank, len(found))))
        if not found:
            return out
        names: list[str] = []
        columns: list[Sequence[Any]] = []
        plan = self._plan
        if plan.plain or plan.dated:
            stamp = stored_stamp()
            if all(row[STAMP] == stamp for row in found):
                self._stored_columns(out, [row[STORED] for row in found])
            else:
                headers = [_header_of(row[HEADER]) for row in found]
                _keyword_columns(plan, headers, names, columns)
        if self._archive:
            archive = _archive_columns(found, self._now)
            names += self._archive
            columns += [archive[name] for name in self._archive]
        if names:  # one C-level update per row from the page's columns, all at once
            for shaped, row_values in zip(out, zip(*columns, strict=True), strict=True):
                shaped.update(zip(names, row_values, strict=True))
        if self._with_owner:
            for shaped, row in zip(out, found, strict=True):
                shaped.update(_owner_values(row, self._now))
        return out

    def texts(self, found: Sequence[Any]) -> list[str]:
        """The rows of ``found`` as JSON text: the objects orjson writes of :meth:`__call__`'s
        rows, their members in another order (the archive's columns first, which the table
        begins with four of).

        Each is written from its file's stored keyword columns without a dict per row: the
        archive's columns, then the stored text as it is and the keyword columns it lacks as
        nulls, written once per set of stored columns. Decoding, merging into a row of some
        250 columns and encoding each row again was a third of a keyword query's own work
        (docs/performance.md, issue 20). A file whose columns this code did not store gets
        them made from its header as they would be stored, so a page is the same bytes
        either way."""
        plan = self._plan
        if self._with_owner or not found or not plan.keyword_order:
            return self._encoded(found)
        stored = [row[STORED] for row in found]
        column_sets = [row[COLUMN_SET] for row in found]
        stamp = stored_stamp()
        # stored by other code, or never (or a set's identity lost by a hand edit, which would
        # key another set's nulls): as this code would store them
        stale = [i for i, row in enumerate(found)
                 if row[STAMP] != stamp or row[COLUMN_SET] is None]  # fmt: skip
        if stale:
            made = _stored_texts([_header_of(found[i][HEADER]) for i in stale])
            if None in made:  # an integer past 64 bits
                return self._encoded(found)
            for i, (text, columns) in zip(stale, cast(list[StoredColumns], made), strict=True):
                stored[i], column_sets[i] = text, columns
        keywords = list(map(plan.keyword_parts, stored, column_sets))
        if not self._archive:
            return [f"{{{_members(shown, nulls)}}}" for shown, nulls in keywords]
        archive = _archive_columns(found, self._now)
        heads = _objects({name: archive[name] for name in self._archive})
        return [
            f"{head[:-1].decode()},{shown},{nulls}}}" if shown and nulls
            else _joined(_members(shown, nulls), head)
            for head, (shown, nulls) in zip(heads, keywords, strict=True)
        ]  # fmt: skip

    @property
    def writes_stored(self) -> bool:
        """Whether :meth:`stored_texts` writes this answer's rows: it shows every archive
        column and no owner's fields (a MAST answer of a whole table)."""
        return self._plan.every_archive and not self._with_owner

    def stored_texts(
        self, found: Sequence[Any], full_rows: Callable[[list[int]], Sequence[Any]]
    ) -> list[str]:
        """The rows of ``found`` (read by position, :data:`S_ID` ...) as JSON text: each
        file's stored archive members (:func:`archive_members`), its release's, then its
        keyword members as :meth:`texts` writes them.

        Reading each row's archive columns from the products and observations rows, working
        out its file set and level and writing them as JSON was about half of a keyword
        query's own work; now the page statement reads two stored texts and a release date
        per file (docs/performance.md, issue 20). A file without its stored members, or with
        keyword columns stored by other code, is written from its other row (:meth:`texts`'s,
        which ``full_rows`` reads for the ids given, in their order) as they would be stored:
        a page is the same bytes either way."""
        if not found:
            return []
        stamp = stored_stamp()
        members = [row[S_MEMBERS] for row in found]
        stored = [row[S_KEYWORDS] for row in found]
        column_sets = [row[S_SET] for row in found]
        stale = [i for i, row in enumerate(found)  # not stored, or by other code
                 if row[S_STAMP] != stamp or None in (row[S_MEMBERS], row[S_SET])]  # fmt: skip
        if stale:
            full = full_rows([found[i][S_ID] for i in stale])
            made = _stored_texts([_header_of(row[HEADER]) for row in full])
            if None in made:  # an integer past 64 bits
                return self._encoded(full_rows([row[S_ID] for row in found]))
            fixed = _fixed_members([row[:_FACTS] for row in full])
            for i, own, (text, columns) in zip(stale, fixed, cast(list[StoredColumns], made),
                                               strict=True):  # fmt: skip
                members[i], stored[i], column_sets[i] = own, text, columns
        release = _release_members([row[S_RELEASED] for row in found], self._now)
        if not self._plan.keyword_order:
            return [f"{{{own},{released}}}" for own, released in zip(members, release, strict=True)]
        keywords = map(self._plan.keyword_parts, stored, column_sets)
        return [
            f"{{{own},{released},{shown},{nulls}}}" if shown and nulls
            else f"{{{own},{released}{_after(_members(shown, nulls))}}}"
            for own, released, (shown, nulls) in zip(members, release, keywords, strict=True)
        ]  # fmt: skip

    def _encoded(self, found: Sequence[Any]) -> list[str]:
        return [orjson.dumps(row, default=str).decode() for row in self(found)]

    def _stored_columns(self, out: list[dict[str, Any]], stored: list[str]) -> None:
        """Each row's stored keyword columns merged in: as they are when the answer shows every
        column they hold (the usual page: all of its table's columns), else those it shows."""
        shown = self._plan.keyword_names
        for shaped, text in zip(out, stored, strict=True):
            values = orjson.loads(text)
            if values.keys() <= shown:
                shaped.update(values)
            else:  # another table's keyword, or a choice of columns
                shaped.update({name: values[name] for name in values.keys() & shown})


#: A row's archive columns (a dict) as a JSON object.
_ENCODED = functools.partial(orjson.dumps, default=str)


def _objects(columns: Mapping[str, Sequence[Any]]) -> Iterator[bytes]:
    """Each row of ``columns`` (each name's values, one per row) as a JSON object: the row
    as a dict, then its JSON, in C-level passes rather than a Python loop per row."""
    names = list(columns)
    return map(_ENCODED, map(dict, map(zip, repeat(names), zip(*columns.values(), strict=True))))


def _members_of(columns: Mapping[str, Sequence[Any]]) -> list[str]:
    """Each row of ``columns`` as the members of a JSON object, without its braces."""
    return [text[1:-1].decode() for text in _objects(columns)]


def _after(members: str) -> str:
    """``members`` as they follow others in an object: after a comma, unless there are none."""
    return f",{members}" if members else ""


def _members(shown: str, nulls: str) -> str:
    """The keyword members of a row (:meth:`_ColumnPlan.keyword_parts`) as one run."""
    return f"{shown},{nulls}" if shown and nulls else shown or nulls


def _joined(members: str, archive: bytes) -> str:
    """A row's JSON object: its ``archive`` columns' object, then its keyword ``members``."""
    return f"{archive[:-1].decode()},{members}}}" if members else archive.decode()


def _keyword_columns(
    plan: _ColumnPlan,
    headers: list[dict[str, Any]],
    names: list[str],
    columns: list[Sequence[Any]],
) -> None:
    """Adds the keyword columns of the page to ``names`` and ``columns``: each keyword some
    header holds is read from every header at once, and converted only when some value is
    not already what its column shows (most are: a page costs a few C-level passes per
    keyword instead of a Python call per value)."""
    plain, dated = plan.plain, plan.dated
    for keyword in set().union(*headers):
        fill = plain.get(keyword)
        if fill is not None:
            names.append(fill[0])
            columns.append(fill[1](list(map(dict.get, headers, repeat(keyword)))))
            continue
        fills = dated.get(keyword)
        if fills is not None:
            mjds = _mjds(headers, keyword, list(map(dict.get, headers, repeat(keyword))))
            for name, as_mjd in fills:
                names.append(name)
                columns.append(mjds if as_mjd else _net_dates(mjds))


def _mjds(headers: list[dict[str, Any]], keyword: str, values: list[Any]) -> list[float | None]:
    """A date keyword's values as MJD (None where a header has none)."""
    dates = [None if value is None else date_value(header, keyword)
             for header, value in zip(headers, values, strict=True)]  # fmt: skip
    try:
        return _each_once(mjd_of_iso, dates)
    except TypeError:  # a value JSON nests (no FITS header holds one): no date
        return [mjd_of_iso(date) for date in dates]


def _each_once(convert: Callable[[Any], Any], values: Sequence[Any]) -> list[Any]:
    """``convert`` of each of ``values``, worked out once per distinct value: the files of a
    page share most of their dates."""
    converted = {value: convert(value) for value in set(values)}
    return list(map(converted.__getitem__, values))


def _net_dates(mjds: Sequence[float | None]) -> list[str | None]:
    return _each_once(_net_date, mjds)


#: What ``with_owner`` adds to a row: the owning observation, its program and collection,
#: and the file's data rights, as the portal's other grids carry them.
OWNER_FIELDS = ("obsid", "proposal_id", "obs_collection", "dataRights")


def _owner_values(row: Any, now: float) -> dict[str, Any]:
    obsid, proposal_id, obs_collection, released = row[HEADER - 4 : HEADER]  # as read
    return {
        "obsid": None if obsid is None else str(obsid),
        "proposal_id": proposal_id,
        "obs_collection": obs_collection,
        "dataRights": data_rights(released, now=now),
    }


def _header_of(text: str | None) -> dict[str, Any]:
    try:
        return orjson.loads(text or "{}")  # type: ignore[no-any-return]
    except orjson.JSONDecodeError:  # NaN or Infinity, which Python's json writes and reads
        return json.loads(text or "{}")  # type: ignore[no-any-return]


class FileFacts(NamedTuple):
    """What the archive holds of a keyword file that its row's archive columns show, but for
    its release: the first columns of a row as the page query reads it (its products row and
    its owner observation's ``obs_id``)."""

    product_id: int
    filename: str
    calib_level: int | None
    subgroup: str | None  # productSubGroupDescription
    owner_obs_id: str | None
    size: int | None
    sha256: str | None
    data_uri: str | None
    ingested_at: str | None


_FACTS = len(FileFacts._fields)


def _archive_columns(found: Sequence[Any], now: float) -> dict[str, Sequence[Any]]:
    """The archive columns of a page's files (a table's columns without a keyword), a
    column each."""
    columns = list(zip(*found, strict=True))
    released = columns[HEADER - 1]
    return {**_fixed_columns(columns[:_FACTS]), **_release_columns(released, now)}


def _fixed_columns(facts: Sequence[Sequence[Any]]) -> dict[str, Sequence[Any]]:
    """The archive columns that only the file's own ingest changes, a column each, from the
    columns of :class:`FileFacts` (a column each); in the order a row writes them."""
    ids, filenames, calib_levels, subgroups, owners, sizes, checksums, uris, ingested_at = facts
    ingested = _each_once(mjd_of_iso, ingested_at)
    ingested_dates = _net_dates(ingested)
    nothing, no = (None,) * len(ids), (False,) * len(ids)
    return {
        "ArchiveFileID": ids,
        "filename": filenames,
        "fileSetName": list(map(file_set_name, filenames, calib_levels, subgroups, owners)),
        "productLevel": list(map(product_level, calib_levels, subgroups)),
        "fileSize": sizes,
        "checksum": checksums,
        "ingestStartDate": ingested_dates,
        "ingestStartDate_mjd": ingested,
        "ingestCompletionDate": ingested_dates,
        "ingestCompletionDate_mjd": ingested,
        "FileTypeID": nothing,
        "isItar": no,
        "isStale": no,
        "FileSetId": nothing,
        "dataURI": uris,
    }


def _release_columns(released: Sequence[float | None], now: float) -> dict[str, Sequence[Any]]:
    """The archive columns that follow the release date of the file's observation."""
    restricted = _each_once(lambda release: data_rights(release, now=now) != PUBLIC, released)
    return {
        "publicReleaseDate": _net_dates(released),
        "publicReleaseDate_mjd": released,
        "isRestricted": restricted,
    }


def _release_members(released: Sequence[float | None], now: float) -> list[str]:
    """Of each release date, its :func:`_release_columns` as the members of a JSON object,
    without braces (written once per date: a page's files share a few)."""
    dates = list(set(released))
    written = dict(zip(dates, _members_of(_release_columns(dates, now)), strict=True))
    return list(map(written.__getitem__, released))


def _fixed_members(facts: Sequence[Sequence[Any]]) -> list[str]:
    """Of each file (a :class:`FileFacts` each), its :func:`_fixed_columns` as the members
    of a JSON object, without braces."""
    return _members_of(_fixed_columns(list(zip(*facts, strict=True))))


def archive_members(facts: FileFacts) -> str | None:
    """What the one product writer stores of a file's archive columns
    (``product_keywords.archive_members``, schema 0045): those only its own ingest changes, as
    a MAST answer writes them; None for a level-3 file without its observation yet (its
    file-set name is the observation's), which is written from its products row per search."""
    if facts.calib_level == 3 and facts.owner_obs_id is None:
        return None
    return _fixed_members([facts])[0]


def value_as_shown(value: Any, kind: str) -> Any:
    """A header value as a column of type ``kind`` shows it (None when it cannot)."""
    return None if value is None else _CONVERTERS[kind](value)


def _text(value: Any) -> str:
    return str(value).strip()


def _integer(value: Any) -> int | None:
    if type(value) is int:  # not a bool, whose text is not a number
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _real(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _flag_text(value: Any) -> str:  # MAST writes keyword flags as 't' / 'f'
    return "t" if value is True or str(value).upper() in ("T", "TRUE") else "f"


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "string": _text, "int": _integer, "float": _real, "boolean": _flag_text,
}  # fmt: skip

# Converters of a page's values of one keyword (None where a header lacks it), giving what
# :data:`_CONVERTERS` gives value by value. JSON headers mostly hold the very value a column
# shows (text without edge blanks, integers, finite reals): such a column is checked by
# C-level passes over it and kept as it is.
_STRING = frozenset((str,))
_STRING_OR_NONE = frozenset((str, type(None)))
_INTEGER_OR_NONE = frozenset((int, type(None)))  # not bool, whose text is not a number
_REAL_OR_NONE = frozenset((float, type(None)))


def _texts(values: list[Any]) -> list[Any]:
    kinds = set(map(type, values))
    if kinds == _STRING:  # every header holds the keyword (the usual page)
        return list(map(str.strip, values))
    if kinds <= _STRING_OR_NONE:
        return [value and value.strip() for value in values]  # None and "" stay as they are
    return [None if value is None else _text(value) for value in values]


def _integers(values: list[Any]) -> list[Any]:
    kinds = set(map(type, values))
    if kinds <= _INTEGER_OR_NONE:
        return values
    if kinds == _STRING:  # numbers written as text (PROGRAM, VISIT, ...)
        try:  # int() skips the edge blanks _integer strips
            return list(map(int, values))
        except ValueError:  # some text is no integer: it shows None
            pass
    return [None if value is None else _integer(value) for value in values]


def _reals(values: list[Any]) -> list[Any]:
    # filter(None, ...) leaves out None (and 0.0, which is finite); NaN and infinities are
    # kept and fail the test (only Python's json, the fallback of _header_of, reads them)
    if _REAL_OR_NONE.issuperset(map(type, values)) and all(
        map(math.isfinite, filter(None, values))
    ):
        return values
    return [None if value is None else _real(value) for value in values]


def _flag_texts(values: list[Any]) -> list[Any]:
    return [None if value is None else _flag_text(value) for value in values]


_COLUMN_CONVERTERS: dict[str, Callable[[list[Any]], list[Any]]] = {
    "string": _texts, "int": _integers, "float": _reals, "boolean": _flag_texts,
}  # fmt: skip


def _net_date(mjd: float | None) -> str | None:
    """MAST's JSON dates: ``/Date(<milliseconds since 1970>)/``."""
    if mjd is None:
        return None
    return f"/Date({round((mjd - MJD_OF_UNIX_EPOCH) * 86400000)})/"


@functools.cache
def _every_keyword_column() -> tuple[KeywordColumn, ...]:
    """The keyword columns of every table, each once (a keyword makes the same column, of the
    same type, in every table that has it)."""
    seen: dict[str, KeywordColumn] = {}
    for instrument in INSTRUMENT_KEYWORDS:
        for column in table_columns(instrument):
            if column.keyword is not None:
                seen.setdefault(column.info.name, column)
    return tuple(seen.values())


@functools.cache
def stored_stamp() -> str:
    """What stored keyword columns were made by: the columns every header keyword fills, and
    the code of the functions that turn values into what the columns show (their source, so
    that no change to them can leave columns stored by the old code trusted; any edit, even
    of a comment, only makes the files shaped per search until the worker's ``keyword-columns``
    job or ``skyarchive keyword-columns`` stores them again)."""
    plan = _ColumnPlan.of(_every_keyword_column())
    plain = sorted((keyword, name, convert.__name__)
                   for keyword, (name, convert) in plan.plain.items())  # fmt: skip
    dated = sorted((keyword, sorted(fills)) for keyword, fills in plan.dated.items())
    code = [_code_of(function) for function in _SHAPING_CODE]
    made_by = repr((plain, dated, code))
    return hashlib.sha256(made_by.encode()).hexdigest()[:16]


def _code_of(function: Callable[..., Any]) -> str:
    try:
        return inspect.getsource(function)
    except (OSError, TypeError):  # no source installed: its bytecode
        return repr(function.__code__.co_code) if hasattr(function, "__code__") else repr(function)


class StoredColumns(NamedTuple):
    """A file's keyword columns as stored: their JSON ``text`` and the :func:`column_set` of
    the columns it holds."""

    text: str
    column_set: str


def stored_columns(header: dict[str, Any]) -> StoredColumns | None:
    """A file's keyword columns as every table shows them, as JSON by column name (only those
    its header fills with a value, in the order of their names); None when they cannot be
    written as JSON (an integer past 64 bits), so the file is shaped from its header per
    search."""
    return _stored_texts([header])[0]


def _stored_texts(headers: list[dict[str, Any]]) -> list[StoredColumns | None]:
    """:func:`stored_columns` of each of ``headers``, worked out a column at a time. In name
    order, so that a file's text is the same whichever process wrote it (a set's order is
    not) and a page written from headers is the very bytes of one written from them."""
    plan = _ColumnPlan.of(_every_keyword_column())
    names: list[str] = []
    columns: list[Sequence[Any]] = []
    _keyword_columns(plan, headers, names, columns)
    texts: list[StoredColumns | None] = []
    for values in zip(*columns, strict=True) if columns else repeat((), len(headers)):
        shown = {name: value for name, value in zip(names, values, strict=True)
                 if value is not None}  # fmt: skip
        try:
            text = orjson.dumps(shown, option=orjson.OPT_SORT_KEYS).decode()
        except TypeError:  # orjson's error for an integer it cannot write
            texts.append(None)
        else:
            texts.append(StoredColumns(text, column_set(tuple(sorted(shown)))))
    return texts


@lru_cache(maxsize=1024)  # the files of an ingest share a few sets
def column_set(names: tuple[str, ...]) -> str:
    """The identity of a set of stored keyword columns (``names``, sorted): 16 hex digits,
    stored beside a file's columns, so that a page's writer knows which columns a stored text
    holds without decoding it (that decoding was a sixth of a keyword query's work)."""
    return hashlib.blake2b("\n".join(names).encode(), digest_size=8).hexdigest()


def stored_keyword_columns(header: dict[str, Any], facts: FileFacts) -> dict[str, str | None]:
    """The stored columns of a file's keyword row: its :func:`stored_columns`, their set of
    columns, its :func:`archive_members` and, when there are keyword columns, the
    :func:`stored_stamp` of the code that made them (and the members)."""
    stored = stored_columns(header)
    return {
        "archive_members": archive_members(facts),
        "keyword_columns": None if stored is None else stored.text,
        "keyword_column_set": None if stored is None else stored.column_set,
        "keyword_columns_stamp": None if stored is None else stored_stamp(),
    }


#: The functions whose code decides what a stored keyword column holds (:func:`stored_stamp`).
_SHAPING_CODE: tuple[Callable[..., Any], ...] = (
    _keyword_columns, _mjds, _each_once, _net_dates, _net_date, date_value, mjd_of_iso,
    _mjd_of_text, _texts, _integers, _reals, _flag_texts, _text, _integer, _real, _flag_text,
    stored_columns, _stored_texts, column_set,
    # the stored archive members (schema 0045)
    archive_members, _fixed_members, _fixed_columns, file_set_name, is_guide_star,
    product_level, _members_of, _objects,
)  # fmt: skip
