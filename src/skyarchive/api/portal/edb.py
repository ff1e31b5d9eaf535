"""The EDB page's JSON: mnemonic completion (public) and the decimated plot (signed in)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from skyarchive.api.deps import ArchiveDep, CallerDep
from skyarchive.delivery.telemetry import telemetry_plot
from skyarchive.search.edb_store import MAX_BUCKETS, iso_time, list_mnemonics

router = APIRouter(prefix="/api/portal/edb", tags=["Portal"])


@router.get("/mnemonics")
def mnemonics(
    archive: ArchiveDep,
    text: Annotated[str, Query(max_length=64, description="Name prefix or description words")] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> dict[str, Any]:
    """Mnemonics whose name starts with ``text`` or whose description contains it."""
    with archive.engine.connect() as conn:
        found = list_mnemonics(conn, text=text, limit=limit)
    return {"mnemonics": [m.as_row() for m in found]}


@router.get("/plot")
def plot(
    archive: ArchiveDep,
    caller: CallerDep,
    mnemonic: Annotated[str, Query(max_length=64)],
    start: Annotated[str, Query(max_length=40, description="ISO UTC or MJD")],
    end: Annotated[str, Query(max_length=40, description="ISO UTC or MJD")],
    buckets: Annotated[int, Query(ge=1, le=MAX_BUCKETS)] = 1000,
) -> dict[str, Any]:
    """Min and max per bucket of [start, end], decimated on the server (signed-in users)."""
    found, result = telemetry_plot(
        archive, caller=caller, mnemonic=mnemonic, start=start, end=end, buckets=buckets
    )
    return {
        "mnemonic": found.as_row(),
        "source": result.source,
        "bucket_seconds": result.width_us / 1e6,
        "t": [b.start_us / 1000 for b in result.buckets],  # ms since 1970, as JavaScript's Date
        "min": [b.min_value for b in result.buckets],
        "max": [b.max_value for b in result.buckets],
        "count": [b.samples for b in result.buckets],
        "first": iso_time(result.buckets[0].start_us) if result.buckets else None,
    }
