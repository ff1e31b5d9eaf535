"""Fixtures of the search tests."""

from __future__ import annotations

import shutil

import pytest

from skyarchive.ingest.run import ingest_paths

# An exposure whose calibrated files are left out of the ingest: it stops at level 2a.
UNFINISHED = "jw01073001001_02101_00002"


@pytest.fixture
def keyword_archive(archive, demo_output, tmp_path):  # type: ignore[no-untyped-def]
    source = tmp_path / "pipeline"
    shutil.copytree(demo_output[0], source)
    for path in source.rglob(f"{UNFINISHED}_*"):
        if path.name.endswith(("_cal.fits", "_crf.fits", "_i2d.fits")):
            path.unlink()
    report = ingest_paths([source], engine=archive.engine, storage=archive.storage,
                          default_eap_months=12)  # fmt: skip
    assert report.ok, report.failed
    return archive
