"""Bash cURL scripts for any selection of files.

The script downloads each file to ``<folder>/<collection>/<obs_id>/<file>``, skips files that are
already complete (size and SHA-256 match), resumes partial ones, retries transient failures,
verifies every checksum and ends with a summary. Exclusive-access files are fetched with the
token in ``$MAST_API_TOKEN``. Its size grows linearly with the selection; nothing is held open.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote


@dataclass(frozen=True)
class ScriptEntry:
    data_uri: str
    filename: str
    obs_collection: str
    obs_id: str
    size: int
    sha256: str
    restricted: bool


_HERE = Path(__file__).parent
# The bash parts live beside this module so they read (and lint) as shell, not as a string.
_HEADER = (_HERE / "script_header.sh.in").read_text(encoding="utf-8")
_FOOTER = (_HERE / "script_footer.sh.in").read_text(encoding="utf-8")


def script_name(moment: datetime | None = None) -> str:
    """``mastDownload_YYYYMMDDhhmmss.sh``, the name astroquery's users know."""
    moment = moment or datetime.now(UTC)
    return f"mastDownload_{moment:%Y%m%d%H%M%S}.sh"


def curl_script(
    entries: Iterable[ScriptEntry | str],
    *,
    base_url: str,
    restricted: int | None = None,
    moment: datetime | None = None,
) -> Iterator[str]:
    """The script text, in pieces (stream it; a selection may hold millions of files).

    ``entries`` may mix :class:`ScriptEntry` and plain strings; a string becomes a comment line
    (e.g. a requested URI the archive does not have). ``restricted`` (the number of
    exclusive-access entries) adds an early note; when unknown the script reports at the end.
    """
    moment = moment or datetime.now(UTC)
    base = base_url.rstrip("/")
    yield _HEADER.format(
        base_url=base, base_url_q=shlex.quote(base), stamp=f"{moment:%Y-%m-%d %H:%M:%S}",
        script_name=script_name(moment), folder=f"MAST_{moment:%Y-%m-%dT%H%M%S}",
        restricted=restricted or 0,
    )  # fmt: skip
    for entry in entries:
        if isinstance(entry, str):
            yield comment_line(entry)
            continue
        parts = (entry.obs_collection, entry.obs_id, entry.filename)
        relative = "/".join(safe_component(part) for part in parts)
        yield (
            f"fetch {shlex.quote(encode_uri(entry.data_uri))} {shlex.quote(relative)} {entry.size} "
            f"{entry.sha256} {int(entry.restricted)}\n"
        )
    yield _FOOTER


def safe_component(text: str) -> str:
    """A path component for the script: no separators, no parent references."""
    cleaned = text.replace("/", "_").replace("\\", "_").replace("\x00", "")
    return cleaned if cleaned not in ("", ".", "..") else "_"


def encode_uri(uri: str) -> str:
    """Percent-encode a data URI for a query string (``:`` and ``/`` kept, as astroquery does)."""
    return quote(uri, safe=":/")


def comment_line(text: str) -> str:
    """``# text`` on one line, whatever ``text`` holds (no way out of the comment)."""
    return "# " + "".join(c if c.isprintable() else "?" for c in text) + "\n"
