"""DALI error documents: a VOTable whose ``QUERY_STATUS`` INFO says ERROR and why.

(Written by the UWS work while the TAP work's shared writer was not yet on a branch; the
lead folds the two.)
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

MEDIA_TYPE = "application/x-votable+xml"


def error_votable(message: str) -> bytes:
    """A VOTable 1.4 with one ``RESOURCE type="results"`` holding the error INFO."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">\n'
        '  <RESOURCE type="results">\n'
        f'    <INFO name="QUERY_STATUS" value="ERROR">{_text(message)}</INFO>\n'
        "  </RESOURCE>\n"
        "</VOTABLE>\n"
    ).encode()


def _text(message: str) -> str:
    return quoteattr(message)[1:-1]
