"""Streaming zip/tar bundles and manifests, without a server."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import zipfile
import zlib
from dataclasses import replace
from pathlib import Path

import pytest

from skyarchive.access.policy import Caller
from skyarchive.delivery.bundles import (
    AHEAD_OBJECTS,
    READ_CHUNK,
    check_bundle_size,
    prepare_bundle,
    stream_bundle,
)
from skyarchive.delivery.manifest import manifest_html
from skyarchive.delivery.selection import MISSING, Excluded, Item, Selection, file_path
from skyarchive.errors import PayloadTooLarge
from skyarchive.storage import LocalStorage, Storage
from skyarchive.storage.memory import MemoryStorage


def _item(storage: Storage, tmp_path: Path, name: str, data: bytes, **kw: object) -> Item:
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


def test_zip_length_and_contents_are_known_before_the_first_byte(selection) -> None:  # type: ignore[no-untyped-def]
    chosen, storage = selection
    bundle = prepare_bundle(chosen, storage=storage, fmt="zip", manifest=_manifest)
    assert (bundle.files, bundle.not_included) == (3, 2)  # gone_cal.fits found missing now
    assert bundle.bytes == sum(item.size for item in chosen.items[:3])
    data = b"".join(bundle.chunks)
    assert len(data) == bundle.length
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert names[-1] == "MANIFEST.HTML" and len(names) == 4
    for fmt in ("tar", "tar.gz"):
        assert prepare_bundle(chosen, storage=storage, fmt=fmt, manifest=_manifest).length is None


def test_zip_from_local_storage_reads_large_chunks_and_passes_unzip(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "store")
    sizes = {"big_cal.fits": READ_CHUNK * 2 + 12_345, "tiny_cal.fits": 1, "zero_cal.fits": 0}
    items = []
    for name, size in sizes.items():
        item = _item(storage, tmp_path, name, os.urandom(size))
        items.append(replace(item, crc32=zlib.crc32((tmp_path / name).read_bytes())))
    bundle = prepare_bundle(Selection(items), storage=storage, fmt="zip", manifest=_manifest)
    chunks = list(bundle.chunks)
    assert max(map(len, chunks)) == READ_CHUNK
    target = tmp_path / "bundle.zip"
    target.write_bytes(b"".join(chunks))
    assert target.stat().st_size == bundle.length
    with zipfile.ZipFile(target) as archive:
        assert archive.testzip() is None
        for item in items:
            assert archive.read(item.path) == (tmp_path / item.filename).read_bytes()
    if shutil.which("unzip"):
        tested = subprocess.run(["unzip", "-t", str(target)], capture_output=True, text=True)
        assert tested.returncode == 0, tested.stdout


def test_missing_crcs_are_computed_once_and_reported(selection) -> None:  # type: ignore[no-untyped-def]
    chosen, storage = selection
    known = replace(chosen.items[0], crc32=zlib.crc32(b"A" * 3000))
    unknown = chosen.items[1:3]  # crc32 None: ingested before CRC-32s were recorded
    reported: list[list[tuple[Item, int]]] = []
    data = b"".join(
        stream_bundle(Selection([known, *unknown]), storage=storage, fmt="zip",
                      manifest=_manifest, on_crc32=reported.append)
    )  # fmt: skip
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    assert reported == [[(item, archive.getinfo(item.path).CRC) for item in unknown]]
    assert [archive.getinfo(i.path).flag_bits & 0x08 for i in (known, *unknown)] == [0, 8, 8]


def test_a_file_vanishing_during_a_zip_aborts_it_but_a_tar_reports_it(selection, tmp_path) -> None:  # type: ignore[no-untyped-def]
    chosen, storage = selection
    # 1 MiB, then enough files to fill the read-ahead (objects fetched before they vanish are
    # sent whole), then a_cal.fits, which is fetched only after it vanished
    fillers = [_item(storage, tmp_path, f"f{i}_cal.fits", b"f") for i in range(AHEAD_OBJECTS)]
    kept = Selection([chosen.items[2], *fillers, chosen.items[0]])
    bundle = prepare_bundle(kept, storage=storage, fmt="zip", manifest=_manifest)
    chunks = iter(bundle.chunks)
    next(chunks)
    storage.delete(chosen.items[0].storage_key)  # after the check, before it is read
    with pytest.raises(OSError, match="vanished"):
        list(chunks)
    data = b"".join(stream_bundle(kept, storage=storage, fmt="tar", manifest=_manifest))
    archive = tarfile.open(fileobj=io.BytesIO(data))  # noqa: SIM115
    page = archive.extractfile("MANIFEST.HTML").read().decode()  # type: ignore[union-attr]
    assert "a_cal.fits" in page and MISSING in page


@pytest.mark.parametrize("fmt", ["zip", "tar"])
def test_a_stored_size_unlike_the_catalog_stops_the_stream(selection, fmt: str) -> None:  # type: ignore[no-untyped-def]
    chosen, storage = selection
    wrong = replace(chosen.items[0], size=2999, crc32=0)
    with pytest.raises(OSError):
        b"".join(stream_bundle(Selection([wrong]), storage=storage, fmt=fmt, manifest=_manifest))
