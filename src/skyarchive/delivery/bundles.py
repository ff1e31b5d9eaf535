"""Streaming zip and tar bundles: built while they are sent, nothing staged, flat memory.

A bundle is produced as an iterator of byte chunks. Each archived file is read from storage in
1 MiB chunks and passed through; only headers are made here. Zip entries are stored without
compression (FITS does not compress usefully, and stored entries run at disk speed); sizes and
offsets beyond 4 GiB use zip64 records. Tar is POSIX pax (any size, long names); ``tar.gz`` is
the same stream through gzip. ``MANIFEST.HTML`` goes last, so it also reports a file that
vanished from storage while the bundle was being sent.
"""

from __future__ import annotations

import tarfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime

from skyarchive.delivery.selection import MISSING, Excluded, Item, Selection
from skyarchive.errors import BadQuery, NotFound, PayloadTooLarge
from skyarchive.storage import Storage

FORMATS = {"zip": "application/zip", "tar": "application/x-tar", "tar.gz": "application/gzip"}
MANIFEST_NAME = "MANIFEST.HTML"
_FLUSH = 1 << 20
_GZIP_LEVEL = 1  # FITS barely compresses; level 1 keeps gzip near disk speed

ManifestMaker = Callable[[Sequence[Item], Sequence[Excluded]], str]


def bundle_name(fmt: str, moment: datetime | None = None) -> str:
    moment = moment or datetime.now(UTC)
    return f"MAST_{moment:%Y-%m-%dT%H%M%S}.{fmt}"


def check_bundle_size(selection: Selection, *, limit: int) -> None:
    """Raise PayloadTooLarge when the selection exceeds the operator's bundle limit."""
    total = selection.total_bytes
    if total > limit:
        raise PayloadTooLarge(
            f"The selection holds {len(selection.items)} files, {total / 1024**3:.2f} GiB, above "
            f"this server's limit of {limit / 1024**3:.2f} GiB for one zip or tar bundle. Use a "
            "cURL script (POST the same fields to /api/v0.1/Download/bundle.sh) or batch staging "
            "(POST them to /api/v0.1/Download/stage)."
        )


def stream_bundle(
    selection: Selection,
    *,
    storage: Storage,
    fmt: str,
    manifest: ManifestMaker,
    on_complete: Callable[[], None] | None = None,
) -> Iterator[bytes]:
    """The bundle's bytes, in chunks.

    Parameters
    ----------
    selection : Selection
        Files to send (in order) and files already known to be left out.
    storage : Storage
        Where the files' bytes are read from.
    fmt : {"zip", "tar", "tar.gz"}
        Container format.
    manifest : callable
        Makes ``MANIFEST.HTML`` from the files sent and those left out.
    on_complete : callable, optional
        Called once the last byte has been produced (e.g. to empty a basket).
    """
    if fmt not in FORMATS:
        raise BadQuery(f"Unknown bundle format {fmt!r}; use one of {', '.join(FORMATS)}.")
    writer = _zip_stream if fmt == "zip" else _tar_stream
    chunks = writer(selection, storage, manifest)
    if fmt == "tar.gz":
        chunks = _gzip(chunks)
    yield from chunks
    if on_complete is not None:
        on_complete()


def _open(storage: Storage, item: Item) -> Iterator[bytes] | None:
    try:
        return storage.open_range(item.storage_key, 0, None)
    except (NotFound, OSError):
        return None


class _Sink:
    """A write-only, non-seekable file for zipfile; collects what it is given."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.pending = 0

    def write(self, data: bytes) -> int:
        self.parts.append(data)
        self.pending += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def take(self, minimum: int = 0) -> Iterator[bytes]:
        if self.pending and self.pending >= minimum:
            parts, self.parts, self.pending = self.parts, [], 0
            yield parts[0] if len(parts) == 1 else b"".join(parts)


def _zip_stream(selection: Selection, storage: Storage, manifest: ManifestMaker) -> Iterator[bytes]:
    sink = _Sink()
    sent: list[Item] = []
    excluded = list(selection.excluded)
    with zipfile.ZipFile(sink, mode="w", allowZip64=True) as archive:  # type: ignore[arg-type]
        for item in selection.items:
            body = _open(storage, item)
            if body is None:
                excluded.append(Excluded(item.filename, item.path, MISSING, item.size))
                continue
            info = zipfile.ZipInfo(item.path, date_time=time.gmtime()[:6])
            info.compress_type = zipfile.ZIP_STORED
            info.file_size = item.size
            info.external_attr = 0o644 << 16
            with archive.open(info, mode="w", force_zip64=item.size > 0xFFFF0000) as entry:
                for chunk in body:
                    entry.write(chunk)
                    yield from sink.take(_FLUSH)
            sent.append(item)
            yield from sink.take(_FLUSH)
        page = manifest(sent, excluded).encode("utf-8")
        info = zipfile.ZipInfo(MANIFEST_NAME, date_time=time.gmtime()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        archive.writestr(info, page)
    yield from sink.take()


def _tar_header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, int(time.time()), 0o644
    return info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape")


def _tar_stream(selection: Selection, storage: Storage, manifest: ManifestMaker) -> Iterator[bytes]:
    sent: list[Item] = []
    excluded = list(selection.excluded)
    for item in selection.items:
        body = _open(storage, item)
        if body is None:
            excluded.append(Excluded(item.filename, item.path, MISSING, item.size))
            continue
        yield _tar_header(item.path, item.size)
        written = 0
        for chunk in body:
            written += len(chunk)
            yield chunk
        if written != item.size:  # the archive would be corrupt past this point
            raise OSError(f"{item.storage_key}: stored size {written} is not {item.size}")
        if item.size % tarfile.BLOCKSIZE:
            yield bytes(tarfile.BLOCKSIZE - item.size % tarfile.BLOCKSIZE)
        sent.append(item)
    page = manifest(sent, excluded).encode("utf-8")
    padding = bytes(-len(page) % tarfile.BLOCKSIZE)
    yield _tar_header(MANIFEST_NAME, len(page)) + page + padding + bytes(2 * tarfile.BLOCKSIZE)


def _gzip(chunks: Iterator[bytes]) -> Iterator[bytes]:
    packer = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, 31)  # 31: gzip header and trailer
    pending: list[bytes] = []
    size = 0
    for chunk in chunks:
        out = packer.compress(chunk)
        if out:
            pending.append(out)
            size += len(out)
            if size >= _FLUSH:
                yield b"".join(pending)
                pending, size = [], 0
    pending.append(packer.flush())
    yield b"".join(pending)
