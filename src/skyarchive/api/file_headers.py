"""The headers of every response that hands out a file (download, bundle, script, staged file).

One place decides how a file is presented to a browser:

* ``Content-Disposition`` in the RFC 6266 form: an ASCII ``filename=`` fallback and the exact
  name as ``filename*=UTF-8''<percent-encoded>``;
* data files are attachments, except PNG/JPEG/GIF images (previews), which may show in place;
* ``X-Content-Type-Options: nosniff`` and a sandboxing Content-Security-Policy, so no file
  from the data (HTML, SVG, JavaScript) can run as a page of the archive's origin.
"""

from __future__ import annotations

from urllib.parse import quote

from skyarchive.delivery.files import INLINE_TYPES

#: For files: nothing may load or run, even if a browser renders one.
FILE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
_ATTR_CHARS = "!#$&+-.^_`|~"  # RFC 5987 attr-char besides letters and digits


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """``attachment`` (or ``inline``) with both the ASCII fallback and the UTF-8 name."""
    fallback = (
        "".join(c if " " <= c <= "~" and c not in '"\\;%' else "_" for c in filename).strip()
        or "download"
    )
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe=_ATTR_CHARS)}"


def file_headers(filename: str, media_type: str) -> dict[str, str]:
    """Headers for a data file, a bundle or a script named ``filename``."""
    return {
        "Content-Disposition": content_disposition(filename, inline=media_type in INLINE_TYPES),
        "Content-Type": media_type,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": FILE_CSP,
    }
