"""DALI error documents: a VOTable whose ``QUERY_STATUS`` INFO says ERROR and why.

Every VO endpoint answers its errors with :func:`error_votable` (through the ``vo`` face of
``api/errors.py``), with the HTTP status of the error in :mod:`skyarchive.errors`.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

MEDIA_TYPE = "application/x-votable+xml"


def error_votable(message: str) -> bytes:
    """A VOTable 1.4 with one ``RESOURCE type="results"`` holding the error INFO."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">\n'
        '  <RESOURCE type="results">\n'
        f'    <INFO name="QUERY_STATUS" value="ERROR">{escape(message)}</INFO>\n'
        "  </RESOURCE>\n"
        "</VOTABLE>\n"
    ).encode()
