"""The keyword store keeps which table lists each file true as files arrive and on upgrade.

Expected rows come from the headers and product levels, worked out in plain Python by the
helpers of ``test_keyword_search.py`` (not from the stored listing).
"""

from __future__ import annotations

import shutil

import pytest
from alembic import command

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


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_an_older_archive_gets_its_listing_on_upgrade(keyword_archive) -> None:  # type: ignore[no-untyped-def]
    engine = keyword_archive.engine
    command.downgrade(alembic_config(engine), "0013")  # the listing column is gone
    upgrade(engine)  # and is worked out again from the rows alone
    for instrument in INSTRUMENTS:
        expected = _expected_visible(_files(keyword_archive, instrument))
        assert _shown(keyword_archive, instrument) == expected
    guide_stars = _shown(keyword_archive, "GuideStar")
    assert guide_stars and all("_gs-" in name for name in guide_stars)
