"""How keyword rows are built from stored headers: a page is converted a column at a time,
so each value must come out as it would alone, whatever the other files of the page hold; and
from the keyword columns stored ready at ingest (schema 0043), which must show each file
exactly as its header does, and are not read when other code made them."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from sqlalchemy import update

from skyarchive.access.rights import now_mjd
from skyarchive.db.tables import product_keywords
from skyarchive.search import keyword_search
from skyarchive.search.criteria import parse_criteria
from skyarchive.search.keyword_rows import (
    HEADER,
    OWNER_FIELDS,
    FileFacts,
    RowShape,
    archive_members,
    column_set,
    stored_columns,
    stored_keyword_columns,
    stored_stamp,
)
from skyarchive.search.keyword_search import KeywordTable, search_keywords

NOW = 61000.0  # MJD: files released before it are public
TABLE = KeywordTable.for_service("Mast.Jwst.Filtered.Nircam")


def _row(product_id: int, header: dict[str, Any], *, released: float | None = 60000.0,
         ingested: str | None = "2024-01-02T03:04:05", stored: bool = False) -> tuple:  # fmt: skip
    """A database row as the page query reads it (its columns in order); ``stored``: with its
    keyword columns stored as the product writer stores them."""
    name = f"jw01234001001_02101_0000{product_id}_nrca1_cal.fits"
    facts = FileFacts(product_id, name, 2, "CAL", "jw01234001001_02101_00001", 1000 + product_id,
                      "ab" * 32, f"mast:JWST/product/{name}", ingested)  # fmt: skip
    ready = stored_keyword_columns(header, facts) if stored else dict.fromkeys(STORED_NAMES)
    return (*facts, 7, "1234", "JWST", released, json.dumps(header),
            *(ready[name] for name in STORED_NAMES))  # fmt: skip


STORED_NAMES = ("keyword_columns", "keyword_column_set", "keyword_columns_stamp")


def _stored_form(row: tuple) -> tuple:
    """The row of a file (:func:`_row`) as the page query reads it in its stored form, its
    columns stored as the product writer stores them."""
    header, released = json.loads(row[HEADER]), row[HEADER - 1]
    ready = stored_keyword_columns(header, FileFacts(*row[: len(FileFacts._fields)]))
    return (row[0], ready["archive_members"], released,
            *(ready[name] for name in STORED_NAMES))  # fmt: skip


# Headers holding every kind of value a column converts, beside ones already as shown.
ODD = {"TARGNAME": "  M57 ", "NINTS": " 8 ", "EFFEXPTM": 5, "TSOVISIT": "T", "FILTER": None,
       "DATE-OBS": "2023-01-01", "DATE": "not a date", "DATE-END": 60000.5, "SUBARRAY": 42,
       "PUPIL": True, "NGROUPS": True, "NFRAMES": 3.0, "XOFFSET": "2.5", "YOFFSET": True,
       "NOT_A_COLUMN": "x"}  # fmt: skip
PLAIN = {"TARGNAME": "M57", "NINTS": 8, "EFFEXPTM": 5.5, "TSOVISIT": False, "FILTER": "F150W",
         "DATE-OBS": "2023-01-01", "TIME-OBS": "12:00:00", "SUBARRAY": "FULL", "PUPIL": "",
         "XOFFSET": 0.0}  # fmt: skip
NOT_FINITE = {"TARGNAME": "M57", "EFFEXPTM": float("nan"), "XOFFSET": float("inf"), "NINTS": 2}
NUMBERS_AS_TEXT = {"PROGRAM": " 01234 ", "NINTS": "many", "VISIT": "3"}


def test_values_are_converted_as_their_column_shows_them() -> None:
    odd, plain, not_finite = RowShape(TABLE.columns, NOW)(
        [_row(1, ODD), _row(2, PLAIN), _row(3, NOT_FINITE, released=None)]
    )
    assert _some(odd, "targname nints effexptm tsovisit filter subarray pupil") == {
        "targname": "M57", "nints": 8, "effexptm": 5.0, "tsovisit": "t", "filter": None,
        "subarray": "42", "pupil": "True"}  # fmt: skip
    assert _some(odd, "ngroups nframes xoffset yoffset") == {
        "ngroups": None, "nframes": None, "xoffset": 2.5, "yoffset": 1.0}  # fmt: skip
    assert type(odd["effexptm"]) is float
    assert _some(odd, "date_obs date_obs_mjd date date_mjd date_end date_end_mjd") == {
        "date_obs": "/Date(1672531200000)/", "date_obs_mjd": 59945.0, "date": None,
        "date_mjd": None, "date_end": "/Date(1677326400000)/", "date_end_mjd": 60000.5}  # fmt: skip
    assert "not_a_column" not in odd and odd["program"] is None
    assert plain["targname"] == "M57" and plain["tsovisit"] == "f" and plain["pupil"] == ""
    assert plain["date_obs"] == "/Date(1672574400000)/" and plain["xoffset"] == 0.0
    assert (not_finite["effexptm"], not_finite["xoffset"], not_finite["nints"]) == (None, None, 2)
    assert [r["isRestricted"] for r in (odd, plain, not_finite)] == [False, False, True]
    (as_text,) = RowShape(TABLE.columns, NOW)([_row(4, NUMBERS_AS_TEXT)])
    assert _some(as_text, "program nints visit") == {"program": 1234, "nints": None, "visit": 3}
    assert not_finite["publicReleaseDate"] is None and odd["ingestStartDate_mjd"] == pytest.approx(
        60311.12783564815
    )


def _some(row: dict[str, Any], names: str) -> dict[str, Any]:
    return {name: row[name] for name in names.split()}


def test_a_page_shows_each_file_as_it_would_alone() -> None:
    rows = [
        _row(1, ODD),
        _row(2, PLAIN, ingested=None),
        _row(3, NOT_FINITE, released=None),
        _row(4, {}, ingested="2024-02-03T04:05:06"),
        _row(5, PLAIN, released=61500.0),
        _row(6, NUMBERS_AS_TEXT),
    ]
    chosen = TABLE.chosen("filename, nints, date_obs, targname, isItar")
    for columns in (TABLE.columns, chosen, TABLE.chosen("nints"), TABLE.chosen(",")):
        shape = RowShape(columns, NOW, with_owner=True)
        alone = [shape([row])[0] for row in rows]
        page = shape(rows)
        assert page == alone
        assert [list(row) for row in page] == [list(row) for row in alone]  # the column order
        assert all(type(a[name]) is type(b[name])  # 5 and 5.0 are equal, but not in JSON
                   for a, b in zip(page, alone, strict=True) for name in a)  # fmt: skip


def test_a_streamed_page_is_the_page_read_at_once(keyword_archive, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    table = KeywordTable.for_service("Mast.Jwst.Filtered.Miri")
    criteria = parse_criteria([], table.column)
    now = now_mjd()

    def page(number: int, size: int, as_json: bool) -> tuple[list[Any], int]:
        with keyword_archive.search_engine.connect() as conn:  # the faces' (autocommit on PG)
            found = search_keywords(conn, table, criteria, columns=table.columns, page=number,
                                    pagesize=size, now=now, as_json=as_json)  # fmt: skip
            return list(found.rows), found.total()

    whole = [page(n, 25, as_json) for n in (1, 2) for as_json in (False, True)]
    monkeypatch.setattr(keyword_search, "FIRST_ROWS", 4)
    monkeypatch.setattr(keyword_search, "_SHAPED_BATCH", 3)
    assert [page(n, 25, as_json) for n in (1, 2) for as_json in (False, True)] == whole
    assert len(whole[0][0]) == 25 and whole[0][1] > 25
    assert [orjson.loads(text) for text in whole[1][0]] == whole[0][0]  # the rows, as text
    # files without their stored archive columns among them: read again while the page
    # streams, the same page
    k = product_keywords
    with keyword_archive.engine.begin() as conn:
        conn.execute(update(k).where(k.c.product_id % 3 == 1).values(archive_members=None))
    assert [page(n, 25, True) for n in (1, 2)] == [whole[1], whole[3]]


# A MIRI header: keywords of MIRI's table only (band, detmode) beside common ones.
MIRI = {"BAND": "SHORT", "DETMODE": "FAST", "TARGNAME": "M57", "NINTS": 3, "CHANNEL": "12"}
HUGE = {"NINTS": 2**70, "TARGNAME": "M57"}  # no JSON writer takes it: never stored


def test_stored_columns_show_each_file_as_its_header_does() -> None:
    headers = [ODD, PLAIN, NOT_FINITE, {}, NUMBERS_AS_TEXT, MIRI, HUGE]
    tables = [TABLE, KeywordTable.for_service("Mast.Jwst.Filtered.Miri"),
              KeywordTable.for_service("Mast.Jwst.Filtered.GuideStar")]  # fmt: skip
    for table in tables:
        choices = (table.columns, table.chosen("filename, nints, date_obs, targname, isItar"),
                   table.chosen("targname"), table.chosen("dataURI"))  # fmt: skip
        for columns in choices:
            shape = RowShape(columns, NOW, with_owner=True)
            from_headers = shape([_row(n, h) for n, h in enumerate(headers)])
            ready = [_row(n, h, stored=True) for n, h in enumerate(headers)]
            assert shape(ready) == from_headers
            assert [list(row) for row in shape(ready)] == [list(row) for row in from_headers]
            assert all(type(a[name]) is type(b[name])
                       for a, b in zip(shape(ready), from_headers, strict=True)
                       for name in a)  # fmt: skip
            without_huge = ready[:-1]  # every file stored: read from the stored columns
            assert shape(without_huge) == from_headers[:-1]
            _assert_written_as(RowShape(columns, NOW), ready, from_headers)
            _assert_written_as(RowShape(columns, NOW), without_huge, from_headers[:-1])
            unstored = [_row(n, h) for n, h in enumerate(headers[:-1])]
            for page in (unstored, [*without_huge[:3], *unstored[3:]]):  # none, or some stored
                assert RowShape(columns, NOW).texts(page) == RowShape(columns, NOW).texts(
                    without_huge
                )  # the same bytes
    assert stored_columns(HUGE) is None


def _assert_written_as(shape: RowShape, rows: list[tuple], expected: list[dict[str, Any]]) -> None:
    """``shape.texts`` of ``rows`` are the JSON objects of ``expected`` (the rows from the
    headers, without the owner's fields), each value of the same JSON type."""
    written = [orjson.loads(text) for text in shape.texts(rows)]
    shown = [{name: row[name] for name in row if name not in OWNER_FIELDS} for row in expected]
    assert written == shown
    assert [sorted(row) for row in written] == [sorted(row) for row in shown]  # no name twice
    assert all(type(a[name]) is type(b[name])
               for a, b in zip(written, shown, strict=True) for name in a)  # fmt: skip


def test_written_rows_are_valid_json_whatever_a_file_holds() -> None:
    """A file with no keyword stored, or with every column the answer shows, still makes one
    JSON object of the answer's columns; files sharing their stored columns share their
    nulls' text, and a file with other ones gets its own."""
    every_keyword = {column.keyword: "x" for column in TABLE.columns if column.keyword}
    headers = [{}, PLAIN, every_keyword, PLAIN, {}, MIRI]
    rows = [_row(n, h, stored=True) for n, h in enumerate(headers)]
    for columns in (TABLE.columns, TABLE.chosen("targname, nints"), TABLE.chosen("filename")):
        expected = RowShape(columns, NOW)(rows)
        assert [orjson.loads(text) for text in RowShape(columns, NOW).texts(rows)] == expected


def test_a_stored_set_of_columns_is_named_by_its_columns_alone() -> None:
    """The set identity stored beside a file's columns names the columns its text holds,
    whatever order its header gave them in; files of other columns get another."""
    headers = [ODD, PLAIN, NOT_FINITE, {}, NUMBERS_AS_TEXT, MIRI, dict(reversed(PLAIN.items()))]
    stored = [stored_columns(header) for header in headers]
    assert all(s is not None for s in stored)
    held = [frozenset(orjson.loads(s.text)) for s in stored if s is not None]
    sets = [s.column_set for s in stored if s is not None]
    assert sets == [column_set(tuple(sorted(names))) for names in held]
    assert sets[1] == sets[-1] and held[1] == held[-1]  # PLAIN, its keywords reversed
    assert len(set(sets[:-1])) == len(set(held[:-1])) == len(headers) - 1


def test_stored_columns_are_read_only_when_stamped_by_this_code(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    shape = RowShape(TABLE.columns, NOW)
    targname = column_set(("targname",))
    stale = [(*_row(1, PLAIN)[:-3], json.dumps({"targname": "stale"}), targname, "another-code")]
    assert shape(stale)[0]["targname"] == "M57"  # from the header
    fresh = [(*_row(1, PLAIN)[:-3], json.dumps({"targname": "stored"}), targname, stored_stamp())]
    assert shape(fresh)[0]["targname"] == "stored"  # from the stored columns: they are read
    mixed = [fresh[0], _row(2, PLAIN)]  # one file of the page without: all from headers
    assert [row["targname"] for row in shape(mixed)] == ["M57", "M57"]


def test_a_stamped_file_without_its_set_is_written_from_its_header() -> None:
    """Were a file's set identity lost (a hand edit), its stored text would be written with
    the nulls of whatever set was met first under no identity; it is made from its header."""
    plain, miri = (_row(n, h, stored=True) for n, h in ((1, PLAIN), (2, MIRI)))
    unnamed = [(*row[:-2], None, row[-1]) for row in (plain, miri)]
    from_headers = RowShape(TABLE.columns, NOW)([_row(1, PLAIN), _row(2, MIRI)])
    assert [orjson.loads(t) for t in RowShape(TABLE.columns, NOW).texts(unnamed)] == from_headers


def test_the_stamp_follows_the_code_of_the_converters(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from skyarchive.search import keyword_rows

    before = stored_stamp()

    def _texts(values: list[Any]) -> list[Any]:  # a converter showing text otherwise
        return [None if value is None else str(value).upper() for value in values]

    code = tuple(_texts if f is keyword_rows._texts else f for f in keyword_rows._SHAPING_CODE)
    monkeypatch.setattr(keyword_rows, "_SHAPING_CODE", code)
    stored_stamp.cache_clear()
    try:
        assert stored_stamp() != before  # columns stored by the old code are not read
    finally:
        stored_stamp.cache_clear()  # worked out again from the code itself


def _no_full_rows(ids: list[int]) -> list[tuple]:
    raise AssertionError(f"files {ids} read again: their stored forms were not used")


def _objects(texts: list[str]) -> list[dict[str, Any]]:
    return [orjson.loads(text) for text in texts]


def _same_json(written: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert written == expected
    assert all(type(a[name]) is type(b[name])  # 5 and 5.0 are equal, but not in JSON
               for a, b in zip(written, expected, strict=True) for name in a)  # fmt: skip


def test_a_whole_table_is_written_from_the_stored_forms_alone() -> None:
    """A MAST answer of every column writes each file from its stored archive members, its
    release and its stored keyword columns: the very objects of its rows made from its
    products row and header, whatever the release (public, exclusive, none) or the header."""
    every_keyword = {column.keyword: "x" for column in TABLE.columns if column.keyword}
    headers = [ODD, PLAIN, NOT_FINITE, {}, MIRI, every_keyword, NUMBERS_AS_TEXT]
    releases = [60000.0, NOW + 30, None, 60000.0, NOW + 30, 60000.0, 59000.5]
    rows = [_row(n, h, released=r, stored=True)
            for n, (h, r) in enumerate(zip(headers, releases, strict=True))]  # fmt: skip
    shape = RowShape(TABLE.columns, NOW)
    assert shape.writes_stored
    written = _objects(shape.stored_texts([_stored_form(row) for row in rows], _no_full_rows))
    _same_json(written, shape(rows))
    assert [row["isRestricted"] for row in written] == [False, True, True, False, True, False,
                                                        False]  # fmt: skip
    assert all(len(text) == len(set(text)) for text in map(list, written))  # no name twice


def test_files_without_their_stored_forms_are_written_the_same() -> None:
    """A file whose archive members were not stored (before schema 0045, or a level-3 file
    without its observation), whose keyword columns are another code's, or whose set of
    columns is lost, is read again whole and written as it would be stored: the same page,
    byte for byte; only those files are read again."""
    headers = [PLAIN, MIRI, ODD, PLAIN, {}]
    rows = [_row(n, h, stored=True) for n, h in enumerate(headers)]
    stored = [_stored_form(row) for row in rows]
    shape = RowShape(TABLE.columns, NOW)
    expected = shape.stored_texts(stored, _no_full_rows)
    stored[1] = (stored[1][0], None, *stored[1][2:])  # no members
    stored[2] = (*stored[2][:-1], "another-code")  # another code's
    stored[4] = (*stored[4][:-2], None, stored[4][-1])  # no set
    asked: list[list[int]] = []

    def full_rows(ids: list[int]) -> list[tuple]:
        asked.append(ids)
        return [rows[i] for i in ids]

    assert shape.stored_texts(stored, full_rows) == expected
    assert asked == [[1, 2, 4]]


def test_a_file_past_json_is_written_as_its_row() -> None:
    """A header holding an integer no JSON writer takes (its keyword columns never stored)
    makes the page written from its rows, as before the stored forms."""
    rows = [_row(1, PLAIN, stored=True), _row(2, HUGE, stored=True)]
    stored = [_stored_form(row) for row in rows]
    assert stored[1][3] is None  # never stored
    shape = RowShape(TABLE.columns, NOW)
    written = _objects(shape.stored_texts(stored, lambda ids: [rows[i - 1] for i in ids]))
    _same_json(written, shape(rows))
    assert written[1]["targname"] == "M57"


def test_only_whole_tables_are_written_from_the_stored_forms() -> None:
    assert not RowShape(TABLE.chosen("filename, targname"), NOW).writes_stored
    assert not RowShape(TABLE.columns, NOW, with_owner=True).writes_stored
    assert RowShape(TABLE.chosen(", ".join(c.info.name for c in TABLE.columns)), NOW).writes_stored


def test_archive_members_name_a_level_3_file_by_its_observation() -> None:
    name = "jw01234-o001_t001_nircam_clear-f200w"
    level3 = FileFacts(9, f"{name}_i2d.fits", 3, "I2D", name, 10, "ab", "mast:x", None)
    members = orjson.loads(f"{{{archive_members(level3)}}}")
    assert (members["fileSetName"], members["productLevel"]) == (level3.owner_obs_id, "3")
    assert archive_members(level3._replace(owner_obs_id=None)) is None  # not yet linked
