"""The files of MastMissions datasets (``post_list_products``), one row per file.

A dataset (file set) is an exposure name (``jw01189001001_02101_00001``) or a level-3
observation id; its files are the JWST files whose names start with it and ``_``. Rows carry
the keys MAST's mission product lists have, with ``dataset`` the file-set name and ``uri``
``<dataset>/<filename>`` (what ``retrieve_product`` is then asked for).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, or_, select

from skyarchive.access.rights import data_rights
from skyarchive.db.tables import observations, products
from skyarchive.errors import BadQuery
from skyarchive.search.keyword_search import product_level_sql

#: astroquery sends at most this many ids per request.
MAX_DATASETS = 1000
_MAX_ID = 100

PRODUCT_KEYS = (
    "product_key", "access", "dataset", "instrument_name", "filters", "filename", "uri",
    "authz_primary_identifier", "authz_secondary_identifier", "file_suffix", "category",
    "size", "type",
)  # fmt: skip


def parse_dataset_ids(raw: Any) -> list[str]:
    """The ``dataset_ids`` of a request: a non-empty list of names (a comma list is accepted).

    Raises
    ------
    BadQuery
        For anything else, or more than :data:`MAX_DATASETS` ids.
    """
    if isinstance(raw, str):
        raw = raw.split(",")
    if not isinstance(raw, list):
        raise BadQuery("'dataset_ids' must be a list of dataset names (fileSetName values).")
    if len(raw) > MAX_DATASETS:
        raise BadQuery(f"At most {MAX_DATASETS} dataset_ids per request (got {len(raw)}).")
    ids = []
    for item in raw:
        if not isinstance(item, str) or len(item.strip()) > _MAX_ID:
            raise BadQuery(f"Dataset id {str(item)[:40]!r} is not a dataset name.")
        if item.strip() and item.strip() not in ids:
            ids.append(item.strip())
    if not ids:
        raise BadQuery("'dataset_ids' is empty.")
    return ids


def dataset_products(
    conn: Connection, dataset_ids: Sequence[str], *, now: float
) -> list[dict[str, Any]]:
    """The files of the named datasets (unknown names have none), by dataset then file name."""
    p, o = products, observations
    prefixes = [
        p.c.productFilename.like(_escape(name) + "\\_%", escape="\\") for name in dataset_ids
    ]
    query = (
        select(
            p.c.productFilename,
            p.c.filters,
            p.c.size,
            p.c.productType,
            p.c.productSubGroupDescription,
            p.c.proposal_id,
            o.c.instrument_name,
            o.c.t_obs_release,
            product_level_sql().label("level"),
        )  # fmt: skip
        .select_from(p.outerjoin(o, o.c.obsid == p.c.owner_obsid))
        .where(p.c.obs_collection == "JWST", or_(*prefixes))
        .order_by(p.c.productFilename)
    )
    rows = []
    for file in conn.execute(query):
        dataset = _dataset_of(file.productFilename, dataset_ids)
        rows.append({
            "product_key": f"{dataset}_{file.productFilename}",
            "access": data_rights(file.t_obs_release, now=now),
            "dataset": dataset,
            "instrument_name": file.instrument_name or "",
            "filters": file.filters or "",
            "filename": file.productFilename,
            "uri": f"{dataset}/{file.productFilename}",
            "authz_primary_identifier": file.proposal_id or "",
            "authz_secondary_identifier": "",
            "file_suffix": (file.productSubGroupDescription or "").upper(),
            "category": file.level,
            "size": int(file.size),
            "type": (file.productType or "").lower(),
        })  # fmt: skip
    rows.sort(key=lambda row: (dataset_ids.index(row["dataset"]), row["filename"]))
    return rows


def _dataset_of(filename: str, dataset_ids: Sequence[str]) -> str:
    # The longest name that prefixes the file (a level-3 id may extend another id).
    return max((n for n in dataset_ids if filename.startswith(n + "_")), key=len)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
