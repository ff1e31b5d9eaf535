"""Local storage never serves a file through a symlink that leads out of its directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from skyarchive.errors import NotFound
from skyarchive.storage import LocalStorage


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "files")


def test_a_plain_key_is_its_place_under_the_root(storage: LocalStorage) -> None:
    (storage.root / "JWST" / "product").mkdir(parents=True)
    (storage.root / "JWST" / "product" / "a.fits").write_bytes(b"SIMPLE")
    assert storage.path("JWST/product/a.fits") == storage.root / "JWST" / "product" / "a.fits"
    assert b"".join(storage.open_range("JWST/product/a.fits")) == b"SIMPLE"


def test_a_key_not_yet_stored_has_a_place_to_be_put(storage: LocalStorage, tmp_path: Path) -> None:
    source = tmp_path / "new.fits"
    source.write_bytes(b"NEW")
    stored = storage.put_file("JWST/new/deeper/new.fits", source)
    assert stored.size == 3
    assert (storage.root / "JWST" / "new" / "deeper" / "new.fits").read_bytes() == b"NEW"


@pytest.mark.parametrize("linked", ["directory", "file"])
def test_a_link_leading_out_is_not_found(
    storage: LocalStorage, tmp_path: Path, linked: str
) -> None:
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "passwd").write_bytes(b"root:x:0:0")
    (storage.root / "JWST").mkdir()
    if linked == "directory":
        (storage.root / "JWST" / "product").symlink_to(outside, target_is_directory=True)
    else:
        (storage.root / "JWST" / "product").mkdir()
        (storage.root / "JWST" / "product" / "passwd").symlink_to(outside / "passwd")
    with pytest.raises(NotFound, match="No file stored"):
        storage.path("JWST/product/passwd")
    with pytest.raises(NotFound):
        b"".join(storage.open_range("JWST/product/passwd"))


def test_a_link_within_storage_is_followed(storage: LocalStorage) -> None:
    (storage.root / "real").mkdir()
    (storage.root / "real" / "a.fits").write_bytes(b"DATA")
    (storage.root / "alias").symlink_to(storage.root / "real", target_is_directory=True)
    assert storage.path("alias/a.fits") == storage.root / "real" / "a.fits"
    assert b"".join(storage.open_range("alias/a.fits")) == b"DATA"
