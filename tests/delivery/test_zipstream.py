"""The stored-zip writer: readable by zipfile and unzip, exact length, zip64 where needed."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import zipfile
import zlib
from pathlib import Path

import pytest

from skyarchive.delivery.zipstream import ZIP64_LIMIT, Entry, StoredZip, ZipSizeError

FILES = {
    "JWST/jw-obs/a_cal.fits": os.urandom(3000),
    "JWST/jw-obs/empty.fits": b"",
    "JWST/jw-obs/ünïcødé_€_cal.fits": os.urandom(70_001),
    "JWST/jw-obs/日本語/x1d.fits": b"\x00" * 5,
    "JWST/jw-obs/big_i2d.fits": os.urandom(600_000),
}


def _chunks(data: bytes, size: int = 65_536) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def _entries(known_crc: bool) -> list[Entry]:
    return [
        Entry(
            name,
            len(data),
            lambda data=data: _chunks(data),
            zlib.crc32(data) if known_crc else None,
        )
        for name, data in FILES.items()
    ]


def _check(data: bytes, tmp_path: Path) -> zipfile.ZipFile:
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None  # every CRC checked
    assert {info.filename: archive.read(info) for info in archive.infolist()} == FILES
    assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_STORED}
    if shutil.which("unzip"):
        path = tmp_path / "t.zip"
        path.write_bytes(data)
        tested = subprocess.run(["unzip", "-t", str(path)], capture_output=True, text=True)
        assert tested.returncode == 0, tested.stdout + tested.stderr
    return archive


@pytest.mark.parametrize("known_crc", [True, False], ids=["crc-known", "crc-computed"])
@pytest.mark.parametrize("zip64_from", [ZIP64_LIMIT, 70_000, 1, 0], ids=lambda v: f"zip64@{v}")
def test_archives_read_back_exactly(tmp_path: Path, known_crc: bool, zip64_from: int) -> None:
    computed: list[tuple[int, int]] = []
    archive = StoredZip(
        _entries(known_crc), zip64_from=zip64_from, on_crc32=lambda i, c: computed.append((i, c))
    )
    data = b"".join(archive)
    assert len(data) == archive.length
    infos = _check(data, tmp_path).infolist()
    names = list(FILES)
    assert [info.filename for info in infos] == names
    non_ascii = {n for n in names if not n.isascii()}
    assert {i.filename for i in infos if i.flag_bits & 0x800} == non_ascii  # UTF-8 flag
    assert all(info.external_attr >> 16 == 0o100644 for info in infos)
    if known_crc:
        assert computed == [] and not any(info.flag_bits & 0x08 for info in infos)
    else:  # data descriptors, and the CRC-32s handed back
        assert computed == [(i, zlib.crc32(d)) for i, d in enumerate(FILES.values())]
        assert all(info.flag_bits & 0x08 for info in infos)


def test_known_crc_entries_pass_file_chunks_through_uncopied() -> None:
    big = [os.urandom(300_000), os.urandom(400_000)]
    entry = Entry("f", 700_000, lambda: big, zlib.crc32(b"".join(big)))
    out = list(StoredZip([entry]))
    assert out[1] is big[0] and out[2] is big[1]  # header, then the very same objects


def test_small_entries_are_sent_together() -> None:
    entries = [Entry(f"f{i}", 10, lambda: [b"0123456789"], zlib.crc32(b"0123456789"))
               for i in range(1000)]  # fmt: skip
    chunks = list(StoredZip(entries))
    assert len(chunks) < 5 and sum(map(len, chunks)) == StoredZip(entries).length


def test_entry_count_beyond_16_bits_uses_zip64_end_records() -> None:
    count = 0xFFFF + 10
    archive = StoredZip([Entry(f"e{i}", 0, lambda: (), 0) for i in range(count)])
    data = b"".join(archive)
    assert len(data) == archive.length
    assert b"PK\x06\x06" in data[-200:] and b"PK\x06\x07" in data[-200:]
    infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    assert len(infos) == count and infos[-1].filename == f"e{count - 1}"


def test_an_empty_archive_is_valid() -> None:
    archive = StoredZip([])
    data = b"".join(archive)
    assert len(data) == archive.length == 22
    assert zipfile.ZipFile(io.BytesIO(data)).namelist() == []


@pytest.mark.parametrize("actual", [b"short", b"much too long"])
def test_a_body_of_the_wrong_size_stops_the_stream(actual: bytes) -> None:
    for crc in (zlib.crc32(b"exactly"), None):
        stream = iter(StoredZip([Entry("x", 7, lambda: [actual], crc)]))
        with pytest.raises(ZipSizeError):
            list(stream)


def test_names_must_be_usable() -> None:
    with pytest.raises(ValueError):
        StoredZip([Entry("", 0, lambda: (), 0)])
    archive = StoredZip([Entry("a", 0, lambda: (), 0)])
    list(archive)
    with pytest.raises(RuntimeError):
        iter(archive)
