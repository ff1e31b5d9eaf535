"""The Keyword Dictionary as JSON (``GET /api/portal/keywords``) for the page and scripts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from skyarchive.search.keyword_dictionary import (
    INSTRUMENTS,
    keyword_dictionary,
    parse_instrument,
)

router = APIRouter(prefix="/api/portal", tags=["Portal"])


@router.get("/keywords")
def keywords(
    q: Annotated[str, Query(max_length=200, description="Part of a keyword name, any case")] = "",
    descriptions: Annotated[bool, Query(description="Match titles and descriptions too")] = False,
    instrument: Annotated[
        str, Query(max_length=20, description="NIRCam, NIRISS, NIRSpec, MIRI, FGS or GuideStar")
    ] = "",
    mode: Annotated[
        str, Query(max_length=60, description="A mode of the instrument, e.g. Coronagraphy")
    ] = "",
) -> dict[str, Any]:
    """JWST header keywords with HDU, title, type and allowed values, grouped by instrument
    and mode (a mode's own keywords first)."""
    chosen = parse_instrument(instrument)
    dictionary = keyword_dictionary()
    chosen_mode = dictionary.parse_mode(chosen, mode)
    found = dictionary.search(q, descriptions=descriptions, instrument=chosen, mode=chosen_mode)
    return {
        "source": dictionary.source,
        "instrument": INSTRUMENTS[chosen][0] if chosen else None,
        "mode": chosen_mode,
        "instruments": dictionary.instrument_groups(),
        "count": len(found),
        "keywords": [k.as_json(chosen) for k in found],
    }
