"""Streaming zip/tar bundles and manifests, without a server."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from skyarchive.access.policy import Caller
from skyarchive.delivery.bundles import check_bundle_size, stream_bundle
from skyarchive.delivery.manifest import manifest_html
from skyarchive.delivery.selection import MISSING, Excluded, Item, Selection, file_path
from skyarchive.errors import PayloadTooLarge
from skyarchive.storage.memory import MemoryStorage


def _item(storage: MemoryStorage, tmp_path: Path, name: str, data: bytes, **kw: object) -> Item:
    source = tmp_path / name
    source.write_bytes(data)
    key = f"JWST/product/{name}"
    storage.put_file(key, source)
    values = dict(
        product_id=abs(hash(name)) % 10**9, filename=name, data_uri=f"mast:JWST/product/{name}",
        path=file_path("JWST", "jw-obs", name), size=len(data),
        sha256=hashlib.sha256(data).hexdigest(), storage_key=key, description=f"<{name}>",
        product_type="SCIENCE", subgroup="CAL", calib_level=2, mrp=True, proposal_id="1",
        t_obs_release=1.0, restricted=False,
    )  # fmt: skip
    values.update(kw)
    return Item(**values)  # type: ignore[arg-type]


@pytest.fixture
def selection(tmp_path: Path) -> tuple[Selection, MemoryStorage]:
    storage = MemoryStorage()
    items = [
        _item(storage, tmp_path, "a_cal.fits", b"A" * 3000),
        _item(storage, tmp_path, "b_cal.fits", b""),
        _item(storage, tmp_path, "c_i2d.fits", bytes(range(256)) * 4099, restricted=True),
    ]
    gone = _item(storage, tmp_path, "gone_cal.fits", b"x" * 10)
    storage.delete(gone.storage_key)
    excluded = [Excluded("secret_cal.fits", "JWST/jw-obs/secret_cal.fits", "not authorised: x")]
    return Selection(items + [gone], excluded), storage


def _manifest(items, excluded) -> str:  # type: ignore[no-untyped-def]
    return manifest_html(items, excluded, caller=Caller(email="a@b.org"), source="http://x")


@pytest.mark.parametrize("fmt", ["zip", "tar", "tar.gz"])
def test_bundle_holds_files_and_manifest(selection, fmt: str) -> None:  # type: ignore[no-untyped-def]
    chosen, storage = selection
    done: list[bool] = []
    data = b"".join(
        stream_bundle(chosen, storage=storage, fmt=fmt, manifest=_manifest,
                      on_complete=lambda: done.append(True))
    )  # fmt: skip
    if fmt == "zip":
        archive = zipfile.ZipFile(io.BytesIO(data))
        assert archive.testzip() is None
        contents = {name: archive.read(name) for name in archive.namelist()}
    else:
        archive = tarfile.open(fileobj=io.BytesIO(data))  # noqa: SIM115
        contents = {m.name: archive.extractfile(m).read() for m in archive.getmembers()}  # type: ignore[union-attr]
    assert done == [True]
    assert list(contents) == [
        "JWST/jw-obs/a_cal.fits", "JWST/jw-obs/b_cal.fits", "JWST/jw-obs/c_i2d.fits",
        "MANIFEST.HTML",
    ]  # fmt: skip
    for item in chosen.items[:3]:
        assert hashlib.sha256(contents[item.path]).hexdigest() == item.sha256
    page = contents["MANIFEST.HTML"].decode()
    for item in chosen.items[:3]:
        assert item.sha256 in page and item.path in page
    assert "&lt;a_cal.fits&gt;" in page  # descriptions are escaped
    assert "exclusive access (restricted)" in page
    assert "secret_cal.fits" in page and "not authorised" in page
    assert "gone_cal.fits" in page and MISSING in page


def test_zip_entries_are_stored_without_compression(selection) -> None:  # type: ignore[no-untyped-def]
    chosen, storage = selection
    data = b"".join(stream_bundle(chosen, storage=storage, fmt="zip", manifest=_manifest))
    infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    assert {i.compress_type for i in infos if i.filename.endswith(".fits")} == {zipfile.ZIP_STORED}


def test_size_limit_points_to_scripts_and_staging(selection) -> None:  # type: ignore[no-untyped-def]
    chosen, _ = selection
    with pytest.raises(PayloadTooLarge) as caught:
        check_bundle_size(chosen, limit=100)
    assert "cURL script" in str(caught.value) and "staging" in str(caught.value)
    check_bundle_size(chosen, limit=10**9)


def test_paths_are_safe() -> None:
    assert file_path("JWST", "..", "a/b.fits") == "JWST/_/a_b.fits"
    assert file_path("JWST", "../..", "x.fits").split("/") == ["JWST", ".._..", "x.fits"]
    assert file_path(None, None, "x.fits") == "unknown/unassigned/x.fits"
