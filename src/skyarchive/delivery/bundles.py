"""Streaming zip and tar bundles: built while they are sent, nothing staged, flat memory.

Files are read from storage in large chunks (:data:`READ_CHUNK`) and passed through untouched;
only headers are made here. Before the first byte, every file is checked in storage (once: a
selection that was checked when it was made is not asked again): a missing one is left out and
listed in ``MANIFEST.HTML`` with the reason.

* zip (:mod:`skyarchive.delivery.zipstream`): entries stored (FITS does not compress usefully),
  each with the CRC-32 recorded at ingest, so no byte is touched in Python; zip64 where sizes
  or offsets need it. ``MANIFEST.HTML`` is made before the stream starts and stored last, so
  the archive's length is known in advance (:attr:`Bundle.length`, sent as Content-Length). A
  file ingested before CRC-32s were recorded gets a data descriptor and its CRC-32 computed on
  the way; the stream reports it (``on_crc32``) so the catalog stores it once. A file that
  vanishes from storage after the check, or whose size differs from the catalog's, aborts the
  stream: the client sees a short, failed download rather than a broken archive.
* tar: POSIX pax (any size, long names); ``tar.gz`` is the same stream through gzip. Their
  length is not announced, and ``MANIFEST.HTML`` is made at the end, so it also reports a file
  that vanished while the bundle was being sent.
"""

from __future__ import annotations

import tarfile
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO, TypeVar

from skyarchive.delivery.selection import MISSING, Excluded, Item, Selection
from skyarchive.delivery.zipstream import Entry, StoredZip
from skyarchive.errors import BadQuery, NotFound, PayloadTooLarge, ServiceUnavailable
from skyarchive.storage import Storage

T = TypeVar("T")

FORMATS = {"zip": "application/zip", "tar": "application/x-tar", "tar.gz": "application/gzip"}
MANIFEST_NAME = "MANIFEST.HTML"
# Bytes per read and per hand-over to the HTTP server. Measured best at 2 MiB (against 1, 4, 8,
# 16): about what a loopback socket takes in one send; asyncio copies (twice) whatever part of
# a larger chunk the socket does not take at once, and smaller chunks cost more hand-overs.
READ_CHUNK = 2 << 20
_FLUSH = 1 << 20
_GZIP_LEVEL = 1  # FITS barely compresses; level 1 keeps gzip near disk speed

ManifestMaker = Callable[[Sequence[Item], Sequence[Excluded]], str]
CrcRecorder = Callable[[list[tuple[Item, int]]], None]


def bundle_name(fmt: str, moment: datetime | None = None) -> str:
    moment = moment or datetime.now(UTC)
    return f"MAST_{moment:%Y-%m-%dT%H%M%S}.{fmt}"


def check_format(fmt: str) -> None:
    """BadQuery naming the formats when ``fmt`` is not one of them."""
    if fmt not in FORMATS:
        raise BadQuery(f"Unknown bundle format {fmt!r}; use one of {', '.join(FORMATS)}.")


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


@dataclass
class Bundle:
    """A bundle ready to stream: its chunks and what it holds."""

    chunks: Iterator[bytes]
    media_type: str
    length: int | None  # exact byte count when known in advance (zip), else None
    files: int  # files included
    bytes: int  # their payload bytes
    not_included: int


def prepare_bundle(
    selection: Selection,
    *,
    storage: Storage,
    fmt: str,
    manifest: ManifestMaker,
    on_complete: Callable[[], None] | None = None,
    on_crc32: CrcRecorder | None = None,
) -> Bundle:
    """Check the files in storage and set up the bundle's stream (nothing is read yet).

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
    on_crc32 : callable, optional
        zip only: given ``[(item, crc32), ...]`` for the files without a recorded CRC-32 whose
        CRC-32 the stream computed, once the last byte has been produced.
    """
    check_format(fmt)
    present = Selection(excluded=list(selection.excluded), checked_in_storage=True)
    absent = (
        set()
        if selection.checked_in_storage
        else storage.missing(item.storage_key for item in selection.items)
    )
    for item in selection.items:
        if item.storage_key not in absent:
            present.items.append(item)
        else:
            present.excluded.append(Excluded(item.filename, item.path, MISSING, item.size))
    length = None
    ahead = ObjectsAhead(storage, present.items)
    if fmt == "zip":
        archive, computed = _zip_archive(present, ahead, manifest)
        chunks: Iterator[bytes] = _closing(archive, ahead)
        length = archive.length
    else:
        computed = []
        chunks = _closing(_tar_stream(present, ahead, manifest), ahead)
        if fmt == "tar.gz":
            chunks = _gzip(chunks)
    return Bundle(
        chunks=_finished(chunks, computed, on_crc32, on_complete),
        media_type=FORMATS[fmt],
        length=length,
        files=len(present.items),
        bytes=present.total_bytes,
        not_included=len(present.excluded),
    )


def stream_bundle(
    selection: Selection,
    *,
    storage: Storage,
    fmt: str,
    manifest: ManifestMaker,
    on_complete: Callable[[], None] | None = None,
    on_crc32: CrcRecorder | None = None,
) -> Iterator[bytes]:
    """The bundle's bytes, in chunks (:func:`prepare_bundle` when first iterated)."""
    bundle = prepare_bundle(selection, storage=storage, fmt=fmt, manifest=manifest,
                            on_complete=on_complete, on_crc32=on_crc32)  # fmt: skip
    yield from bundle.chunks


def _finished(
    chunks: Iterator[bytes],
    computed: list[tuple[Item, int]],
    on_crc32: CrcRecorder | None,
    on_complete: Callable[[], None] | None,
) -> Iterator[bytes]:
    def record() -> None:
        if computed and on_crc32 is not None:
            on_crc32(computed)
        if on_complete is not None:
            on_complete()

    return finished_before_last(chunks, record)


def finished_before_last(pieces: Iterator[T], finish: Callable[[], None]) -> Iterator[T]:
    """``pieces`` with ``finish`` run after the last is produced but before it is sent.

    A client holding a whole delivery then finds it recorded (status "done", files left the
    basket) whichever server process it asks next; the record is not made for a client that
    stopped reading before the end.
    """
    last: list[T] = []
    for piece in pieces:
        if last:
            yield last.pop()
        last.append(piece)
    finish()
    yield from last


class _FileBody:
    """A stored file opened now (so a missing one fails early), read in large chunks.

    Each chunk is a fresh ``bytes`` from one ``read``: the HTTP server may still hold a chunk
    when the next is read, so a reused buffer (``readinto``) would not be safe.
    """

    def __init__(self, handle: BinaryIO, size: int, key: str) -> None:
        self._handle, self._size, self._key = handle, size, key

    def __iter__(self) -> Iterator[bytes]:
        handle, remaining = self._handle, self._size
        with handle:
            read = handle.read
            while remaining:
                chunk = read(READ_CHUNK if remaining > READ_CHUNK else remaining)
                if not chunk:
                    raise OSError(f"{self._key}: stored file is shorter than {self._size} bytes")
                remaining -= len(chunk)
                yield chunk
            if read(1):
                raise OSError(f"{self._key}: stored file is longer than {self._size} bytes")

    def close(self) -> None:
        self._handle.close()


class _StorageBody:
    """Any other storage: its own chunks, checked against the catalog's size."""

    def __init__(self, chunks: Iterator[bytes], size: int, key: str) -> None:
        self._chunks, self._size, self._key = chunks, size, key

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        for chunk in self._chunks:
            sent += len(chunk)
            yield chunk
        if sent != self._size:
            raise OSError(f"{self._key}: stored size {sent} is not {self._size}")

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


def open_body(storage: Storage, item: Item) -> _FileBody | _StorageBody:
    """``item``'s bytes from storage; raises NotFound or OSError now when it cannot be opened.

    A file the backend has on this machine is read unbuffered in large chunks; any other (an
    object store) comes in the backend's own chunks, one at a time, so memory stays flat.
    """
    path = storage.local_path(item.storage_key)
    if path is not None:
        try:
            handle = open(path, "rb", buffering=0)  # noqa: SIM115
        except FileNotFoundError as exc:
            raise NotFound(f"No file stored under {item.storage_key!r}.") from exc
        return _FileBody(handle, item.size, item.storage_key)  # type: ignore[arg-type]
    return _StorageBody(storage.open_range(item.storage_key, 0, None), item.size, item.storage_key)


#: Objects of an object store read ahead of the one being sent, and the bytes read ahead of
#: each (a small file whole, a large one its first part): the memory a bundle holds is
#: bounded by their product (16 MiB), whatever the number or size of the files.
AHEAD_OBJECTS = 8
AHEAD_BYTES = READ_CHUNK


class _Fetched:
    """The first chunks of an object, read ahead, and its open stream of the rest."""

    def __init__(self, head: list[bytes], rest: Iterator[bytes]) -> None:
        self.head, self.rest = head, rest

    def body(self, item: Item) -> _StorageBody:
        return _StorageBody(self._chunks(), item.size, item.storage_key)

    def _chunks(self) -> Iterator[bytes]:
        try:
            yield from self.head
            yield from self.rest
        finally:
            self.close()

    def close(self) -> None:
        close = getattr(self.rest, "close", None)
        if close is not None:
            close()


class ObjectsAhead:
    """The bodies of a bundle's files in order, the next few fetched in parallel meanwhile.

    From an object store each file costs a request before its first byte; one after another,
    a bundle of many small files waits for the store most of the time. Here, while one file
    is sent, a small pool of threads opens the next :data:`AHEAD_OBJECTS` files and reads up
    to :data:`AHEAD_BYTES` of each. Files on this machine (``local_path``) are opened as they
    come: the disk needs no such help. A file's failure (gone, the store down) is raised when
    its turn comes, as if it were opened then. :meth:`close` releases what was fetched and
    not sent (the client went away).
    """

    def __init__(self, storage: Storage, items: Sequence[Item]) -> None:
        self._storage, self._items = storage, items
        self._remote: bool | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._fetching: dict[int, Future[_Fetched]] = {}
        self._next = 0  # the first index not yet submitted

    def body(self, index: int) -> _FileBody | _StorageBody:
        item = self._items[index]
        if self._remote is None:
            try:
                self._remote = self._storage.local_path(item.storage_key) is None
            except NotFound:  # a local backend without this one file
                self._remote = False
        if not self._remote:
            return open_body(self._storage, item)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(AHEAD_OBJECTS, thread_name_prefix="bundle-ahead")
        self._next = max(self._next, index)
        while self._next < min(index + 1 + AHEAD_OBJECTS, len(self._items)):
            self._fetching[self._next] = self._pool.submit(self._fetch, self._items[self._next])
            self._next += 1
        return self._fetching.pop(index).result().body(item)

    def _fetch(self, item: Item) -> _Fetched:
        fetched = _Fetched([], self._storage.open_range(item.storage_key, 0, None))
        held = 0
        try:
            while held < AHEAD_BYTES:
                chunk = next(fetched.rest, None)
                if chunk is None:
                    break
                fetched.head.append(chunk)
                held += len(chunk)
        except BaseException:
            fetched.close()
            raise
        return fetched

    def close(self) -> None:
        for future in self._fetching.values():
            future.cancel()
            future.add_done_callback(_release)
        self._fetching.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False)


def _release(future: Future[_Fetched]) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result().close()


def _closing(chunks: Iterable[bytes], ahead: ObjectsAhead) -> Iterator[bytes]:
    try:
        yield from chunks
    finally:
        ahead.close()


def _open(ahead: ObjectsAhead, index: int) -> _FileBody | _StorageBody | None:
    """The body of item ``index``, or None when the file is gone; a store that fails (rather
    than a file that vanished) stops the bundle: it would fail for the next files too."""
    try:
        return ahead.body(index)
    except ServiceUnavailable:
        raise
    except (NotFound, OSError):
        return None


def _zip_archive(
    selection: Selection, ahead: ObjectsAhead, manifest: ManifestMaker
) -> tuple[StoredZip, list[tuple[Item, int]]]:
    """The stored zip of ``selection`` plus MANIFEST.HTML; the list fills with computed CRCs."""
    page = manifest(selection.items, selection.excluded).encode("utf-8")

    items = selection.items

    def body(index: int, item: Item) -> Callable[[], Iterable[bytes]]:
        def opened() -> Iterable[bytes]:
            try:
                return ahead.body(index)
            except NotFound as exc:  # checked a moment ago: the archive cannot be completed
                raise OSError(f"{item.path} vanished from storage during the download") from exc

        return opened

    entries = [
        Entry(item.path, item.size, body(i, item), item.crc32) for i, item in enumerate(items)
    ]
    entries.append(Entry(MANIFEST_NAME, len(page), lambda: (page,), zlib.crc32(page)))
    computed: list[tuple[Item, int]] = []

    def record(index: int, crc: int) -> None:
        if index < len(selection.items):
            computed.append((selection.items[index], crc))

    return StoredZip(entries, on_crc32=record), computed


def _tar_header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, int(time.time()), 0o644
    return info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape")


def _tar_stream(
    selection: Selection, ahead: ObjectsAhead, manifest: ManifestMaker
) -> Iterator[bytes]:
    sent: list[Item] = []
    excluded = list(selection.excluded)
    for index, item in enumerate(selection.items):
        body = _open(ahead, index)
        if body is None:  # vanished since the check: the manifest, made last, says so
            excluded.append(Excluded(item.filename, item.path, MISSING, item.size))
            continue
        yield _tar_header(item.path, item.size)
        try:
            yield from body  # raises OSError when the size differs (the archive would break)
        finally:
            body.close()
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
