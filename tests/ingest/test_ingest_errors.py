"""Bad files are reported with their reason and skipped; nothing archived is damaged."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from sqlalchemy import select

from skyarchive.archive import Archive
from skyarchive.db.tables import observations, products
from tests.ingest.test_ingest_demo import ingest


def snapshot(archive: Archive) -> dict[str, list[tuple]]:
    with archive.engine.connect() as conn:
        return {
            table.name: sorted(map(tuple, conn.execute(select(table)).all()))
            for table in (observations, products)
        }


def a_fits_file(out: Path, pattern: str = "*_cal.fits") -> Path:
    return sorted(out.rglob(pattern))[0]


@pytest.fixture
def ingested_demo(demo_archive_copy: Archive, demo_output):  # type: ignore[no-untyped-def]
    """An archive of its own holding the demo output, and that output's folder."""
    out, _ = demo_output
    return demo_archive_copy, out


def test_bad_files_are_reported_and_skipped(ingested_demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    archive, out = ingested_demo
    before = snapshot(archive)
    bad = tmp_path / "bad"
    bad.mkdir()
    source = a_fits_file(out)
    content = source.read_bytes()

    # truncated copy of a real file under a new, valid name of an existing program
    truncated = bad / source.name.replace("_00001_", "_00091_")
    truncated.write_bytes(content[: len(content) - 2000])
    # a FITS file whose header lacks the keywords ingest needs
    missing = bad / source.name.replace("_00001_", "_00092_")
    fits.PrimaryHDU(header=fits.Header([("TELESCOP", "JWST")])).writeto(missing)
    # a name that follows no JWST rule
    unknown = bad / "my_notes_final.fits"
    shutil.copy(source, unknown)
    # an empty file and a broken association
    empty = bad / source.name.replace("_00001_", "_00093_")
    empty.write_bytes(b"")
    broken_asn = bad / "jw01558-o001_20240101t000000_image3_00001_asn.json"
    broken_asn.write_text("{not json")
    # a good new file beside them still goes in
    good = bad / source.name.replace("_00001_", "_00094_")
    with fits.open(source) as hdul:
        hdul[0].header["DATE"] = "2030-01-01T00:00:00.000"
        hdul.writeto(good)

    report = ingest(archive, bad)
    reasons = {Path(path).name: reason for path, reason in report.failed}
    assert set(reasons) == {truncated.name, missing.name, unknown.name, empty.name,
                            broken_asn.name}  # fmt: skip
    assert "truncated" in reasons[truncated.name]
    assert "missing header keywords" in reasons[missing.name]
    assert "naming rule" in reasons[unknown.name]
    assert "empty" in reasons[empty.name]
    assert "association" in reasons[broken_asn.name]
    assert report.added == 1

    after = snapshot(archive)
    assert set(before["products"]) <= set(after["products"])
    assert len(after["products"]) == len(before["products"]) + 1
    with archive.engine.connect() as conn:
        keys = [k for (k,) in conn.execute(select(products.c.storage_key))]
    assert all(archive.storage.exists(key) for key in keys)


def test_cli_exits_non_zero_and_names_the_file(ingested_demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    archive, out = ingested_demo
    bad = tmp_path / "cli-bad"
    bad.mkdir()
    (bad / "README.fits").write_bytes(b"SIMPLE  =                    T")
    result = subprocess.run(
        [sys.executable, "-m", "skyarchive", "--home", str(archive.settings.home), "ingest",
         str(bad)],
        capture_output=True, text=True, timeout=120,
        env={"SKYARCHIVE_DATABASE_URL": archive.settings.resolved_database_url,
             "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "README.fits" in result.stderr
    assert "1 failed" in result.stderr.replace("\n", " ")


def test_newer_version_replaces_and_older_is_kept_out(ingested_demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    archive, out = ingested_demo
    source = a_fits_file(out)
    with archive.engine.connect() as conn:
        old = conn.execute(select(products).where(products.c.productFilename == source.name)).one()

    newer_dir, older_dir = tmp_path / "newer", tmp_path / "older"
    newer_dir.mkdir()
    older_dir.mkdir()
    with fits.open(source) as hdul:
        hdul[0].header["DATE"] = "2099-01-01T00:00:00.000"
        hdul[0].header["CAL_VER"] = "9.9.9"
        hdul.writeto(newer_dir / source.name)
        hdul[0].header["DATE"] = "1999-01-01T00:00:00.000"
        hdul[0].header["CAL_VER"] = "0.0.1"
        hdul.writeto(older_dir / source.name)

    report = ingest(archive, newer_dir)
    assert (report.replaced, report.added, report.failed) == (1, 0, [])
    with archive.engine.connect() as conn:
        new = conn.execute(select(products).where(products.c.productFilename == source.name)).one()
    assert new.product_id == old.product_id
    assert new.sha256 != old.sha256
    assert new.prvversion == "9.9.9"
    assert not archive.storage.exists(old.storage_key)
    assert b"".join(archive.storage.open_range(new.storage_key)) == (
        (newer_dir / source.name).read_bytes()
    )

    report = ingest(archive, older_dir)
    assert (report.older, report.replaced) == (1, 0)
    with archive.engine.connect() as conn:
        kept = conn.execute(
            select(products.c.sha256).where(products.c.productFilename == source.name)
        ).scalar_one()
    assert kept == new.sha256


def test_data_arrays_survive_the_round_trip(ingested_demo) -> None:  # type: ignore[no-untyped-def]
    archive, out = ingested_demo
    source = a_fits_file(out)
    with archive.engine.connect() as conn:
        key = conn.execute(
            select(products.c.storage_key).where(products.c.productFilename == source.name)
        ).scalar_one()
    stored = archive.storage.path(key)  # type: ignore[attr-defined]
    with fits.open(stored) as a, fits.open(source) as b:
        assert np.array_equal(a["SCI"].data, b["SCI"].data)
