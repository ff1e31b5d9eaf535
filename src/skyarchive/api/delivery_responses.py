"""HTTP answers for deliveries, shared by the MAST endpoints and the portal's API.

Streamed bundles (zip/tar/tar.gz with MANIFEST.HTML, read ahead while sent) and cURL scripts;
what they contain is decided in :mod:`skyarchive.delivery`.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.responses import StreamingResponse

from skyarchive.access.policy import Caller
from skyarchive.api.file_headers import file_headers
from skyarchive.api.streaming import chunked
from skyarchive.archive import Archive
from skyarchive.delivery.curl_script import script_name
from skyarchive.delivery.readahead import read_ahead
from skyarchive.delivery.service import NamedBundle, mrp_bundle


def bundle_response(named: NamedBundle) -> StreamingResponse:
    """The HTTP answer for a bundle the delivery façade prepared (streamed, read ahead)."""
    bundle = named.bundle
    headers = {
        **file_headers(named.filename, bundle.media_type),
        "X-Skyarchive-Files": str(bundle.files),
        "X-Skyarchive-Bytes": str(bundle.bytes),
        "X-Skyarchive-Not-Included": str(bundle.not_included),
        "Cache-Control": "no-store",
    }
    if bundle.length is not None:  # zip: exact, so the body is sent without chunked encoding
        headers["Content-Length"] = str(bundle.length)
    return StreamingResponse(read_ahead(bundle.chunks, name=named.filename), headers=headers)


def mrp_response(
    archive: Archive, caller: Caller, *, obsid: str, fmt: str, base_url: str
) -> StreamingResponse:
    """The Minimum Recommended Products of one observation as one streamed bundle."""
    return bundle_response(
        mrp_bundle(archive, caller=caller, obsid=obsid, fmt=fmt, base_url=base_url)
    )


def script_response(pieces: Iterator[str]) -> StreamingResponse:
    return StreamingResponse(
        chunked((piece.encode() for piece in pieces), size=1 << 16),
        headers=file_headers(script_name(), "text/x-shellscript"),
    )
