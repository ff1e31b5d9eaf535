"""Fixtures of the search tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from skyarchive.archive import Archive
from tests.archives import ArchiveSnapshots
from tests.conftest import ingest_demo

# An exposure whose calibrated files are left out of the ingest: it stops at level 2a.
UNFINISHED = "jw01073001001_02101_00002"


@pytest.fixture
def keyword_archive(
    archive_snapshots: ArchiveSnapshots, database_kind: str, demo_output, tmp_path: Path
) -> Iterator[Archive]:  # type: ignore[no-untyped-def]
    """The demo output ingested without the calibrated files of :data:`UNFINISHED`."""

    def build(archive: Archive) -> None:
        source = tmp_path / "pipeline"  # the first test's folder: read only while building
        shutil.copytree(demo_output[0], source)
        for path in source.rglob(f"{UNFINISHED}_*"):
            if path.name.endswith(("_cal.fits", "_crf.fits", "_i2d.fits")):
                path.unlink()
        ingest_demo(archive, source)
        shutil.rmtree(source)

    with archive_snapshots.copy("keyword", build, kind=database_kind, folder=tmp_path) as copied:
        yield copied
