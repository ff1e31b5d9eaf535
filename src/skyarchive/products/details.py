"""One observation as the portal's details panel shows it: its row and its product list."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from skyarchive.errors import NotFound
from skyarchive.products.listing import parse_obsid, product_rows
from skyarchive.search.observations import ObservationQuery, search_observations
from skyarchive.search.portal_search import criteria_from


def observation_details(conn: Connection, obsid: str, *, now: float) -> dict[str, Any]:
    """One observation's row and its product list (as Mast.Caom.Products lists it)."""
    number = parse_obsid(obsid)
    criteria = criteria_from([{"paramName": "obsid", "values": [number]}])
    page = search_observations(conn, ObservationQuery(criteria=criteria, pagesize=1), now=now)
    rows = list(page.rows)
    if not rows:
        raise NotFound(f"No observation with obsid {number} in this archive.")
    products = list(product_rows(conn, [number], now=now))
    return {"observation": rows[0], "products": products}
