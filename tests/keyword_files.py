"""The files a keyword table lists, read straight from the catalog for tests to compare with."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from skyarchive.db.tables import observations, product_keywords, products


def listed_files(archive, instrument: str) -> dict[int, dict[str, Any]]:  # type: ignore[no-untyped-def]
    """By product id: file name, owner obsid and program, level, subgroup, the stored header
    (parsed), and the owner's release date and position."""
    query = (
        select(products.c.product_id, products.c.productFilename, products.c.owner_obsid,
               products.c.proposal_id, products.c.calib_level,
               products.c.productSubGroupDescription.label("subgroup"), product_keywords.c.header,
               observations.c.t_obs_release, observations.c.s_ra, observations.c.s_dec)
        .join(product_keywords, product_keywords.c.product_id == products.c.product_id)
        .join(observations, observations.c.obsid == products.c.owner_obsid)
        .where(product_keywords.c.listed_in == instrument)
    )  # fmt: skip
    with archive.engine.connect() as conn:
        return {row.product_id: {**row._asdict(), "header": json.loads(row.header)}
                for row in conn.execute(query)}  # fmt: skip
