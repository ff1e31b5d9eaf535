"""One observation as the portal's details panel shows it: its row and its product list."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from skyarchive.access.policy import Caller, may_retrieve
from skyarchive.errors import NotFound
from skyarchive.products.listing import parse_obsid, product_rows
from skyarchive.search.observations import ObservationQuery, search_observations
from skyarchive.search.portal_search import criteria_from


def observation_details(
    conn: Connection, obsid: str, *, caller: Caller, now: float
) -> dict[str, Any]:
    """One observation's row, its product list (as Mast.Caom.Products lists it), and whether
    ``caller`` may retrieve its files (``mayRetrieve``: its preview among them)."""
    number = parse_obsid(obsid)
    criteria = criteria_from([{"paramName": "obsid", "values": [number]}])
    page = search_observations(conn, ObservationQuery(criteria=criteria, pagesize=1), now=now)
    rows = list(page.rows)
    if not rows:
        raise NotFound(f"No observation with obsid {number} in this archive.")
    products = list(product_rows(conn, [number], now=now))
    row = rows[0]
    allowed = may_retrieve(
        caller, proposal_id=row["proposal_id"], t_obs_release=row["t_obs_release"], now=now
    )
    return {"observation": row, "products": products, "mayRetrieve": allowed}
