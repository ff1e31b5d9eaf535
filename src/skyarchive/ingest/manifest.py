"""Observation manifests: metadata files that bring in what pipeline FITS files cannot.

Planned (not yet executed) observations and observations of other missions enter the archive
through a JSON file named ``*.skyarchive.json``::

    {"skyarchive_manifest": 1,
     "programs": [{"proposal_id": "12345", "obs_collection": "HST", "title": "...",
                   "pi_name": "Last, First", "category": "GO", "cycle": 20}],
     "observations": [{"obs_id": "idxx01010", "status": "executed", "obs_collection": "HST",
                       ... any CAOM column ...,
                       "products": [{"file": "hst/idxx01010_drz.fits", "productType": "SCIENCE",
                                     "productSubGroupDescription": "DRZ", "calib_level": 3,
                                     "description": "...", "mrp": true, "prvversion": "3.7"}]}]}

``file`` paths are relative to the manifest. ``t_obs_release`` may be given; otherwise it follows
the program's exclusive-access rule. See docs/ingest.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select, update

from skyarchive.access.rights import add_months_mjd, eap_months
from skyarchive.db.tables import observation_products, observations, products, programs
from skyarchive.db.upsert import insert_ignore
from skyarchive.errors import IngestError
from skyarchive.ingest.catalog import (
    BatchOutcome,
    data_uri,
    ensure_observations,
    replace_footprint,
    storage_key,
)
from skyarchive.ingest.reader import check_filename, read_fits_headers, sha256_of
from skyarchive.ingest.writer import (
    Candidate,
    KeywordEntry,
    StoredObjects,
    Verdict,
    archived_products,
    classify,
    executed_counterparts,
    plans_carried_out,
    replace_planned,
    store_keywords,
    store_products,
)
from skyarchive.products.rules import MRP
from skyarchive.search.tokens import replace_tokens
from skyarchive.sky.regions import format_s_region, parse_s_region, region_center

MANIFEST_SUFFIX = ".skyarchive.json"
_OBS_COLUMNS = frozenset(c.name for c in observations.columns) - {"obsid", "objID"}
_PROGRAM_COLUMNS = frozenset(c.name for c in programs.columns)


@dataclass
class ManifestOutcome:
    observations: int = 0
    # what the product writer decided for each described file, and the programs of the files
    # added and replaced (for subscription events)
    changes: BatchOutcome = field(default_factory=BatchOutcome)


def is_manifest(path: Path) -> bool:
    return path.name.endswith(MANIFEST_SUFFIX)


def referenced_files(path: Path) -> list[Path]:
    """Files a manifest describes (best effort: an unreadable manifest describes none)."""
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
        return [
            path.parent / str(product["file"])
            for obs in content.get("observations", [])
            for product in obs.get("products", [])
            if product.get("file")
        ]
    except (OSError, UnicodeDecodeError, ValueError, AttributeError, TypeError, KeyError):
        return []


def load_manifest(path: Path) -> dict[str, Any]:
    """Parse and check a manifest before anything is written; raise IngestError when invalid."""
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IngestError(f"{path.name}: not a readable manifest ({exc}).") from exc
    if not isinstance(content, dict) or content.get("skyarchive_manifest") != 1:
        raise IngestError(f"{path.name}: missing '\"skyarchive_manifest\": 1'.")
    for obs in content.get("observations", []):
        if not isinstance(obs, dict) or not obs.get("obs_id") or not obs.get("obs_collection"):
            raise IngestError(f"{path.name}: every observation needs obs_id and obs_collection.")
        unknown = set(obs) - _OBS_COLUMNS - {"products"}
        if unknown:
            raise IngestError(f"{path.name}: unknown observation fields {sorted(unknown)}.")
        if obs.get("s_region"):
            parse_s_region(obs["s_region"])
        for product in obs.get("products", []):
            file = path.parent / str(product.get("file", ""))
            if product.get("file"):
                try:
                    check_filename(file.name)
                except IngestError as exc:
                    raise IngestError(f"{path.name}: {exc}") from exc
            if not product.get("file") or not file.is_file():
                raise IngestError(f"{path.name}: product file {product.get('file')!r} not found.")
            if not file.resolve().is_relative_to(path.parent.resolve()):
                raise IngestError(f"{path.name}: product file {product['file']!r} is outside.")
    return content


def apply_manifest(
    conn: Connection,
    objects: StoredObjects,
    path: Path,
    content: dict[str, Any],
    *,
    default_eap: int,
) -> ManifestOutcome:
    outcome = ManifestOutcome()
    for program in content.get("programs", []):
        values = {k: v for k, v in program.items() if k in _PROGRAM_COLUMNS}
        values["proposal_id"] = str(values["proposal_id"])
        insert_ignore(conn, programs, [values])
        conn.execute(
            update(programs).where(programs.c.proposal_id == values["proposal_id"]).values(values)
        )
    for obs in content.get("observations", []):
        _apply_observation(conn, objects, path.parent, obs, outcome, default_eap)
    return outcome


def programs_touched(conn: Connection, content: dict[str, Any]) -> set[str | None]:
    """Programs whose stored figures applying ``content`` may change (call it before applying).

    Those the manifest names and those its observations and files belong to now: an
    observation or a file may move to another program.
    """
    named: set[str | None] = set()
    obs_ids: list[str] = []
    files: list[str] = []
    for obs in content.get("observations", []):
        proposal = obs.get("proposal_id")
        # observations keep a given '' and files store it as NULL (see _store_product)
        named |= {
            str(proposal) if proposal is not None else None,
            str(proposal) if proposal else None,
        }
        obs_ids.append(obs["obs_id"])
        files += [Path(product["file"]).name for product in obs.get("products", [])]
    for start in range(0, max(len(obs_ids), len(files)), _LOOKUP_CHUNK):
        end = start + _LOOKUP_CHUNK
        named.update(
            conn.execute(
                select(observations.c.proposal_id).where(
                    observations.c.obs_id.in_(obs_ids[start:end])
                )
            ).scalars()
        )
        named.update(
            conn.execute(
                select(products.c.proposal_id).where(
                    products.c.productFilename.in_(files[start:end])
                )
            ).scalars()
        )
    return named


_LOOKUP_CHUNK = 500


def _apply_observation(
    conn: Connection,
    objects: StoredObjects,
    base: Path,
    obs: dict[str, Any],
    outcome: ManifestOutcome,
    default_eap: int,
) -> None:
    collection = obs["obs_collection"]
    status = obs.get("status", "executed")
    executed = executed_counterparts(conn, obs["obs_id"]) if status == "planned" else []
    if collection == "JWST" and executed:
        # Carried out already: the executed observation stands for it (and an archive
        # written before this rule loses the planned row it still lists).
        replace_planned(conn, executed)
        return
    if collection == "JWST" and status == "executed":
        retired = replace_planned(conn, [obs["obs_id"]])
        outcome.changes.executed_plans.update(plans_carried_out([obs["obs_id"]], retired))
    proposal = str(obs["proposal_id"]) if obs.get("proposal_id") is not None else None
    if proposal is not None:
        insert_ignore(conn, programs, [{"proposal_id": proposal, "obs_collection": collection}])
    obsid = ensure_observations(conn, [(obs["obs_id"], proposal)], collection=collection)[
        obs["obs_id"]
    ]
    values = {k: v for k, v in obs.items() if k in _OBS_COLUMNS}
    values.update(proposal_id=proposal, objID=obsid, status=status)
    if obs.get("s_region"):
        region = parse_s_region(obs["s_region"])
        values["s_region"] = format_s_region(region)
        if obs.get("s_ra") is None:
            values["s_ra"], values["s_dec"] = region_center(region)
    if values.get("t_obs_release") is None and values.get("t_max") is not None:
        values["t_obs_release"] = add_months_mjd(
            values["t_max"], _months(conn, proposal, default_eap)
        )
    conn.execute(update(observations).where(observations.c.obsid == obsid).values(**values))
    replace_footprint(conn, obsid, values.get("s_region"))
    replace_tokens(conn, obsid, values)
    outcome.observations += 1
    for product in obs.get("products", []):
        product_id = _store_product(conn, objects, base, obs, obsid, product, outcome)
        if product_id is not None:
            insert_ignore(conn, observation_products, [{"obsid": obsid, "product_id": product_id}])


def _store_product(
    conn: Connection,
    objects: StoredObjects,
    base: Path,
    obs: dict[str, Any],
    obsid: int,
    product: dict[str, Any],
    outcome: ManifestOutcome,
) -> int | None:
    """Store one described file through the product writer; its product_id, None if stale."""
    file = base / product["file"]
    collection = obs["obs_collection"]
    size, sha, crc = sha256_of(file)
    headers = read_fits_headers(file) if file.suffix.lower() == ".fits" else None
    values = {
        "productFilename": file.name,
        "dataURI": data_uri(collection, file.name),
        "obs_collection": collection,
        "dataproduct_type": obs.get("dataproduct_type"),
        "description": product.get("description"),
        "type": product.get("type", "S"),
        "productType": product.get("productType", "SCIENCE"),
        "productGroupDescription": MRP if product.get("mrp") else None,
        "productSubGroupDescription": product.get("productSubGroupDescription"),
        "project": obs.get("project"),
        "prvversion": product.get("prvversion"),
        "proposal_id": str(obs.get("proposal_id")) if obs.get("proposal_id") else None,
        "size": size,
        "calib_level": product.get("calib_level", obs.get("calib_level")),
        "filters": obs.get("filters"),
        "sha256": sha,
        "crc32": crc,
        "storage_key": storage_key(collection, sha, file.name),
        "file_date": headers.file_date if headers else None,
    }
    candidate = Candidate(file, values, obs["obs_id"])
    archived = archived_products(conn, [file.name])
    decision = classify(candidate, archived.get(file.name))
    if decision.verdict is Verdict.REFUSED:  # the manifest is one transaction: refuse it whole
        raise IngestError(decision.reason or file.name)
    outcome.changes.count(candidate, decision)
    old = archived.get(file.name)
    if decision.verdict is Verdict.STALE:
        return None
    if decision.verdict is Verdict.UNCHANGED:
        assert old is not None
        if old["crc32"] is None:  # ingested before CRC-32s were recorded: fill it in
            conn.execute(
                update(products).where(products.c.product_id == old["product_id"]).values(crc32=crc)
            )
        return int(old["product_id"])
    if values["proposal_id"] is not None:
        outcome.changes.programs.add(values["proposal_id"])
    product_id = store_products(
        conn, objects, [(candidate, decision)], archived, {file.name: obsid}
    )[file.name]
    if headers is not None:
        store_keywords(
            conn, [KeywordEntry(product_id, file.name, headers.header, headers.s_region)]
        )
    return product_id


def _months(conn: Connection, proposal: str | None, default_eap: int) -> int:
    row = conn.execute(
        select(programs.c.category, programs.c.eap_months).where(programs.c.proposal_id == proposal)
    ).first()
    if row is None:
        return default_eap
    return eap_months(row.category, override=row.eap_months, default_months=default_eap)
