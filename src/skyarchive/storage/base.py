"""The storage interface every backend implements.

Keys are relative POSIX paths such as ``JWST/product/jw01073001001_02101_00001_nrca1_uncal.fits``.
``safe_key`` is the single gate that refuses anything that could escape the storage root.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from skyarchive.errors import BadQuery

CHUNK = 1 << 20


@dataclass(frozen=True)
class StoredFile:
    key: str
    size: int
    sha256: str


def safe_key(key: str) -> str:
    """Return ``key`` if it is a plain relative path, else raise :class:`BadQuery`."""
    if not key or "\x00" in key or "\\" in key or key.startswith("/"):
        raise BadQuery(f"Invalid storage key {key!r}.")
    parts = key.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise BadQuery(f"Invalid storage key {key!r}.")
    return key


def copy_with_digest(source: BinaryIO, target: BinaryIO) -> tuple[int, str]:
    """Copy ``source`` to ``target`` in chunks; return (bytes copied, SHA-256 hex)."""
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(CHUNK):
        digest.update(chunk)
        target.write(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


class Storage(Protocol):
    def put_file(self, key: str, source: Path) -> StoredFile:
        """Store a copy of ``source`` under ``key`` atomically (readers never see half a file)."""

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int: ...

    def open_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Yield the bytes ``start``..``end`` (inclusive; ``None`` = to the end) in chunks."""

    def delete(self, key: str) -> None: ...
