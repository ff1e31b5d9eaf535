"""Publisher DIDs and the addresses of the VO services.

Every science product has one IVOA publisher DID, ``ivo://<authority>/jwst?<filename>``, used
as ObsCore's ``obs_publisher_did`` and as the ``ID`` that SIAv2, DataLink and SODA take. The
MAST data URI (``mast:JWST/product/<filename>``) is accepted wherever a DID is, so a client can
go from an astroquery product list to DataLink without translating.
"""

from __future__ import annotations

from urllib.parse import quote, unquote, urlencode

from skyarchive.errors import BadQuery

#: Base path of each VO service, relative to the server root.
TAP_PATH = "/vo/tap"
SIA_PATH = "/vo/sia/query"
CONE_PATH = "/vo/scs"
DATALINK_PATH = "/vo/datalink/links"
SODA_PATH = "/vo/soda/sync"
MOC_PATH = "/vo/moc"
REGISTRY_PATH = "/vo/registry"

PRODUCT_RESOURCE = "jwst"
MAST_PRODUCT_PREFIX = "mast:JWST/product/"
MAX_FILENAME_CHARS = 255


def publisher_did(authority: str, filename: str) -> str:
    """The publisher DID of the product stored under ``filename``."""
    return f"ivo://{authority}/{PRODUCT_RESOURCE}?{quote(filename, safe='._-')}"


def filename_from_id(authority: str, identifier: str) -> str:
    """The product file name an ``ID`` names: a publisher DID of this archive or a MAST URI.

    The DID's scheme and authority compare case-insensitively, as IVOA identifiers do; the
    file name keeps its case. Anything else (another authority, a path, a bare word) is a
    400 that says what an ``ID`` looks like.
    """
    value = identifier.strip()
    did_prefix = f"ivo://{authority}/{PRODUCT_RESOURCE}?"
    if value.lower().startswith(did_prefix.lower()):
        filename = unquote(value[len(did_prefix) :])
    elif value.startswith(MAST_PRODUCT_PREFIX):
        filename = value[len(MAST_PRODUCT_PREFIX) :]
    else:
        raise BadQuery(
            f"ID {identifier[:80]!r} is not a product of this archive: give "
            f"{did_prefix}<filename> or {MAST_PRODUCT_PREFIX}<filename>."
        )
    if (
        not filename
        or len(filename) > MAX_FILENAME_CHARS
        or "/" in filename
        or "\\" in filename
        or filename in {".", ".."}
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in filename)
    ):
        raise BadQuery(f"ID {identifier[:80]!r} does not name a file.")
    return filename


def datalink_url(base_url: str, did: str) -> str:
    """The DataLink ``{links}`` document of one product (ObsCore's ``access_url``)."""
    return f"{base_url.rstrip('/')}{DATALINK_PATH}?{urlencode({'ID': did})}"
