"""DOI names: new suffixes, and reading a DOI however people write it.

DOIs are case-insensitive (the DOI Handbook), so they are kept and compared in lower case.
New suffixes look like DataCite's own (``sky-7k2m-q9xd``): random, short, without letters that
are easily confused when read aloud or copied from paper.
"""

from __future__ import annotations

import re
import secrets

from skyarchive.errors import BadQuery

# Crockford's base 32 without i, l, o, u: no 1/l or 0/o confusion.
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_DOI = re.compile(r"^10\.\d{4,9}/[-._;()/:a-z0-9]{1,150}$")
_RESOLVERS = ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "http://dx.doi.org/")
MAX_DOI_LENGTH = 200


def new_suffix() -> str:
    """A random suffix of 8 characters in two groups (40 bits): ``sky-7k2m-q9xd``."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"sky-{chars[:4]}-{chars[4:]}"


def parse_doi(text: str) -> str:
    """The DOI in ``text`` in lower case, from ``10.x/y``, ``doi:10.x/y`` or a resolver URL.

    Raises
    ------
    BadQuery
        ``text`` is no DOI.

    Examples
    --------
    >>> parse_doi(" https://doi.org/10.17909/T9-9SKZ-QW10 ")
    '10.17909/t9-9skz-qw10'
    """
    value = (text or "").strip()
    if len(value) > MAX_DOI_LENGTH:
        raise BadQuery(f"A DOI has at most {MAX_DOI_LENGTH} characters.")
    lowered = value.lower()
    for prefix in (*_RESOLVERS, "doi:"):
        if lowered.startswith(prefix):
            lowered = lowered[len(prefix) :].strip()
            break
    if not _DOI.match(lowered):
        raise BadQuery(
            f"{value!r} is not a DOI; give it as 10.<prefix>/<suffix>, e.g. 10.17909/t9-9skz-qw10."
        )
    return lowered


def split_doi(doi: str) -> tuple[str, str]:
    """(prefix, suffix) of a parsed DOI."""
    prefix, _, suffix = doi.partition("/")
    return prefix, suffix
