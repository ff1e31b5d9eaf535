"""The portal's keyword searches (search/keyword_portal.py) on SQLite and PostgreSQL.

Expected orders and sets are worked out here from the stored headers and catalog rows.
"""

from __future__ import annotations

import math

import pytest
from astropy.time import Time

from skyarchive.access.rights import now_mjd
from skyarchive.errors import BadQuery
from skyarchive.search.keyword_portal import (
    KeywordQuery,
    keyword_observations,
    search_keyword_files,
)
from skyarchive.search.keyword_search import KeywordTable, _Expressions
from skyarchive.search.portal_query import PositionQuery
from tests.keyword_files import listed_files


def _all_pages(archive, query: KeywordQuery) -> list[dict]:  # type: ignore[no-untyped-def]
    rows: list[dict] = []
    with archive.engine.connect() as conn:
        while True:
            found = search_keyword_files(conn, query, now=now_mjd())
            rows += found["rows"]
            if query.page * query.pagesize >= found["total"]:
                return rows
            query.page += 1


@pytest.mark.parametrize("descending", [False, True])
def test_sorting_by_a_header_keyword_pages_every_file_once(keyword_archive, descending) -> None:  # type: ignore[no-untyped-def]
    files = listed_files(keyword_archive, "MIRI")
    query = KeywordQuery("MIRI", sort="effinttm", descending=descending, pagesize=7)
    rows = _all_pages(keyword_archive, query)
    assert sorted(r["ArchiveFileID"] for r in rows) == sorted(files)

    def value(pid: int) -> float | None:
        number = files[pid]["header"].get("EFFINTTM")
        return None if number is None or math.isnan(float(number)) else float(number)

    shown = [value(r["ArchiveFileID"]) for r in rows]
    known = [v for v in shown if v is not None]
    assert shown[: len(known)] == known, "files without a value come last"
    assert known == sorted(known, reverse=descending)


def test_sorting_by_the_observation_date_reads_no_header(keyword_archive) -> None:  # type: ignore[no-untyped-def]
    """The date is stored typed at ingest (schema 0026): the sort is a column, and the order
    is the one astropy gives the headers' DATE-OBS and TIME-OBS."""
    files = listed_files(keyword_archive, "NIRCAM")
    table = KeywordTable.for_service("Mast.Jwst.Filtered.Nircam")
    with keyword_archive.engine.connect() as conn:
        sql = str(_Expressions(conn.dialect.name, now_mjd()).of(table._column("date_obs_mjd")))
    assert "header" not in sql, sql
    rows = _all_pages(keyword_archive, KeywordQuery("NIRCAM", sort="date_obs_mjd", pagesize=40))
    assert sorted(r["ArchiveFileID"] for r in rows) == sorted(files)

    def start(pid: int) -> float | None:
        header = files[pid]["header"]
        if "DATE-OBS" not in header:
            return None
        return float(Time(f"{header['DATE-OBS']}T{header.get('TIME-OBS', '00:00:00')}").mjd)

    shown = [start(r["ArchiveFileID"]) for r in rows]
    known = [v for v in shown if v is not None]
    assert known and shown[: len(known)] == known, "files without a date come last"
    assert known == pytest.approx(sorted(known), abs=1e-8)


def test_date_ranges_may_be_typed_as_days(keyword_archive) -> None:  # type: ignore[no-untyped-def]
    files = listed_files(keyword_archive, "NIRCAM")
    days = sorted({f["header"]["DATE-OBS"][:10] for f in files.values()})
    day = days[0]
    filters = [{"paramName": "date_obs_mjd", "values": [{"min": day, "max": day}]}]
    rows = _all_pages(keyword_archive, KeywordQuery("NIRCAM", filters, pagesize=100))
    expected = {pid for pid, f in files.items() if f["header"]["DATE-OBS"][:10] == day}
    assert {r["ArchiveFileID"] for r in rows} == expected


def test_a_cone_keeps_the_files_of_the_observations_it_touches(keyword_archive) -> None:  # type: ignore[no-untyped-def]
    files = listed_files(keyword_archive, "NIRSPEC")
    some = next(iter(files.values()))
    cone = PositionQuery("", some["s_ra"], some["s_dec"], 1e-4)
    rows = _all_pages(keyword_archive, KeywordQuery("NIRSPEC", position=cone, pagesize=100))
    assert some["product_id"] in {r["ArchiveFileID"] for r in rows}
    far = PositionQuery("", (some["s_ra"] + 180) % 360, -some["s_dec"], 1e-4)
    assert _all_pages(keyword_archive, KeywordQuery("NIRSPEC", position=far)) == []


def test_observations_of_chosen_files(keyword_archive) -> None:  # type: ignore[no-untyped-def]
    files = listed_files(keyword_archive, "NIRCAM")
    chosen = sorted(files)[:3]
    with keyword_archive.engine.connect() as conn:
        found = keyword_observations(
            conn, KeywordQuery("NIRCAM", product_ids=chosen), now=now_mjd()
        )
    assert set(found) == {files[pid]["owner_obsid"] for pid in chosen}


def test_bad_paging_and_instrument_say_why(keyword_archive) -> None:  # type: ignore[no-untyped-def]
    with keyword_archive.engine.connect() as conn:
        with pytest.raises(BadQuery, match="pagesize between 1 and 500"):
            search_keyword_files(conn, KeywordQuery("MIRI", pagesize=501), now=now_mjd())
        with pytest.raises(BadQuery, match="choose one of NIRCam, NIRISS"):
            search_keyword_files(conn, KeywordQuery("GUIDESTAR"), now=now_mjd())
