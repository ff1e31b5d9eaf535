"""Files in a local directory, laid out by key."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import suppress
from pathlib import Path

from skyarchive.errors import NotFound
from skyarchive.storage.base import (
    CHUNK,
    StoredFile,
    StoredObject,
    copy_with_digest,
    digest_of,
    safe_key,
)


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        """Where ``key`` lies; a symlink inside storage must not lead out of it.

        A key is a plain relative path (:func:`safe_key`), so only a symlink can lead out:
        each of the key's own few components is looked at (``lstat``), and the whole path is
        resolved only when one is a link. Resolving every path from ``/`` cost a small
        download a stat of every directory above the root too (docs/performance.md).
        """
        parts = safe_key(key).split("/")
        place = str(self.root)
        for part in parts:
            place = f"{place}/{part}"
            try:
                mode = os.lstat(place).st_mode
            except (FileNotFoundError, NotADirectoryError):
                break  # nothing further down exists, so no link either (a file to be put)
            if stat.S_ISLNK(mode):
                return self._resolved_inside(key)
        return self.root.joinpath(*parts)

    def _resolved_inside(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise NotFound(f"No file stored under {key!r}.")
        return path

    def put_file(self, key: str, source: Path) -> StoredFile:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                size, sha = copy_with_digest(src, out)
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return StoredFile(key=key, size=size, sha256=sha)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def missing(self, keys: Iterable[str]) -> set[str]:
        return {key for key in keys if not self.exists(key)}

    def size(self, key: str) -> int:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError as exc:
            raise NotFound(f"No file stored under {key!r}.") from exc

    def open_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        try:
            return read_file_range(self.path(key), start, end)
        except FileNotFoundError as exc:
            raise NotFound(f"No file stored under {key!r}.") from exc

    def checksum(self, key: str) -> str:
        return digest_of(self.open_range(key))

    def recorded(self, key: str) -> StoredFile:
        return StoredFile(key=key, size=self.size(key), sha256="")  # a directory keeps none

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def list_objects(self, prefix: str = "") -> Iterator[StoredObject]:
        # walk only the directory the prefix ends in (a key's own directory for a whole key)
        folder = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        for directory, _dirs, names in os.walk(folder):
            for name in names:
                path = Path(directory, name)
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    with suppress(FileNotFoundError):  # removed while we walked
                        found = path.stat()
                        yield StoredObject(key=key, size=found.st_size, modified=found.st_mtime)

    def local_path(self, key: str) -> Path:
        path = self.path(key)
        if not path.is_file():
            raise NotFound(f"No file stored under {key!r}.")
        return path

    def url_for(
        self, key: str, seconds: int, *, response_headers: Mapping[str, str] | None = None
    ) -> None:
        return None  # a local file is only ever read through the server

    def __str__(self) -> str:
        return self.root.as_uri()


def read_file_range(path: Path, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """Bytes ``start``..``end`` (inclusive; None: to the end) of a local file, in chunks.

    The file is opened here, so a missing one fails before a response starts; the returned
    reader closes it.
    """
    return _read_range(open(path, "rb"), start, end)  # noqa: SIM115


def _read_range(handle, start: int, end: int | None) -> Iterator[bytes]:  # type: ignore[no-untyped-def]
    with handle:
        handle.seek(start)
        remaining = None if end is None else end - start + 1
        while remaining is None or remaining > 0:
            chunk = handle.read(CHUNK if remaining is None else min(CHUNK, remaining))
            if not chunk:
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk
