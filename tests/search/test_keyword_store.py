"""The keyword store keeps which table lists each file true as files arrive and on upgrade.

Expected rows come from the headers and product levels, worked out in plain Python by the
helpers of ``test_keyword_search.py`` (not from the stored listing).
"""

from __future__ import annotations

import json
import shutil
from collections import Counter

import orjson
import pytest
from alembic import command
from astropy.time import Time
from sqlalchemy import func, select, text

from skyarchive.db.engine import alembic_config, upgrade
from skyarchive.db.tables import observations, product_keywords, products
from skyarchive.ingest.run import ingest_paths
from skyarchive.ingest.writer import (
    Candidate,
    Verdict,
    archived_products,
    classify,
    product_transaction,
    store_products,
)
from skyarchive.search.keyword_columns import GUIDE_STAR_SUFFIXES, file_set_name, product_level
from skyarchive.search.keyword_rows import FileFacts
from skyarchive.search.keyword_search import file_set_name_sql, product_level_sql
from tests.search.conftest import UNFINISHED
from tests.search.test_keyword_search import (
    RANK,
    _expected_visible,
    _files,
    _search,
)

INSTRUMENTS = ["NIRCAM", "NIRISS", "NIRSPEC", "MIRI"]


def _shown(archive, instrument: str) -> set[str]:  # type: ignore[no-untyped-def]
    return {r["filename"] for r in _search(archive, instrument.title(), [])}


def _check_counts(archive, visible_nircam: set[str] | None = None) -> None:  # type: ignore[no-untyped-def]
    """The files per table and exposure type kept at ingest (schema 0026) are those the
    listing rule gives, worked out here from the headers and file names (or, for NIRCam,
    ``visible_nircam``)."""
    with archive.engine.connect() as conn:
        stored = conn.execute(text("SELECT listed_in, exp_type, files FROM keyword_counts")).all()
    for instrument in INSTRUMENTS:
        files = _files(archive, instrument)
        visible = _expected_visible(files)
        if instrument == "NIRCAM" and visible_nircam is not None:
            visible = visible_nircam
        expected = Counter(str(files[n]["header"].get("EXP_TYPE") or "").lower() for n in visible)
        kept = {exp_type: n for table, exp_type, n in stored if table == instrument and n}
        assert kept == dict(expected), instrument


def test_calibrated_files_arriving_later_hide_the_rate_files(
    keyword_archive, demo_output, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    late = tmp_path / "late"
    late.mkdir()
    for path in demo_output[0].rglob(f"{UNFINISHED}_*"):
        if path.name.endswith(("_cal.fits", "_crf.fits", "_i2d.fits")):
            shutil.copy(path, late / path.name)
    assert any(late.iterdir())
    fileset = [{"paramName": "fileSetName", "values": [UNFINISHED]}]
    before = _search(keyword_archive, "Nircam", fileset)
    assert {r["productLevel"] for r in before} == {"2a"}

    report = ingest_paths([late], engine=keyword_archive.engine, storage=keyword_archive.storage,
                          default_eap_months=12)  # fmt: skip
    assert report.ok, report.failed

    after = _search(keyword_archive, "Nircam", fileset)
    assert {r["productLevel"] for r in after} == {"2b"}
    assert _shown(keyword_archive, "NIRCAM") == _expected_visible(_files(keyword_archive, "NIRCAM"))
    _check_counts(keyword_archive)


def test_an_older_archive_gets_its_listing_on_upgrade(keyword_archive) -> None:  # type: ignore[no-untyped-def]
    engine = keyword_archive.engine
    command.downgrade(alembic_config(engine), "0013")  # the listing column is gone
    with engine.begin() as conn:  # an older archive kept typed text as the header wrote it
        conn.execute(text('UPDATE product_keywords SET exp_type = upper(exp_type),'
                          ' "filter" = upper("filter"), instrume = upper(instrume)'))  # fmt: skip
    upgrade(engine)  # the listing is worked out from the rows alone, the text folded
    for instrument in INSTRUMENTS:
        expected = _expected_visible(_files(keyword_archive, instrument))
        assert _shown(keyword_archive, instrument) == expected
    guide_stars = _shown(keyword_archive, "GuideStar")
    assert guide_stars and all("_gs-" in name for name in guide_stars)
    _check_typed_criteria(keyword_archive)
    _check_counts(keyword_archive)  # counted by the upgrade (schema 0026)
    _check_dates(keyword_archive)  # worked out from the headers by the upgrade (0026)


def _check_dates(archive) -> None:  # type: ignore[no-untyped-def]
    """The stored ``date_obs_mjd`` is DATE-OBS with TIME-OBS as astropy reads them."""
    query = "SELECT header, date_obs_mjd FROM product_keywords"
    with archive.engine.connect() as conn:
        stored = conn.execute(text(query)).all()
    dated = 0
    for header_text, mjd in stored:
        header = json.loads(header_text)
        if "DATE-OBS" not in header:
            assert mjd is None
            continue
        day, time = header["DATE-OBS"], header.get("TIME-OBS", "00:00:00")
        expected = Time(day if "T" in day else f"{day}T{time}", scale="utc").mjd
        assert mjd == pytest.approx(expected, abs=1e-8), header_text
        dated += 1
    assert dated > 10


def _check_typed_criteria(archive) -> None:  # type: ignore[no-untyped-def]
    files = _files(archive, "MIRI")
    headers = {n: f["header"] for n, f in files.items() if n in _expected_visible(files)}

    def names(filters: list) -> set[str]:
        return {r["filename"] for r in _search(archive, "Miri", filters)}

    kinds = sorted({h["EXP_TYPE"] for h in headers.values()})
    assert len(kinds) > 1
    kind = kinds[0]
    chosen = {n for n, h in headers.items() if h["EXP_TYPE"] == kind}
    for spelling in (kind, kind.lower(), kind.title()):
        assert names([{"paramName": "exp_type", "values": [spelling]}]) == chosen
    tail = kind[-4:]
    assert names([{"paramName": "EXP_TYPE", "values": [f"*{tail.swapcase()}"]}]) == {
        n for n, h in headers.items() if h["EXP_TYPE"].endswith(tail)
    }
    some_filter = sorted({h["FILTER"] for h in headers.values() if h.get("FILTER")})[0]
    assert names([{"paramName": "filter", "values": [some_filter.lower(), "nothing"]}]) == {
        n for n, h in headers.items() if h.get("FILTER") == some_filter
    }
    rows = _search(archive, "Miri", [{"paramName": "exp_type", "values": [kind.lower()]}])
    assert {r["exp_type"] for r in rows} == {kind}  # rows show the header's own spelling


def test_typed_keywords_match_in_any_case_and_show_the_header(keyword_archive) -> None:  # type: ignore[no-untyped-def]
    _check_typed_criteria(keyword_archive)
    _check_dates(keyword_archive)  # stored at ingest


def test_a_replacement_that_changes_a_level_redecides_its_exposure(
    keyword_archive, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    files = _files(keyword_archive, "NIRCAM")
    visible = _expected_visible(files)
    name = sorted(n for n in visible if n.endswith("_cal.fits"))[0]
    exposure = name[:25]
    siblings = {n for n in files if n.startswith(exposure) and files[n]["level"] in (1, 2)}
    new_file = tmp_path / name
    new_file.write_bytes(b"reprocessed")
    candidate = Candidate(new_file, {
        "productFilename": name, "obs_collection": "JWST", "sha256": "f" * 64,
        "file_date": "2099-01-01T00:00:00", "storage_key": f"JWST/product/ffff/{name}",
        "productSubGroupDescription": "CRF",  # the new version is a level-2c file
    }, None)  # fmt: skip
    with product_transaction(keyword_archive.engine, keyword_archive.storage) as (conn, objects):
        archived = archived_products(conn, [name])
        decision = classify(candidate, archived[name])
        assert decision.verdict is Verdict.REPLACED
        store_products(conn, objects, [(candidate, decision)], archived, {})

    # worked out here from the names, with the replaced file now at level 2c
    def rank(n: str) -> int:
        suffix = n.rsplit("_", 1)[1].removesuffix(".fits")
        return 0 if n == name or suffix.startswith("crf") else RANK.get(suffix, 3)

    best = max(rank(n) for n in siblings)
    expected_here = {n for n in siblings if rank(n) == best and best > 0}
    shown = _shown(keyword_archive, "NIRCAM")
    assert {n for n in shown if n.startswith(exposure)} == expected_here
    assert name not in shown
    assert shown - siblings == visible - siblings  # other exposures are untouched
    _check_counts(keyword_archive, visible_nircam=(visible - siblings) | expected_here)


# Files of kinds the demo has none of: each guide-star product suffix, level 2c, a
# subgroup in lower case or missing, no level, a level-3 file without its observation; and
# guide-star tests in the other case (compared case by case, as on PostgreSQL: SQLite's LIKE
# would ignore the case).
_ODD_FILES = [
    *((f"jw01234001001_gs-fg_2023123456789_{suffix}.fits", 1, "GS-FG")
      for suffix in GUIDE_STAR_SUFFIXES),
    ("jw01234001001_gs-id_1_image-uncal-x.fits", 1, "GS-ID"),
    ("jw01234001001_gs-id_1_CAL.FITS", 1, "GS-ID"),
    ("jw01234001001_gs-id_2_cal.fits", 1, "gs-id"),
    ("jw01234001001_02101_00001_nrca1_crf.fits", 2, "CRF"),
    ("jw01234001001_02101_00001_nrca1_rate.fits", 2, "rate"),
    ("jw01234001001_02101_00001_nrca1_x.fits", 2, None),
    ("jw01234001001_02101_00001_nrca1_y.fits", None, "CAL"),
    ("jw01234-o001_t001_nircam_clear-f200w_i2d.fits", 3, "I2D"),
    ("short.fits", 1, "UNCAL"),
]  # fmt: skip


def test_rows_show_the_file_set_and_level_criteria_find_them_by(keyword_archive) -> None:  # type: ignore[no-untyped-def]
    """A row shows a file's file-set name and product level as Python works them out (and
    as its stored archive members hold them); criteria find files by the same values worked
    out in SQL. The two agree on every file of the archive and on kinds it has none of."""
    p, o, k = products, observations, product_keywords
    facts = [p.c.product_id, p.c.productFilename, p.c.calib_level,
             p.c.productSubGroupDescription, o.c.obs_id, p.c.size, p.c.sha256, p.c.dataURI,
             p.c.ingested_at]  # fmt: skip
    query = select(*facts, file_set_name_sql(), product_level_sql(), k.c.archive_members)
    joined = p.outerjoin(k, k.c.product_id == p.c.product_id).outerjoin(
        o, o.c.obsid == p.c.owner_obsid
    )
    with keyword_archive.engine.connect() as conn, conn.begin():
        held = conn.execute(select(func.max(p.c.product_id))).scalar_one()
        conn.execute(p.insert(), [
            {"productFilename": name, "dataURI": f"mast:JWST/product/{name}",
             "obs_collection": "JWST", "productType": "SCIENCE", "size": 1, "sha256": "0",
             "storage_key": name, "calib_level": level, "productSubGroupDescription": subgroup}
            for name, level, subgroup in _ODD_FILES
        ])  # fmt: skip
        found = conn.execute(query.select_from(joined)).all()
        conn.rollback()
    stored = [row for row in found if row[0] <= held]
    assert len(found) == len(stored) + len(_ODD_FILES) and len(stored) > 300
    assert {row[10] for row in stored} == {"1b", "2a", "2b", "2c", "3"}  # the demo's levels
    assert any((row[3] or "").startswith("GS-") for row in stored)  # guide-star files
    for row in found:
        shown = FileFacts(*row[:9])
        level, file_set = (
            product_level(shown.calib_level, shown.subgroup),
            file_set_name(shown.filename, shown.calib_level, shown.subgroup, shown.owner_obs_id),
        )
        assert (file_set, level) == (row[9], row[10]), shown
        if row[11] is not None:  # a keyword file: its stored members hold the same
            members = orjson.loads(f"{{{row[11]}}}")
            assert (members["fileSetName"], members["productLevel"]) == (file_set, level)
    assert sum(row[11] is not None for row in stored) > 300
