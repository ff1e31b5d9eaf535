"""Name-resolver answers in MAST's shape (Mast.Name.Lookup and the SANTA resolver service)."""

from __future__ import annotations

from typing import Any

from skyarchive.archive import Archive
from skyarchive.errors import NotFound
from skyarchive.sky.resolver import Resolved


def resolved_entries(archive: Archive, name: str, *, resolve_all: bool) -> list[dict[str, Any]]:
    """Entries for ``name``; an empty list when nothing knows it (clients raise their error)."""
    chain = archive.resolver
    if resolve_all:
        found = chain.resolve_all(name)
    else:
        try:
            found = [chain.resolve(name)]
        except NotFound:
            found = []
    return [_entry(name, hit) for hit in found]


def _entry(name: str, hit: Resolved) -> dict[str, Any]:
    return {
        # astroquery groups entries by the lower-cased input, so echo exactly that.
        "searchString": name.lower(),
        "resolver": hit.resolver,
        "cached": False,
        "resolverTime": 0,
        "cacheDate": None,
        "searchRadius": -1.0,
        "canonicalName": hit.canonical_name,
        "ra": hit.ra,
        "decl": hit.dec,
        "radius": 0.0,
        "objectType": hit.object_type or "",
    }
