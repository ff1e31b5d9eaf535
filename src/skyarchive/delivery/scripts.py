"""cURL script entries for a selection, streamed from the catalog.

The script text itself is written by :mod:`skyarchive.delivery.curl_script`; this module decides
what goes in it: every selected file, marked restricted when the caller may not retrieve it
(the script then asks for a token), and a comment for every name not in the archive.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Engine

from skyarchive.access.policy import Caller, may_retrieve
from skyarchive.access.rights import now_mjd
from skyarchive.delivery.curl_script import ScriptEntry
from skyarchive.delivery.selection import Excluded, Item, candidates


def script_entry(item: Item, *, allowed: bool) -> ScriptEntry:
    collection, obs_id, _ = item.path.split("/", 2)
    return ScriptEntry(item.data_uri, item.filename, collection, obs_id, item.size, item.sha256,
                       restricted=not allowed)  # fmt: skip


def script_entries(
    engine: Engine, caller: Caller, *, uris: list[str], obsids: list[int], mrp_only: bool
) -> Iterator[ScriptEntry | str]:
    """Script entries streamed from the catalog, chunk by chunk (any selection size)."""
    now = now_mjd()
    with engine.connect() as conn:
        for found in candidates(conn, uris=uris, obsids=obsids, mrp_only=mrp_only, now=now):
            if isinstance(found, Excluded):
                yield f"not in this archive: {found.name}"
                continue
            allowed = may_retrieve(
                caller, proposal_id=found.proposal_id, t_obs_release=found.t_obs_release, now=now
            )
            yield script_entry(found, allowed=allowed)
