"""HTTP answers for deliveries, shared by the MAST endpoints and the portal's API.

Streamed bundles (zip/tar/tar.gz with MANIFEST.HTML, read ahead while sent), cURL scripts and
lists of download URLs;
what they contain is decided in :mod:`skyarchive.delivery`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from skyarchive.access.policy import Caller
from skyarchive.api.file_headers import file_headers
from skyarchive.api.streaming import chunked
from skyarchive.archive import Archive
from skyarchive.delivery.curl_script import script_name
from skyarchive.delivery.readahead import read_ahead
from skyarchive.delivery.service import NamedBundle, mrp_bundle
from skyarchive.delivery.url_list import MEDIA_TYPE as URI_LIST
from skyarchive.delivery.url_list import url_list_name


def ranged_response(
    request: Request,
    *,
    filename: str,
    media_type: str,
    size: int,
    span: tuple[int, int] | None,
    read: Callable[[int, int], Iterator[bytes]],
    headers: dict[str, str] | None = None,
) -> Response:
    """One file's HTTP answer: whole (200) or the byte ``span`` asked for (206), HEAD included.

    Every file download (archived or staged) is answered here, so all share the attachment
    headers, ``Accept-Ranges`` and the range rule of :func:`skyarchive.delivery.files.byte_range`
    (a bad range gets the API's error shape before this is reached). ``read(first, last)``
    gives the bytes; they are read ahead while the previous chunk is sent.
    """
    first, last = span if span is not None else (0, size - 1)
    length = last - first + 1 if size else 0
    answer_headers = {
        **file_headers(filename, media_type),
        "Accept-Ranges": "bytes",
        **(headers or {}),
        "Content-Length": str(length),
    }
    status = 206 if span is not None else 200
    if span is not None:
        answer_headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    if request.method == "HEAD":
        return Response(status_code=status, headers=answer_headers)
    body = read_ahead(read(first, last), name=filename) if length else iter(())
    return StreamingResponse(body, status_code=status, headers=answer_headers)


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
    return _text_response(pieces, script_name(), "text/x-shellscript")


def url_list_response(pieces: Iterator[str]) -> StreamingResponse:
    """A list of download URLs as an attachment (``text/uri-list``)."""
    return _text_response(pieces, url_list_name(), URI_LIST)


def _text_response(pieces: Iterator[str], filename: str, media_type: str) -> StreamingResponse:
    return StreamingResponse(
        chunked((piece.encode() for piece in pieces), size=1 << 16),
        headers=file_headers(filename, media_type),
    )
