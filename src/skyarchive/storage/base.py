"""The storage interface every backend implements.

Keys are relative POSIX paths such as ``JWST/product/jw01073001001_02101_00001_nrca1_uncal.fits``.
``safe_key`` is the single gate that refuses anything that could escape the storage root.

Every backend answers the same questions the same way (``tests/storage/test_contract.py`` holds
them to it): a missing key is :class:`~skyarchive.errors.NotFound`, a range past the end yields
what there is, and a write either lands whole or not at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
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


@dataclass(frozen=True)
class StoredObject:
    """One object as a listing shows it: its key, size and last change (Unix seconds)."""

    key: str
    size: int
    modified: float


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


def digest_of(chunks: Iterator[bytes]) -> str:
    """SHA-256 hex of a stream of chunks (read once, nothing kept)."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


class Storage(Protocol):
    """Where archived files live: a local directory, an S3 bucket, or memory (tests)."""

    def put_file(self, key: str, source: Path) -> StoredFile:
        """Store a copy of ``source`` under ``key`` atomically (readers never see half a file),
        streamed from the file; the answer carries the SHA-256 of what was stored."""

    def exists(self, key: str) -> bool: ...

    def missing(self, keys: Iterable[str]) -> set[str]:
        """The ``keys`` this storage lacks: one question for a whole selection, which an object
        store answers with requests in parallel rather than one round trip after another."""

    def size(self, key: str) -> int:
        """Bytes stored under ``key``; :class:`NotFound` when there is none."""

    def open_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Yield the bytes ``start``..``end`` (inclusive; ``None`` = to the end) in chunks.

        A missing key raises :class:`NotFound` here, before the first chunk, so a response
        can still be refused cleanly. The iterator has ``close()``.
        """

    def checksum(self, key: str) -> str:
        """SHA-256 hex of the bytes stored under ``key``, read back from the store (not a
        recorded value: this is what verification relies on)."""

    def recorded(self, key: str) -> StoredFile:
        """The size of ``key`` and the SHA-256 the store recorded when it was put, without
        reading the bytes (one HEAD on an object store); ``sha256`` is '' when the backend
        records none (a local directory). :class:`NotFound` when there is no such file."""

    def delete(self, key: str) -> None:
        """Remove ``key``; nothing happens when it is already gone."""

    def list_objects(self, prefix: str = "") -> Iterator[StoredObject]:
        """Every object whose key starts with ``prefix``, with its size and last change, in
        no particular order; streamed, so a store of millions of objects is listed in flat
        memory. A local directory lists the temporary files of unfinished writes too."""

    def local_path(self, key: str) -> Path | None:
        """The file's path on this machine when the backend has one (None otherwise), for
        hard links and ``sendfile``-style reads; :class:`NotFound` when a local file is
        missing."""

    def url_for(
        self, key: str, seconds: int, *, response_headers: Mapping[str, str] | None = None
    ) -> str | None:
        """A URL that reads ``key`` without credentials for ``seconds``, answered with
        ``response_headers`` (``Content-Type``, ``Content-Disposition``) where the store can
        set them; None when the backend cannot make one (local disk). Hand it out only after
        the access check: whoever holds it may read the file until it expires."""
