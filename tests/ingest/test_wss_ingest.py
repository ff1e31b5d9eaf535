"""WSS products through the one product writer, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from astropy.io import fits
from astropy.time import Time
from sqlalchemy import select

from skyarchive.archive import Archive
from skyarchive.db.tables import products, wss_products
from skyarchive.demo.wss import DEMO_SENSINGS, write_demo_wss
from skyarchive.ingest.run import ingest_paths
from skyarchive.products.naming import Kind, parse_filename


def _ingest(archive: Archive, *paths: Path):  # type: ignore[no-untyped-def]
    return ingest_paths(list(paths), engine=archive.engine, storage=archive.storage,
                        default_eap_months=12)  # fmt: skip


@pytest.mark.parametrize(
    "name",
    [
        "R2022060802-NRCA3_FP1-1.fits",
        "O2024080501-NRCA3_FP1-1.fits",
        "R2022083106-NRCA1_FP6-12.fits",
    ],
)
def test_wss_names_are_recognised(name: str) -> None:
    assert parse_filename(name).kind is Kind.WSS


def test_demo_opds_ingest_once_with_their_keywords(archive: Archive, tmp_path: Path) -> None:
    files = write_demo_wss(tmp_path / "wss")
    first = _ingest(archive, tmp_path / "wss")
    again = _ingest(archive, tmp_path / "wss")
    assert first.ok and first.added == len(DEMO_SENSINGS)
    assert again.ok and again.added == 0 and again.unchanged == len(DEMO_SENSINGS)
    with archive.engine.connect() as conn:
        rows = (
            conn.execute(
                select(wss_products, products.c.productFilename, products.c.proposal_id)
                .join(products, products.c.product_id == wss_products.c.product_id)
                .order_by(wss_products.c.date_obs_mjd)
            )
            .mappings()
            .all()
        )
    assert [r["productFilename"] for r in rows] == [p.name for p in files]
    for row, (moment, aperture) in zip(rows, DEMO_SENSINGS, strict=True):
        assert row["apername"] == aperture and row["ap_type"] == "OPD"
        assert row["date_obs_mjd"] == pytest.approx(Time(moment).mjd, abs=1e-6)
        assert row["proposal_id"] == "1163" and not row["visit_id"].startswith("V")


def test_a_wss_file_without_corr_id_is_refused_with_the_reason(archive: Archive, tmp_path: Path):
    path = write_demo_wss(tmp_path / "one")[0]
    with fits.open(path, mode="update") as hdul:
        del hdul[0].header["CORR_ID"]
    report = _ingest(archive, path)
    assert not report.ok and "CORR_ID" in report.failed[0][1]
