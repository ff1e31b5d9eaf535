"""A streaming writer of *stored* (uncompressed) zip files whose length is known in advance.

Written from the PKWARE APPNOTE (6.3.x), for bundles: every entry is stored, so an entry's size
in the archive is its file's size, and with each file's CRC-32 taken from the catalog the local
header is complete before the first data byte. The writer then only emits headers and passes
the file's chunks through untouched: no per-byte work in Python. The whole archive's length is
computable before anything is sent (:attr:`StoredZip.length`), so an HTTP answer can carry a
``Content-Length``.

An entry whose CRC-32 is not known (a file ingested before CRC-32s were recorded) is still
stored, with general-purpose flag bit 3: the local header carries zeros and a data descriptor
after the data carries the CRC-32 computed while the bytes pass, and the sizes. Its length is
fixed too (16 bytes, or 24 with zip64 sizes), so the archive's length stays known.

Layout of the output::

    [local header][zip64 extra?][name][data][data descriptor?]   per entry
    [central directory header][name][zip64 extra?]                 per entry
    [zip64 end of central directory record][zip64 locator]         when anything needs zip64
    [end of central directory record]

Zip64 is used per field, only where a value does not fit 32 (16) bits: an entry's sizes when
the file has 0xFFFFFFFF bytes or more, its local header offset when it starts at or beyond
that offset, and the end records when the central directory's offset, size or entry count
overflow. Names are UTF-8 (flag bit 11 when not plain ASCII).
"""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass

__all__ = ["ZIP64_LIMIT", "Entry", "StoredZip", "ZipSizeError"]

ZIP64_LIMIT = 0xFFFFFFFF  # a 32-bit field holding this value means "see the zip64 extra field"
_COUNT_LIMIT = 0xFFFF

_LOCAL = struct.Struct("<4sHHHHHIIIHH")  # 30 bytes
_CENTRAL = struct.Struct("<4sBBHHHHHIIIHHHHHII")  # 46 bytes
_END = struct.Struct("<4sHHHHIIH")  # 22 bytes
_END64 = struct.Struct("<4sQBBHIIQQQQ")  # 56 bytes
_LOCATOR64 = struct.Struct("<4sIQI")  # 20 bytes
_DESCRIPTOR = struct.Struct("<4sIII")  # 16 bytes
_DESCRIPTOR64 = struct.Struct("<4sIQQ")  # 24 bytes

_SIG_LOCAL = b"PK\x03\x04"
_SIG_CENTRAL = b"PK\x01\x02"
_SIG_DESCRIPTOR = b"PK\x07\x08"
_SIG_END64 = b"PK\x06\x06"
_SIG_LOCATOR64 = b"PK\x06\x07"
_SIG_END = b"PK\x05\x06"

_ZIP64_EXTRA_ID = 0x0001
_FLAG_DESCRIPTOR = 0x0008  # bit 3: CRC-32 and sizes follow the data
_FLAG_UTF8 = 0x0800  # bit 11: name is UTF-8
_STORED = 0
_VERSION_PLAIN = 20  # 2.0: stored entries, data descriptors
_VERSION_ZIP64 = 45  # 4.5: zip64
_MADE_BY_UNIX = 3
_FILE_MODE = 0o100644  # regular file, rw-r--r--

_COALESCE = 256 << 10  # pieces smaller than this are joined before being yielded


class ZipSizeError(OSError):
    """An entry's body did not hold the size announced for it (the archive is now broken)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One file of the archive.

    Parameters
    ----------
    name : str
        Path inside the archive (``/`` separated).
    size : int
        Exact number of bytes ``body`` yields.
    body : callable
        Called once, when the entry is reached; returns the file's bytes as an iterable of
        chunks (``bytes`` or other buffers), passed on unchanged.
    crc32 : int or None
        The file's CRC-32 when known; None: computed while streaming (data descriptor).
    """

    name: str
    size: int
    body: Callable[[], Iterable[bytes]]
    crc32: int | None = None


def _dos_time(moment: time.struct_time) -> tuple[int, int]:
    year = min(max(moment.tm_year, 1980), 2107)
    date = (year - 1980) << 9 | moment.tm_mon << 5 | moment.tm_mday
    clock = moment.tm_hour << 11 | moment.tm_min << 5 | moment.tm_sec // 2
    return clock, date


def _encode(name: str) -> tuple[bytes, int]:
    if not name or len(name.encode("utf-8")) > 0xFFFF:
        raise ValueError(f"unusable zip entry name {name!r}")
    try:
        return name.encode("ascii"), 0
    except UnicodeEncodeError:
        return name.encode("utf-8"), _FLAG_UTF8


@dataclass(slots=True)
class _Planned:
    entry: Entry
    name: bytes
    flags: int
    offset: int  # of the local header
    local64: bool  # sizes in a zip64 extra field (local header and descriptor)
    offset64: bool  # local header offset in the central directory's zip64 extra field
    crc32: int | None

    @property
    def central64_fields(self) -> int:
        return 2 * self.local64 + self.offset64

    @property
    def version(self) -> int:
        return _VERSION_ZIP64 if self.central64_fields else _VERSION_PLAIN

    @property
    def local_length(self) -> int:
        return _LOCAL.size + len(self.name) + (20 if self.local64 else 0)

    @property
    def descriptor_length(self) -> int:
        if self.entry.crc32 is not None:
            return 0
        return _DESCRIPTOR64.size if self.local64 else _DESCRIPTOR.size

    @property
    def central_length(self) -> int:
        fields = self.central64_fields
        return _CENTRAL.size + len(self.name) + (4 + 8 * fields if fields else 0)


class StoredZip:
    """A stored zip of ``entries`` in order, iterated as chunks; :attr:`length` is exact.

    Parameters
    ----------
    entries : sequence of Entry
        The files, in archive order.
    moment : time.struct_time, optional
        Modification time written for every entry (default: now, UTC).
    on_crc32 : callable, optional
        Called as ``on_crc32(index, crc)`` for each entry whose CRC-32 was computed while
        streaming, right after its data.
    zip64_from : int, optional
        Sizes and offsets from this value on are written as zip64 (default: where the 32-bit
        fields end; a lower value exercises zip64 with small files).

    Iterating yields the archive; a body that yields more or fewer bytes than its entry's
    size raises :class:`ZipSizeError` (the bytes already sent cannot be a valid archive).
    """

    def __init__(
        self,
        entries: Sequence[Entry],
        *,
        moment: time.struct_time | None = None,
        on_crc32: Callable[[int, int], None] | None = None,
        zip64_from: int = ZIP64_LIMIT,
    ) -> None:
        zip64_from = min(zip64_from, ZIP64_LIMIT)
        self._clock, self._date = _dos_time(moment or time.gmtime())
        self._on_crc32 = on_crc32
        self._planned: list[_Planned] = []
        offset = 0
        for entry in entries:
            if entry.size < 0:
                raise ValueError(f"negative size for {entry.name!r}")
            name, flags = _encode(entry.name)
            if entry.crc32 is None:
                flags |= _FLAG_DESCRIPTOR
            plan = _Planned(
                entry, name, flags, offset, local64=entry.size >= zip64_from,
                offset64=offset >= zip64_from, crc32=entry.crc32,
            )  # fmt: skip
            self._planned.append(plan)
            offset += plan.local_length + entry.size + plan.descriptor_length
        self._directory_offset = offset
        self._directory_size = sum(plan.central_length for plan in self._planned)
        end = self._directory_offset + self._directory_size
        self._zip64_end = (
            len(self._planned) >= min(_COUNT_LIMIT, zip64_from)
            or self._directory_size >= zip64_from
            or self._directory_offset >= zip64_from
        )
        self.length = end + (_END64.size + _LOCATOR64.size if self._zip64_end else 0) + _END.size
        self._started = False

    def __iter__(self) -> Iterator[bytes]:
        if self._started:
            raise RuntimeError("a StoredZip can be iterated once")
        self._started = True
        return _coalesced(self._pieces())

    def _pieces(self) -> Iterator[bytes]:
        written = 0
        for index, plan in enumerate(self._planned):
            if written != plan.offset:  # pragma: no cover - the plan and the writer disagree
                raise AssertionError(f"offset {written} is not the planned {plan.offset}")
            header = self._local_header(plan)
            yield header
            crc = yield from self._data(plan)
            written += len(header) + plan.entry.size
            if plan.crc32 is None:
                plan.crc32 = crc
                descriptor = (
                    _DESCRIPTOR64.pack(_SIG_DESCRIPTOR, crc, plan.entry.size, plan.entry.size)
                    if plan.local64
                    else _DESCRIPTOR.pack(_SIG_DESCRIPTOR, crc, plan.entry.size, plan.entry.size)
                )
                yield descriptor
                written += len(descriptor)
                if self._on_crc32 is not None:
                    self._on_crc32(index, crc)
        yield from self._directory()

    def _data(self, plan: _Planned) -> Generator[bytes, None, int]:
        """Yield the entry's bytes unchanged; return the CRC-32 computed when it is unknown."""
        size = plan.entry.size
        sent = 0
        crc = plan.crc32
        body = plan.entry.body()
        try:
            if crc is None:
                crc = 0
                for chunk in body:
                    sent += len(chunk)
                    if sent > size:
                        break
                    crc = zlib.crc32(chunk, crc)
                    yield chunk
            else:  # the fast path: nothing per byte
                for chunk in body:
                    sent += len(chunk)
                    if sent > size:
                        break
                    yield chunk
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        if sent != size:
            shown = "more" if sent > size else f"only {sent}"
            raise ZipSizeError(f"{plan.entry.name}: {shown} bytes where {size} were announced")
        return crc

    def _local_header(self, plan: _Planned) -> bytes:
        size = plan.entry.size
        known = plan.crc32 is not None
        crc = plan.crc32 if known else 0
        shown = size if known else 0  # bit 3: the sizes are in the descriptor
        extra = b""
        if plan.local64:
            extra = struct.pack("<HHQQ", _ZIP64_EXTRA_ID, 16, shown, shown)
            shown32 = ZIP64_LIMIT
        else:
            shown32 = shown
        version = _VERSION_ZIP64 if plan.local64 else _VERSION_PLAIN
        return (
            _LOCAL.pack(
                _SIG_LOCAL,
                version,
                plan.flags,
                _STORED,
                self._clock,
                self._date,
                crc,
                shown32,
                shown32,
                len(plan.name),
                len(extra),
            )  # fmt: skip
            + plan.name
            + extra
        )

    def _central_header(self, plan: _Planned) -> bytes:
        size = plan.entry.size
        values: list[int] = []
        if plan.local64:
            values += [size, size]
        if plan.offset64:
            values.append(plan.offset)
        extra = (
            struct.pack(f"<HH{len(values)}Q", _ZIP64_EXTRA_ID, 8 * len(values), *values)
            if values
            else b""
        )
        size32 = ZIP64_LIMIT if plan.local64 else size
        offset32 = ZIP64_LIMIT if plan.offset64 else plan.offset
        assert plan.crc32 is not None
        return (
            _CENTRAL.pack(
                _SIG_CENTRAL,
                plan.version,
                _MADE_BY_UNIX,
                plan.version,
                plan.flags,
                _STORED,
                self._clock,
                self._date,
                plan.crc32,
                size32,
                size32,
                len(plan.name),
                len(extra),
                0,
                0,
                0,
                _FILE_MODE << 16,
                offset32,
            )  # fmt: skip
            + plan.name
            + extra
        )

    def _directory(self) -> Iterator[bytes]:
        for plan in self._planned:
            yield self._central_header(plan)
        count, size, offset = len(self._planned), self._directory_size, self._directory_offset
        if self._zip64_end:
            end64_at = offset + size
            yield _END64.pack(
                _SIG_END64, _END64.size - 12, _VERSION_ZIP64, _MADE_BY_UNIX, _VERSION_ZIP64,
                0, 0, count, count, size, offset,
            )  # fmt: skip
            yield _LOCATOR64.pack(_SIG_LOCATOR64, 0, end64_at, 1)
        if self._zip64_end:  # every field points to the zip64 record
            count, size, offset = _COUNT_LIMIT, ZIP64_LIMIT, ZIP64_LIMIT
        yield _END.pack(_SIG_END, 0, 0, count, count, size, offset, 0)


def _coalesced(pieces: Iterator[bytes]) -> Iterator[bytes]:
    """Pass large pieces through as they are; join small ones (headers, small files).

    Each chunk handed to an HTTP server costs a fixed amount of work, so many small headers
    and files are sent together; file chunks of ``_COALESCE`` bytes or more are never copied.
    """
    pending: list[bytes] = []
    length = 0
    for piece in pieces:
        size = len(piece)
        if size >= _COALESCE:
            if pending:
                yield b"".join(pending)
                pending, length = [], 0
            yield piece
            continue
        pending.append(piece)
        length += size
        if length >= _COALESCE:
            yield b"".join(pending)
            pending, length = [], 0
    if pending:
        yield b"".join(pending)
