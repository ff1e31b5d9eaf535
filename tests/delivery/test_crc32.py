"""CRC-32s for zip bundles: taken at ingest, filled in once for older rows, kept by upgrades."""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path

from alembic import command
from sqlalchemy import select, text, update

from skyarchive.access.policy import Caller
from skyarchive.access.rights import now_mjd
from skyarchive.db.engine import (
    alembic_config,
    current_revision,
    head_revision,
    make_engine,
    upgrade,
)
from skyarchive.db.tables import products
from skyarchive.delivery.bundles import prepare_bundle
from skyarchive.delivery.manifest import manifest_html
from skyarchive.delivery.selection import crc32_recorder, resolve_selection
from skyarchive.ingest.reader import sha256_of
from skyarchive.ingest.run import ingest_paths
from tests.delivery.helpers import make_archive, write_manifest


def _crcs(archive) -> dict[str, int | None]:  # type: ignore[no-untyped-def]
    with archive.engine.connect() as conn:
        rows = conn.execute(select(products.c.productFilename, products.c.crc32))
        return {name: crc for name, crc in rows}


def test_one_read_gives_size_sha256_and_crc32(tmp_path: Path) -> None:
    path = tmp_path / "f.dat"
    path.write_bytes(b"x" * (3 << 20) + b"tail")
    size, sha, crc = sha256_of(path)
    assert (size, crc) == (path.stat().st_size, zlib.crc32(path.read_bytes()))
    assert len(sha) == 64


def test_ingest_records_crc32_and_a_bundle_fills_in_missing_ones(tmp_path: Path) -> None:
    files = {"one_drz.dat": 5000, "two_drz.dat": 123_456, "empty_drz.dat": 0}
    source = write_manifest(tmp_path / "in", files)
    archive = make_archive(tmp_path / "home", source.parent)
    expected = {n: zlib.crc32((source.parent / n).read_bytes()) for n in files}
    assert _crcs(archive) == expected

    with archive.engine.begin() as conn:  # as if ingested by a version without CRC-32s
        conn.execute(update(products).where(products.c.productFilename != "one_drz.dat")
                     .values(crc32=None))  # fmt: skip
    caller = Caller()
    with archive.engine.connect() as conn:
        selection = resolve_selection(conn, archive.storage, caller=caller, now=now_mjd(),
                                      uris=list(files))  # fmt: skip
    assert [item.crc32 for item in selection.items] == [expected["one_drz.dat"], None, None]
    bundle = prepare_bundle(
        selection, storage=archive.storage, fmt="zip", on_crc32=crc32_recorder(archive.engine),
        manifest=lambda i, e: manifest_html(i, e, caller=caller, source="http://x"),
    )  # fmt: skip
    data = b"".join(bundle.chunks)
    assert len(data) == bundle.length
    assert zipfile.ZipFile(io.BytesIO(data)).testzip() is None
    assert _crcs(archive) == expected  # stored once, for the next bundle

    with archive.engine.begin() as conn:
        conn.execute(update(products).values(crc32=None))
    report = ingest_paths([source.parent], engine=archive.engine, storage=archive.storage,
                          default_eap_months=12)  # fmt: skip
    assert report.ok
    assert _crcs(archive) == expected  # re-ingesting unchanged files fills them in too
    archive.engine.dispose()


def test_an_older_archive_upgrades_in_place_with_crc32_unset(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine, "0003")
    with engine.begin() as conn:
        conn.execute(
            text(
                'INSERT INTO products ("productFilename", "dataURI", obs_collection, '
                "\"productType\", size, sha256, storage_key) VALUES ('old_cal.fits', "
                "'mast:JWST/product/old_cal.fits', 'JWST', 'SCIENCE', 10, 'ab', 'k')"
            )
        )
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        rows = conn.execute(text('SELECT "productFilename", size, crc32 FROM products')).all()
    assert rows == [("old_cal.fits", 10, None)]
    command.downgrade(alembic_config(engine), "0003")
    with engine.connect() as conn:
        assert conn.execute(text('SELECT "productFilename" FROM products')).scalar() == (
            "old_cal.fits"
        )
    upgrade(engine)
    engine.dispose()
