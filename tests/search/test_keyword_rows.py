"""How keyword rows are built from stored headers: a page is converted a column at a time,
so each value must come out as it would alone, whatever the other files of the page hold."""

from __future__ import annotations

import json
from typing import Any

import pytest

from skyarchive.access.rights import now_mjd
from skyarchive.search import keyword_search
from skyarchive.search.criteria import parse_criteria
from skyarchive.search.keyword_search import KeywordTable, _RowShape, search_keywords

NOW = 61000.0  # MJD: files released before it are public
TABLE = KeywordTable.for_service("Mast.Jwst.Filtered.Nircam")


def _row(product_id: int, header: dict[str, Any], *, released: float | None = 60000.0,
         ingested: str | None = "2024-01-02T03:04:05") -> tuple:  # fmt: skip
    """A database row as the page query reads it (its columns in order)."""
    name = f"jw01234001001_02101_0000{product_id}_nrca1_cal.fits"
    return (product_id, name, name[:25], "2b", 1000 + product_id, "ab" * 32,
            f"mast:JWST/product/{name}", ingested, 7, "1234", "JWST", released,
            json.dumps(header))  # fmt: skip


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
    odd, plain, not_finite = _RowShape(TABLE.columns, NOW)(
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
    (as_text,) = _RowShape(TABLE.columns, NOW)([_row(4, NUMBERS_AS_TEXT)])
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
        shape = _RowShape(columns, NOW, with_owner=True)
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

    def page(number: int, size: int) -> tuple[list[dict[str, Any]], int]:
        with keyword_archive.search_engine.connect() as conn:  # the faces' (autocommit on PG)
            found = search_keywords(conn, table, criteria, columns=table.columns, page=number,
                                    pagesize=size, now=now)  # fmt: skip
            return list(found.rows), found.total()

    whole = [page(1, 25), page(2, 25)]
    monkeypatch.setattr(keyword_search, "FIRST_ROWS", 4)
    monkeypatch.setattr(keyword_search, "_SHAPED_BATCH", 3)
    assert [page(1, 25), page(2, 25)] == whole
    assert len(whole[0][0]) == 25 and whole[0][1] > 25
