"""Copy an archive's files from one storage to another, verified, resumable.

``skyarchive storage migrate --to s3://bucket/prefix`` runs :func:`migrate_files` over every
file the catalogue names. Each file keeps its storage key, so the catalogue (data URIs, storage
keys, checksums) needs no change: once every file is verified, pointing ``storage_url`` at the
target switches the archive over. The source is left as it was, for a way back.

A file counts as migrated only when the target's own bytes, read back after the copy, have
the SHA-256 the catalogue records. A run that is stopped at any point (Ctrl-C, a killed
process, a lost connection) is resumed by running it again: files already in the target are
checked and skipped, the rest are copied. An upload cut off half-way leaves nothing behind (a
local file is renamed into place, an S3 object appears only when complete).

Checking a file already in the target costs no read where the store recorded the SHA-256 it
was given (S3 user metadata, written by ``put_file`` and only present on a complete object):
one HEAD compares the size and that SHA-256 with the catalogue's, so resuming a migration of
10^8 files does not read them all back. A target that records none (a local directory) is
read back; ``reread=True`` reads every file already there back regardless (a full audit).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, func, select

from skyarchive.db.tables import products
from skyarchive.errors import NotFound
from skyarchive.storage.base import Storage, StoredFile

COPIED = "copied"
ALREADY_THERE = "already there"


@dataclass(frozen=True)
class CatalogueFile:
    key: str
    size: int
    sha256: str


@dataclass
class MigrationReport:
    copied: int = 0
    already_there: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)

    @property
    def verified(self) -> int:
        return self.copied + self.already_there

    @property
    def ok(self) -> bool:
        return not self.failed


def catalogue_files(engine: Engine) -> Iterator[CatalogueFile]:
    """Every stored file the catalogue names, once each, in key order."""
    query = (
        select(products.c.storage_key, products.c.size, products.c.sha256)
        .where(products.c.storage_key.is_not(None))
        .distinct()
        .order_by(products.c.storage_key)
    )
    with engine.connect() as conn:
        for row in conn.execute(query):
            yield CatalogueFile(row.storage_key, int(row.size), row.sha256)


def count_catalogue_files(engine: Engine) -> int:
    query = select(func.count(products.c.storage_key.distinct()))
    with engine.connect() as conn:
        return int(conn.scalar(query) or 0)


def migrate_files(
    files: Iterable[CatalogueFile],
    *,
    source: Storage,
    target: Storage,
    on_file: Callable[[CatalogueFile, str], None] | None = None,
    reread: bool = False,
) -> MigrationReport:
    """Copy ``files`` from ``source`` to ``target`` and verify each against its SHA-256.

    Parameters
    ----------
    files : iterable of CatalogueFile
        What to move (key, size in bytes, SHA-256 hex), usually :func:`catalogue_files`.
    source, target : Storage
        Where the files are and where they go; the keys stay the same.
    on_file : callable, optional
        Given each file and what happened to it (``"copied"``, ``"already there"`` or the
        reason it failed), for progress.
    reread : bool
        Read back every file already in the target, rather than trust the SHA-256 the store
        recorded at upload.

    Returns
    -------
    MigrationReport
        Counts and the files that could not be verified, each with the reason; a file whose
        source is missing or differs from the catalogue is reported, never copied.
    """
    report = MigrationReport()
    for found in files:
        outcome = _migrate_one(found, source, target, reread=reread)
        if outcome == COPIED:
            report.copied += 1
        elif outcome == ALREADY_THERE:
            report.already_there += 1
        else:
            report.failed.append((found.key, outcome))
        if on_file is not None:
            on_file(found, outcome)
    return report


def _migrate_one(found: CatalogueFile, source: Storage, target: Storage, *, reread: bool) -> str:
    if _already_there(found, target, reread=reread):
        return ALREADY_THERE
    try:
        stored = _copy(found.key, source, target)
    except NotFound:
        return "missing from the source storage"
    if stored.sha256 != found.sha256:
        target.delete(found.key)
        return f"the source's bytes have SHA-256 {stored.sha256}, the catalogue {found.sha256}"
    if not _verified(found, target):
        target.delete(found.key)
        return "the copy in the target does not read back with the catalogue's SHA-256"
    return COPIED


def _already_there(found: CatalogueFile, target: Storage, *, reread: bool) -> bool:
    """Whether the target holds the catalogue's file: by the size and SHA-256 it recorded
    (one HEAD), or by reading it back when it recorded none or ``reread`` asks to."""
    try:
        recorded = target.recorded(found.key)
    except NotFound:
        return False
    if recorded.size != found.size:
        return False
    if recorded.sha256 and not reread:
        return recorded.sha256 == found.sha256
    return _read_back(found, target)


def _verified(found: CatalogueFile, target: Storage) -> bool:
    try:
        return target.size(found.key) == found.size and _read_back(found, target)
    except NotFound:
        return False


def _read_back(found: CatalogueFile, target: Storage) -> bool:
    try:
        return target.checksum(found.key) == found.sha256
    except NotFound:
        return False


def _copy(key: str, source: Storage, target: Storage) -> StoredFile:
    """Put the source's file into the target, streamed (through a temporary file when the
    source has no local path)."""
    path = source.local_path(key)
    if path is not None:
        return target.put_file(key, path)
    with tempfile.TemporaryDirectory(prefix="skyarchive-migrate-") as folder:
        spooled = Path(folder) / "file"
        with open(spooled, "wb") as out:
            for chunk in source.open_range(key):
                out.write(chunk)
        return target.put_file(key, spooled)


@dataclass(frozen=True)
class StorageMigration:
    """An archive's move to another storage: what ``skyarchive storage migrate`` runs."""

    engine: Engine
    source: Storage
    target: Storage

    def total(self) -> int:
        return count_catalogue_files(self.engine)

    def run(
        self, on_file: Callable[[CatalogueFile, str], None] | None = None, *, reread: bool = False
    ) -> MigrationReport:
        files = catalogue_files(self.engine)
        return migrate_files(
            files, source=self.source, target=self.target, on_file=on_file, reread=reread
        )
