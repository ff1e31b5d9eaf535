"""JWST instrument-keyword search (``Mast.Jwst.Filtered.*``) on both backends.

Expected rows are worked out here in plain Python from the catalog's products and the headers
the demo generator wrote, not from the search's own SQL.
"""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
from astropy.time import Time
from sqlalchemy import event, select, update

from skyarchive.access.rights import now_mjd
from skyarchive.db.tables import observations, product_keywords, products
from skyarchive.errors import BadQuery, UnknownColumn
from skyarchive.kept import Kept
from skyarchive.search import criteria_shapes, keyword_search
from skyarchive.search.criteria import parse_criteria
from skyarchive.search.keyword_search import KeywordTable, count_keywords, search_keywords
from tests.search.conftest import UNFINISHED

RANK = {"uncal": 1, "rate": 2, "rateints": 2, "ramp": 2, "trapsfilled": 2}


def _files(archive, instrument: str) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    query = select(products.c.productFilename, products.c.calib_level, product_keywords.c.header)
    query = query.join_from(products, product_keywords)
    with archive.engine.connect() as conn:
        found = {}
        for name, level, header in conn.execute(query):
            header = json.loads(header)
            if header.get("INSTRUME") == instrument and "_gs-" not in name:
                found[name] = {"level": level, "header": header}
        return found


def _expected_visible(files: dict[str, dict]) -> set[str]:
    """Level-3 files, and each exposure's files at the highest level it reached (no crf)."""

    def rank(name: str, level: int) -> int:
        suffix = name.rsplit("_", 1)[1].removesuffix(".fits")
        return 4 if level == 3 else 0 if suffix.startswith("crf") else RANK.get(suffix, 3)

    by_exposure: dict[str, list[tuple[int, str]]] = defaultdict(list)
    visible = set()
    for name, facts in files.items():
        if facts["level"] == 3:
            visible.add(name)
        else:
            by_exposure[name[:25]].append((rank(name, facts["level"]), name))
    for members in by_exposure.values():
        best = max(r for r, _ in members)
        visible |= {name for r, name in members if r == best and r > 0}
    return visible


def _search(archive, service: str, filters: list, **extra):  # type: ignore[no-untyped-def]
    table = KeywordTable.for_service(f"Mast.Jwst.Filtered.{service}")
    criteria = parse_criteria(filters, table.column)
    with archive.engine.connect() as conn:
        page = search_keywords(conn, table, criteria, columns=table.columns,
                               page=extra.get("page", 1), pagesize=extra.get("pagesize", 5000),
                               now=now_mjd())  # fmt: skip
        rows, total = page.rows, page.total()
        counted = count_keywords(conn, table, criteria, now=now_mjd())
    assert counted == total
    return rows


@pytest.mark.parametrize("instrument", ["NIRCAM", "NIRISS", "NIRSPEC", "MIRI"])
def test_each_exposure_shows_its_highest_level_and_level_three_always(
    keyword_archive, instrument: str
) -> None:  # type: ignore[no-untyped-def]
    files = _files(keyword_archive, instrument)
    rows = _search(keyword_archive, instrument.title(), [])
    assert {r["filename"] for r in rows} == _expected_visible(files)
    assert all(r["instrume"] == instrument for r in rows)


def test_an_exposure_without_calibrated_files_shows_its_rate_files(keyword_archive) -> None:  # type: ignore[no-untyped-def]
    rows = _search(
        keyword_archive, "Nircam", [{"paramName": "fileSetName", "values": [UNFINISHED]}]
    )
    assert rows and {r["productLevel"] for r in rows} == {"2a"}
    assert all(
        r["filename"].endswith(("_rate.fits", "_rateints.fits", "_trapsfilled.fits")) for r in rows
    )


def test_criteria_on_typed_and_header_only_keywords(keyword_archive) -> None:  # type: ignore[no-untyped-def]
    visible = _expected_visible(_files(keyword_archive, "NIRCAM"))
    headers = {n: f["header"] for n, f in _files(keyword_archive, "NIRCAM").items() if n in visible}

    def names(filters: list) -> set[str]:
        return {r["filename"] for r in _search(keyword_archive, "Nircam", filters)}

    # MAST's scripts send numbers as strings and flags as T/F.
    assert names(
        [{"paramName": "program", "values": ["1073"]}, {"paramName": "observtn", "values": ["1"]}]
    ) == {  # fmt: skip
        n for n, h in headers.items() if int(h["PROGRAM"]) == 1073 and int(h["OBSERVTN"]) == 1
    }
    assert names([{"paramName": "tsovisit", "values": ["T"]}]) == {
        n for n, h in headers.items() if h.get("TSOVISIT") is True
    }
    assert names([{"paramName": "Module", "values": ["b"]}]) == {
        n for n, h in headers.items() if h.get("MODULE") == "B"
    }
    assert names([{"paramName": "targname", "values": [], "freeText": "%field%"}]) == {
        n for n, h in headers.items() if "field" in str(h.get("TARGNAME", "")).lower()
    }
    assert names([{"paramName": "effexptm", "values": [{"min": 50, "max": 60}]}]) == {
        n for n, h in headers.items() if 50 <= h.get("EFFEXPTM", -1) <= 60
    }
    starts = {n: Time(f"{h['DATE-OBS']}T{h['TIME-OBS']}").mjd for n, h in headers.items()
              if "DATE-OBS" in h}  # fmt: skip
    low = sorted(starts.values())[len(starts) // 2]
    assert names([{"paramName": "date_obs_mjd", "values": [{"min": low, "max": low + 30}]}]) == {
        n for n, mjd in starts.items() if low - 1e-6 <= mjd <= low + 30
    }


def test_rows_carry_mast_encodings(keyword_archive) -> None:  # type: ignore[no-untyped-def]
    row = _search(keyword_archive, "Nircam", [{"paramName": "productLevel", "values": ["2b"]}],
                  pagesize=1)[0]  # fmt: skip
    header = _files(keyword_archive, "NIRCAM")[row["filename"]]["header"]
    start = Time(f"{header['DATE-OBS']}T{header['TIME-OBS']}", scale="utc")
    assert row["date_obs_mjd"] == pytest.approx(start.mjd, abs=1e-8)
    assert row["date_obs"] == f"/Date({round(start.unix * 1000)})/"
    assert row["tsovisit"] in ("t", "f") and row["program"] == int(header["PROGRAM"])
    assert row["dataURI"] == f"mast:JWST/product/{row['filename']}"
    assert row["fileSetName"] == row["filename"][:25] and row["isRestricted"] is False


def test_exclusive_files_are_found_and_marked_restricted(keyword_archive) -> None:  # type: ignore[no-untyped-def]
    rows = _search(keyword_archive, "Miri", [{"paramName": "isRestricted", "values": ["true"]}])
    assert rows and all(r["isRestricted"] and r["program"] == 4567 for r in rows)


def test_guide_star_files_have_their_own_table(keyword_archive) -> None:  # type: ignore[no-untyped-def]
    rows = _search(keyword_archive, "GuideStar", [])
    assert rows and all("_gs-" in r["filename"] for r in rows)
    assert not any("_gs-" in r["filename"] for r in _search(keyword_archive, "Fgs", []))


def test_paging_covers_every_row_once(keyword_archive) -> None:  # type: ignore[no-untyped-def]
    whole = [r["filename"] for r in _search(keyword_archive, "Miri", [])]
    paged = [r["filename"] for page in (1, 2, 3, 4, 5)
             for r in _search(keyword_archive, "Miri", [], page=page, pagesize=10)]  # fmt: skip
    assert paged == whole


def test_bad_requests_say_why(keyword_archive) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnknownColumn, match="filtre"):
        _search(keyword_archive, "Nircam", [{"paramName": "filtre", "values": ["F150W"]}])
    with pytest.raises(BadQuery, match="not a number"):
        _search(keyword_archive, "Nircam", [{"paramName": "nints", "values": ["many"]}])
    with pytest.raises(BadQuery, match="Mast.Jwst.Filtered.Nircam"):
        KeywordTable.for_service("Mast.Jwst.Filtered.Hubble")


def test_files_without_a_release_date_are_restricted(keyword_archive) -> None:  # type: ignore[no-untyped-def]
    # the one access rule: no release date means not yet public
    with keyword_archive.engine.begin() as conn:
        name = f"{UNFINISHED}_nrca1_rate.fits"
        owner = conn.scalar(
            select(products.c.owner_obsid).where(products.c.productFilename == name)
        )
        conn.execute(update(observations).where(observations.c.obsid == owner)
                     .values(t_obs_release=None))  # fmt: skip
    rows = _search(keyword_archive, "Nircam", [{"paramName": "isRestricted", "values": ["true"]}])
    assert f"{UNFINISHED}_nrca1_rate.fits" in {r["filename"] for r in rows}
    assert all(r["isRestricted"] for r in rows)


def test_value_counts_count_each_choice_over_the_other_criteria(keyword_archive) -> None:  # type: ignore[no-untyped-def]
    from skyarchive.search.keyword_search import value_counts

    visible = _expected_visible(_files(keyword_archive, "MIRI"))
    files = _files(keyword_archive, "MIRI")
    imaging = [n for n in visible if files[n]["header"].get("EXP_TYPE") == "MIR_IMAGE"]
    expected: dict[str, int] = defaultdict(int)
    for name in imaging:
        expected[str(files[name]["header"]["FILTER"]).upper()] += 1
    table = KeywordTable.for_service("Mast.Jwst.Filtered.Miri")
    criteria = parse_criteria(
        [{"paramName": "exp_type", "values": ["mir_image"]},
         {"paramName": "filter", "values": ["NO-SUCH-FILTER"]}],  # left out: its own column
        table.column,
    )  # fmt: skip
    with keyword_archive.engine.connect() as conn:
        counted = value_counts(conn, table, criteria, "filter", now=now_mjd())
        nints = value_counts(conn, table, criteria[:1], "nints", now=now_mjd())
    assert counted["matching"] == len(imaging) > 0
    assert {v["value"]: v["count"] for v in counted["values"]} == expected
    all_nints = [files[n]["header"]["NINTS"] for n in imaging]
    assert (nints["min"], nints["max"]) == (min(all_nints), max(all_nints))


def test_observation_ids_are_the_owners_of_the_matching_files(keyword_archive) -> None:  # type: ignore[no-untyped-def]
    from skyarchive.search.keyword_search import observation_ids

    table = KeywordTable.for_service("Mast.Jwst.Filtered.Miri")
    filters = [{"paramName": "exp_type", "values": ["MIR_IMAGE"]}]
    names = {row["filename"] for row in _search(keyword_archive, "Miri", filters)}
    with keyword_archive.engine.connect() as conn:
        owning = select(products.c.owner_obsid).where(products.c.productFilename.in_(names))
        owners = set(conn.execute(owning).scalars())
        found = observation_ids(conn, table, parse_criteria(filters, table.column), now=now_mjd())
    assert found == sorted(owners) and found


#: Criteria of each kind the keyword tables take (table, filters), for the kept page
#: statements; each leaves out some of its table's files.
KINDS_OF_CRITERIA = {
    "typed integer and text": ("Nircam", [{"paramName": "program", "values": ["1073"]},
                                          {"paramName": "Module", "values": ["b"]}]),
    "folded exposure type": ("Miri", [{"paramName": "exp_type", "values": ["MIR_IMAGE"]}]),
    "header text with letters": ("Nircam", [{"paramName": "targname", "values": ["NGC 6720"]}]),
    "pattern": ("Nircam", [{"paramName": "targname", "values": [], "freeText": "%field%"}]),
    "real range": ("Nircam", [{"paramName": "effexptm", "values": [{"min": 100, "max": 400}]}]),
    "date range": ("Nircam", [{"paramName": "date_obs_mjd",
                               "values": [{"min": 59700, "max": 59720}]}]),
    "restricted (the time)": ("Miri", [{"paramName": "isRestricted", "values": ["F"]}]),
    "product level": ("Nircam", [{"paramName": "productLevel", "values": ["3"]}]),
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(KINDS_OF_CRITERIA))
def test_kept_page_statements_answer_as_statements_built_per_search(
    keyword_archive, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    table, filters = KINDS_OF_CRITERIA[kind]

    def answers() -> list[list[dict]]:
        return [_search(keyword_archive, table, filters),  # whole, and a page past the first
                _search(keyword_archive, table, filters, page=2, pagesize=3)]  # fmt: skip

    kept = answers()
    assert 3 < len(kept[0]) < len(_search(keyword_archive, table, [])), f"{kind}: no test"
    # every criterion now "lists too many values": the statement is built per search
    monkeypatch.setattr(criteria_shapes, "MOST_VALUES", 0)
    assert kept == answers()


def test_keyword_criteria_of_one_shape_share_one_page_statement(
    keyword_archive, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(keyword_search, "_KEPT_PAGES", Kept(8))
    through_sqlalchemy: list[str] = []

    def executed(conn, statement, *args) -> None:  # type: ignore[no-untyped-def]
        through_sqlalchemy.append(str(statement))

    event.listen(keyword_archive.engine, "before_execute", executed)
    try:
        first = _search(keyword_archive, "Nircam", [{"paramName": "observtn", "values": ["1"]}])
        second = _search(keyword_archive, "Nircam", [{"paramName": "observtn", "values": ["2"]}])
    finally:
        event.remove(keyword_archive.engine, "before_execute", executed)
    assert first and second and {r["observtn"] for r in first + second} == {1, 2}
    assert len(keyword_search._KEPT_PAGES) == 1  # the same statement, other values
    # read on the driver's cursor: SQLAlchemy executes no page statement (only the counts)
    assert not [sql for sql in through_sqlalchemy if "SELECT products.product_id" in sql]
    _search(keyword_archive, "Nircam", [{"paramName": "observtn", "values": ["1", "2"]}])
    _search(keyword_archive, "Miri", [{"paramName": "observtn", "values": ["1"]}])
    assert len(keyword_search._KEPT_PAGES) == 3  # two values, another table: two shapes
