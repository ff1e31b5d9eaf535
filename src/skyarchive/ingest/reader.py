"""Read one file: classify its name, checksum it and pull the header keywords ingest needs.

Everything here is free of database and storage access so files can be read in worker
processes; a problem with one file becomes an :class:`IngestError` naming the file and the reason.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import math
import os
import signal
import sys
import unicodedata
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from astropy.io import fits

from skyarchive.errors import BadQuery, IngestError
from skyarchive.products.naming import Kind, ParsedName, parse_filename
from skyarchive.sky.regions import parse_s_region

# Keywords without which a JWST science file cannot be placed in the catalog.
REQUIRED_SCIENCE_KEYWORDS = ("TELESCOP", "INSTRUME", "PROGRAM", "OBSERVTN", "VISIT", "EXP_TYPE")
_CHUNK = 1 << 20
MAX_FILENAME = 200  # products.productFilename
# control (Cc: NUL, newline, ESC, DEL, C1), format (Cf: bidi overrides, zero-width), surrogates
# (Cs: bytes that are not UTF-8) and line/paragraph separators: never part of an archived name
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_SEPARATORS = frozenset("/\\")


@dataclass
class FileRecord:
    path: Path
    name: ParsedName
    size: int
    sha256: str
    header: dict[str, Any] = field(default_factory=dict)
    s_region: str | None = None
    file_date: str | None = None
    asn: dict[str, Any] | None = None
    crc32: int | None = None  # zip bundles write it into entry headers without re-reading
    wss: dict[str, Any] | None = None  # a WSS product's wss_products columns (ingest/wss.py)


def sha256_of(path: Path) -> tuple[int, str, int]:
    """(size, SHA-256 hex digest, CRC-32) of a file, in one read.

    The CRC-32 is the one a zip entry carries; computed here, a bundle can send the file
    without touching its bytes in Python.
    """
    digest = hashlib.sha256()
    crc = 0
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
    return size, digest.hexdigest(), crc


def printable(text: str) -> str:
    """``text`` with every character a terminal or log could misread shown as an escape.

    Idempotent (a backslash stays itself), so a message built from printable names can be made
    printable again by the face that shows it.
    """
    out = []
    for char in text:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogate escape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif char.isprintable():
            out.append(char)
        else:
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    return "".join(out)


def check_filename(name: str) -> str:
    """Return ``name`` if it can name an archived file, else raise :class:`IngestError`.

    A product's name travels into URIs, download headers, zip entries, scripts and terminals:
    control characters, path separators, NUL and bytes that are not UTF-8 are refused here,
    for pipeline files and manifest products alike.
    """
    bad = sorted(
        {c for c in name if c in _SEPARATORS or unicodedata.category(c) in _REFUSED_CATEGORIES}
    )
    if bad:
        shown = ", ".join(printable(c) for c in bad)
        raise IngestError(
            f"{printable(name)}: the file name contains {shown}; control characters, path "
            "separators, NUL and non-UTF-8 bytes are refused in file names. Rename the file."
        )
    if not name or len(name) > MAX_FILENAME:
        raise IngestError(
            f"{printable(name)}: a file name needs 1 to {MAX_FILENAME} characters. Rename the file."
        )
    return name


def read_file(path: Path) -> FileRecord:
    """Read ``path`` into a :class:`FileRecord`; raise :class:`IngestError` when it is unusable."""
    name = parse_filename(check_filename(path.name))
    size, sha, crc = sha256_of(path)
    if size == 0:
        raise IngestError(f"{path.name}: the file is empty.")
    record = FileRecord(path=path, name=name, size=size, sha256=sha, crc32=crc)
    if name.extension == "fits":
        _read_fits(record)
    if name.kind is Kind.WSS:
        from skyarchive.ingest.wss import opd_rms_nm, wss_facts

        record.wss = wss_facts(name.filename, record.header, opd_rms_nm(path))
    elif name.kind is Kind.ASN:
        record.asn = _read_asn(path)
    return record


@dataclass(frozen=True)
class FitsHeaders:
    header: dict[str, Any]  # every primary-header keyword, JSON-safe
    s_region: str | None
    file_date: str | None


def read_fits_headers(path: Path) -> FitsHeaders:
    """Primary header, footprint and creation date of any FITS file; IngestError if unusable."""
    try:
        with warnings.catch_warnings():
            # Truncation shows up as a warning when astropy drops the cut HDU; make it an error.
            warnings.filterwarnings("error", message=".*truncated.*")
            warnings.simplefilter("ignore", fits.verify.VerifyWarning)
            with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
                primary = hdul[0].header
                extension_headers = [hdu.header for hdu in hdul[1:]]
                _check_data_present(hdul, path)
    except IngestError:
        raise
    except Exception as exc:  # astropy raises OSError, VerifyError, ValueError, TypeError...
        raise IngestError(f"{path.name}: not a readable FITS file ({exc}).") from exc
    header = {key: _json_value(value) for key, value in primary.items() if key}
    s_region = None
    for hdr in [primary, *extension_headers]:
        if "S_REGION" in hdr and str(hdr["S_REGION"]).strip():
            s_region = str(hdr["S_REGION"]).strip()
            break
    if s_region:
        try:
            parse_s_region(s_region)
        except BadQuery as exc:
            raise IngestError(f"{path.name}: unusable S_REGION ({exc}).") from exc
    return FitsHeaders(header, s_region, str(primary.get("DATE", "")) or None)


def _read_fits(record: FileRecord) -> None:
    path = record.path
    headers = read_fits_headers(path)
    primary = record.header = headers.header
    record.s_region, record.file_date = headers.s_region, headers.file_date
    if record.name.kind in (Kind.EXPOSURE, Kind.LEVEL3):
        missing = [key for key in REQUIRED_SCIENCE_KEYWORDS if key not in primary]
        if missing:
            raise IngestError(f"{path.name}: missing header keywords {', '.join(missing)}.")
        if str(primary["TELESCOP"]).strip().upper() != "JWST":
            raise IngestError(f"{path.name}: TELESCOP is {primary['TELESCOP']!r}, not 'JWST'.")
        program = str(primary["PROGRAM"]).strip()
        if not program.isdigit() or str(int(program)) != record.name.program:
            raise IngestError(
                f"{path.name}: PROGRAM keyword {program!r} disagrees with the file name."
            )


def _check_data_present(hdul: fits.HDUList, path: Path) -> None:
    """Refuse a truncated file now, not when someone downloads it."""
    size = path.stat().st_size
    if size % 2880:
        raise IngestError(
            f"{path.name}: truncated ({size} bytes is not a whole number of FITS blocks)."
        )
    for hdu in hdul:
        info = hdu.fileinfo()
        if info is not None and info["datLoc"] + info["datSpan"] > size:
            raise IngestError(f"{path.name}: truncated inside HDU {hdu.name or 'PRIMARY'}.")
        if hdu.header.get("NAXIS", 0):
            try:
                _ = hdu.data
            except Exception as exc:
                raise IngestError(f"{path.name}: corrupt data in HDU {hdu.name} ({exc}).") from exc


def _read_asn(path: Path) -> dict[str, Any]:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IngestError(f"{path.name}: not a readable association file ({exc}).") from exc
    products = content.get("products") if isinstance(content, dict) else None
    if not isinstance(products, list):
        raise IngestError(f"{path.name}: association has no 'products' list.")
    return content


def _json_value(value: Any) -> Any:
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return str(value)  # astropy Undefined, complex, ... keep a readable form


PR_SET_PDEATHSIG = 1


def reader_process_init(parent_pid: int) -> None:
    """Run in each reader process: die with the ingest that started it.

    On Linux the kernel sends SIGKILL to the reader when its parent dies (even by SIGKILL), so a
    killed ingest leaves no reader behind; if the parent is already gone, exit at once.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's handler: terminate() stops us
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    try:
        os.kill(parent_pid, 0)
    except ProcessLookupError:
        os._exit(1)
