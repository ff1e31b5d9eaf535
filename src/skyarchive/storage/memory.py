"""An in-memory storage for unit tests (same behaviour as LocalStorage, no disk)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from skyarchive.errors import NotFound
from skyarchive.storage.base import CHUNK, StoredFile, StoredObject, safe_key


class MemoryStorage:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.modified: dict[str, float] = {}

    def put_file(self, key: str, source: Path) -> StoredFile:
        data = Path(source).read_bytes()
        self.blobs[safe_key(key)] = data
        self.modified[key] = time.time()
        return StoredFile(key=key, size=len(data), sha256=hashlib.sha256(data).hexdigest())

    def exists(self, key: str) -> bool:
        return safe_key(key) in self.blobs

    def missing(self, keys: Iterable[str]) -> set[str]:
        return {key for key in keys if not self.exists(key)}

    def size(self, key: str) -> int:
        return len(self._get(key))

    def open_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        data = self._get(key)[start : None if end is None else end + 1]
        return _chunks(data)

    def checksum(self, key: str) -> str:
        return hashlib.sha256(self._get(key)).hexdigest()

    def recorded(self, key: str) -> StoredFile:
        return StoredFile(key=key, size=self.size(key), sha256="")  # as a local directory

    def delete(self, key: str) -> None:
        self.blobs.pop(safe_key(key), None)
        self.modified.pop(key, None)

    def list_objects(self, prefix: str = "") -> Iterator[StoredObject]:
        for key, data in list(self.blobs.items()):
            if key.startswith(prefix):
                yield StoredObject(key=key, size=len(data), modified=self.modified.get(key, 0.0))

    def local_path(self, key: str) -> None:
        return None

    def url_for(
        self, key: str, seconds: int, *, response_headers: Mapping[str, str] | None = None
    ) -> None:
        return None

    def __str__(self) -> str:
        return "memory:"

    def _get(self, key: str) -> bytes:
        try:
            return self.blobs[safe_key(key)]
        except KeyError as exc:
            raise NotFound(f"No file stored under {key!r}.") from exc


def _chunks(data: bytes) -> Iterator[bytes]:
    for offset in range(0, len(data), CHUNK):
        yield data[offset : offset + CHUNK]
