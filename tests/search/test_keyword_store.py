"""The keyword store keeps which table lists each file true as files arrive and on upgrade.

Expected rows come from the headers and product levels, worked out in plain Python by the
helpers of ``test_keyword_search.py`` (not from the stored listing).
"""

from __future__ import annotations

import shutil

from alembic import command
from sqlalchemy import text

from skyarchive.db.engine import alembic_config, upgrade
from skyarchive.ingest.run import ingest_paths
from tests.search.conftest import UNFINISHED
from tests.search.test_keyword_search import (
    _expected_visible,
    _files,
    _search,
)

INSTRUMENTS = ["NIRCAM", "NIRISS", "NIRSPEC", "MIRI"]


def _shown(archive, instrument: str) -> set[str]:  # type: ignore[no-untyped-def]
    return {r["filename"] for r in _search(archive, instrument.title(), [])}


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
