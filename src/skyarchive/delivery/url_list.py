"""Plain lists of download URLs for any selection of files (``text/uri-list``, RFC 2483).

One URL a line, ``<base>/api/v0.1/Download/file?uri=<data URI>``, for ``wget -i``,
``aria2c -i`` or a download manager. Lines starting with ``#`` are comments, as RFC 2483
allows: where the list comes from, a note above each file that needs an API token, and the
selected names left out with the reason. The entries are the cURL script's
(:class:`~skyarchive.delivery.curl_script.ScriptEntry`), decided by the same code, so a list
holds a file exactly when the cURL script of the same selection fetches it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from skyarchive.delivery.curl_script import ScriptEntry, comment_line, encode_uri

MEDIA_TYPE = "text/uri-list; charset=utf-8"
#: Written above each exclusive-access file the caller may not read without a token.
TOKEN_NOTE = (
    "exclusive access: the next file needs an API token of its PI or of someone the PI "
    'authorised (wget --header "Authorization: token $MAST_API_TOKEN")'
)


def url_list_name(moment: datetime | None = None) -> str:
    """``mastDownload_YYYYMMDDhhmmss.txt``, named like the cURL script of the same moment."""
    moment = moment or datetime.now(UTC)
    return f"mastDownload_{moment:%Y%m%d%H%M%S}.txt"


def file_url(base_url: str, data_uri: str) -> str:
    """Where one archived file is downloaded (the MAST API's single-file endpoint)."""
    return f"{base_url.rstrip('/')}/api/v0.1/Download/file?uri={encode_uri(data_uri)}"


def url_list(
    entries: Iterable[ScriptEntry | str], *, base_url: str, moment: datetime | None = None
) -> Iterator[str]:
    """The list's lines, streamed (a selection may hold millions of files).

    A plain string in ``entries`` becomes a comment line (a name not included, with why).
    """
    moment = moment or datetime.now(UTC)
    yield comment_line(f"Download URLs from skyarchive ({base_url.rstrip('/')}), "
                       f"made {moment:%Y-%m-%d %H:%M:%S} UTC.")  # fmt: skip
    yield comment_line("One file a line. Lines starting with # are notes: aria2c -i skips them, "
                       "wget -i calls each an invalid URL and goes on.")  # fmt: skip
    for entry in entries:
        if isinstance(entry, str):
            yield comment_line(entry)
            continue
        if entry.restricted:
            yield comment_line(TOKEN_NOTE)
        yield file_url(base_url, entry.data_uri) + "\n"
