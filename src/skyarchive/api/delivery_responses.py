"""HTTP answers for deliveries, shared by the MAST endpoints and the portal's API.

Streamed bundles (zip/tar/tar.gz with MANIFEST.HTML, read ahead while sent) and cURL scripts;
what they contain is decided in :mod:`skyarchive.delivery`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.responses import StreamingResponse

from skyarchive.access.policy import Caller
from skyarchive.access.rights import now_mjd
from skyarchive.api.file_headers import file_headers
from skyarchive.archive import Archive
from skyarchive.delivery.bundles import (
    bundle_name,
    check_bundle_size,
    check_format,
    prepare_bundle,
)
from skyarchive.delivery.curl_script import script_name
from skyarchive.delivery.manifest import manifest_html
from skyarchive.delivery.readahead import read_ahead
from skyarchive.delivery.selection import Selection, crc32_recorder, mrp_selection


def bundle_response(
    archive: Archive,
    caller: Caller,
    *,
    fmt: str,
    selection: Selection,
    filename: str | None = None,
    on_complete: Any = None,
) -> StreamingResponse:
    """A streamed zip/tar/tar.gz of ``selection`` (checked against the size limit first)."""
    check_bundle_size(selection, limit=archive.settings.max_bundle_bytes)
    base_url = archive.settings.base_url

    def manifest(items, excluded) -> str:  # type: ignore[no-untyped-def]
        return manifest_html(items, excluded, caller=caller, source=base_url)

    bundle = prepare_bundle(
        selection, storage=archive.storage, fmt=fmt, manifest=manifest,
        on_complete=on_complete, on_crc32=crc32_recorder(archive.engine),
    )  # fmt: skip
    headers = {
        **file_headers(filename or bundle_name(fmt), bundle.media_type),
        "X-Skyarchive-Files": str(bundle.files),
        "X-Skyarchive-Bytes": str(bundle.bytes),
        "X-Skyarchive-Not-Included": str(bundle.not_included),
        "Cache-Control": "no-store",
    }
    if bundle.length is not None:  # zip: exact, so the body is sent without chunked encoding
        headers["Content-Length"] = str(bundle.length)
    chunks = read_ahead(bundle.chunks, name=filename or bundle_name(fmt))
    return StreamingResponse(chunks, headers=headers)


def mrp_response(archive: Archive, caller: Caller, *, obsid: str, fmt: str) -> StreamingResponse:
    """The Minimum Recommended Products of one observation as one streamed bundle."""
    check_format(fmt)  # before any catalog work
    with archive.engine.connect() as conn:
        selection = mrp_selection(conn, archive.storage, caller=caller, obsid=obsid, now=now_mjd())
    obs_id = selection.items[0].path.split("/")[1]
    return bundle_response(
        archive, caller, fmt=fmt, selection=selection, filename=f"{obs_id}_mrp.{fmt}"
    )


def _batched(pieces: Iterator[str], size: int = 1 << 16) -> Iterator[bytes]:
    """Lines joined into ~64 KiB chunks: each chunk costs the server a thread hop."""
    batch: list[str] = []
    length = 0
    for piece in pieces:
        batch.append(piece)
        length += len(piece)
        if length >= size:
            yield "".join(batch).encode()
            batch, length = [], 0
    if batch:
        yield "".join(batch).encode()


def script_response(pieces: Iterator[str]) -> StreamingResponse:
    return StreamingResponse(
        _batched(pieces), headers=file_headers(script_name(), "text/x-shellscript")
    )
