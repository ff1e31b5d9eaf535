"""Write read files into the catalog and storage, one batch per transaction.

A batch either commits whole or not at all; files are copied to a key that contains their
checksum, so a replaced file's old bytes stay readable until the new row is committed. Which
files are added, replaced, kept or refused is the one product writer's policy
(:mod:`skyarchive.ingest.writer`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from skyarchive.db.tables import (
    footprint_cells,
    footprint_vertices,
    observation_products,
    observations,
    product_keywords,
    products,
    programs,
)
from skyarchive.db.upsert import insert_ignore
from skyarchive.ingest.observations import ObservedFile, build_observation
from skyarchive.ingest.reader import FileRecord
from skyarchive.ingest.writer import (
    Candidate,
    Decision,
    KeywordEntry,
    StoredObjects,
    Verdict,
    archived_products,
    classify,
    data_uri,
    plans_carried_out,
    replace_planned,
    storage_key,
    store_keywords,
    store_products,
)
from skyarchive.ingest.wss import apply_wss_records
from skyarchive.products.naming import Kind, parse_filename
from skyarchive.products.rules import MRP, product_rule
from skyarchive.search.tokens import replace_tokens
from skyarchive.sky.cells import region_cells
from skyarchive.sky.regions import parse_s_region
from skyarchive.sky.stored_footprints import stored_vertices


@dataclass
class BatchOutcome:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    stale: list[tuple[str, str]] = field(default_factory=list)  # (path, reason): skipped
    refused: list[tuple[str, str]] = field(default_factory=list)  # (path, reason): failed
    programs: set[str] = field(default_factory=set)
    obsids: set[int] = field(default_factory=set)
    #: executed obs_id -> the planned observation it carried out (whose row gave way in this
    #: batch), for the subscription e-mails' "was executed"
    executed_plans: dict[str, str] = field(default_factory=dict)

    def count(self, candidate: Candidate, decision: Decision) -> None:
        """Note what the product writer's policy decided for one file."""
        line = (str(candidate.path), decision.reason or "")
        match decision.verdict:
            case Verdict.ADDED:
                self.added.append(candidate.filename)
            case Verdict.REPLACED:
                self.replaced.append(candidate.filename)
            case Verdict.UNCHANGED:
                self.unchanged.append(candidate.filename)
            case Verdict.STALE:
                self.stale.append(line)
            case Verdict.REFUSED:
                self.refused.append(line)


def apply_jwst_batch(
    conn: Connection, objects: StoredObjects, records: Sequence[FileRecord]
) -> BatchOutcome:
    """Archive JWST pipeline files: programs, observations, products, keywords, footprints."""
    outcome = BatchOutcome()
    wavefront = [r for r in records if r.name.kind is Kind.WSS]
    if wavefront:
        apply_wss_records(conn, objects, wavefront, outcome)
        records = [r for r in records if r.name.kind is not Kind.WSS]
    archived = archived_products(conn, [r.name.filename for r in records])
    chosen: list[tuple[Candidate, Decision]] = []
    fresh: list[FileRecord] = []
    for record in records:
        candidate = Candidate(record.path, _product_values(record), record.name.obs_id)
        decision = classify(candidate, archived.get(candidate.filename))
        outcome.count(candidate, decision)
        if decision.verdict is not Verdict.REFUSED:
            outcome.programs.add(record.name.program)
        if decision.verdict in (Verdict.ADDED, Verdict.REPLACED):
            chosen.append((candidate, decision))
            fresh.append(record)
    if not fresh:
        return outcome

    _upsert_programs(conn, fresh)
    obs_ids = sorted({r.name.obs_id for r in fresh if r.name.obs_id})
    obsid_of = ensure_observations(
        conn, [(obs_id, _program_of(obs_id)) for obs_id in obs_ids], collection="JWST"
    )
    retired = replace_planned(conn, obs_ids)  # their data arrived: the planned rows give way
    outcome.executed_plans.update(plans_carried_out(obs_ids, retired))
    owners = {r.name.filename: obsid_of[r.name.obs_id] for r in fresh if r.name.obs_id in obsid_of}
    product_ids = store_products(conn, objects, chosen, archived, owners)
    insert_ignore(
        conn,
        observation_products,
        [{"obsid": owner, "product_id": product_ids[name]} for name, owner in owners.items()],
    )
    store_keywords(conn, [
        KeywordEntry(product_ids[r.name.filename], r.name.filename, r.header, r.s_region)
        for r in fresh if r.name.extension == "fits"
    ])  # fmt: skip
    refresh_observations(conn, obsid_of.values())
    outcome.obsids.update(obsid_of.values())
    return outcome


def ensure_observations(
    conn: Connection, obs: Iterable[tuple[str, str | None]], *, collection: str
) -> dict[str, int]:
    """obsid of each (obs_id, proposal_id), inserting a bare row for new observations."""
    wanted = dict(obs)
    rows = [
        {"obs_id": obs_id, "obs_collection": collection, "status": "executed", "proposal_id": pid}
        for obs_id, pid in wanted.items()
    ]
    insert_ignore(conn, observations, rows)
    found = conn.execute(
        select(observations.c.obs_id, observations.c.obsid).where(
            observations.c.obs_id.in_(list(wanted))
        )
    )
    return {obs_id: obsid for obs_id, obsid in found}


def refresh_observations(conn: Connection, obsids: Iterable[int]) -> None:
    """Rebuild JWST observation rows and footprint cells from their files' headers."""
    obsids = sorted(set(obsids))
    if not obsids:
        return
    query = (
        select(
            observation_products.c.obsid,
            products.c.productFilename,
            products.c.dataURI,
            products.c.calib_level,
            product_keywords.c.header,
            product_keywords.c.s_region,
        )
        .join(products, products.c.product_id == observation_products.c.product_id)
        .outerjoin(product_keywords, product_keywords.c.product_id == products.c.product_id)
        .where(observation_products.c.obsid.in_(obsids))
    )
    files: dict[int, list[ObservedFile]] = defaultdict(list)
    previews: dict[int, dict[str, str]] = defaultdict(dict)
    for obsid, filename, uri, level, header, region in conn.execute(query):
        name = parse_filename(filename)
        if name.preview == "preview":
            previews[obsid][name.suffix] = uri
        elif header is not None and name.kind in (Kind.EXPOSURE, Kind.LEVEL3):
            files[obsid].append(ObservedFile(name.suffix, level, json.loads(header), region, uri))
    obs_ids: dict[int, str] = {
        row.obsid: row.obs_id
        for row in conn.execute(
            select(observations.c.obsid, observations.c.obs_id).where(
                observations.c.obsid.in_(obsids)
            )
        )
    }
    for obsid, observed in files.items():
        observed = [
            ObservedFile(f.suffix, f.calib_level, f.header, f.s_region, f.data_uri,
                         previews[obsid].get(f.suffix))
            for f in observed
        ]  # fmt: skip
        obs_id = obs_ids[obsid]
        row = build_observation(obs_id, level3="-" in obs_id.split("_")[0], files=observed)
        row["objID"] = obsid
        conn.execute(update(observations).where(observations.c.obsid == obsid).values(**row))
        replace_footprint(conn, obsid, row["s_region"])
        replace_tokens(conn, obsid, row)


def replace_footprint(conn: Connection, obsid: int, s_region: str | None) -> None:
    """What a cone search reads of an observation's footprint besides its text, rewritten
    from ``s_region`` (call it wherever an observation's ``s_region`` is written): the
    HEALPix cells it touches and, for a plain polygon, its vertices as numbers."""
    for table in (footprint_cells, footprint_vertices):
        conn.execute(delete(table).where(table.c.obsid == obsid))
    if s_region:
        cells = region_cells(parse_s_region(s_region))
        insert_ignore(conn, footprint_cells, [{"cell": int(c), "obsid": obsid} for c in cells])
        vertices = stored_vertices(s_region)
        if vertices is not None:
            conn.execute(insert(footprint_vertices).values(obsid=obsid, xyz=vertices))


def _product_values(record: FileRecord) -> dict[str, Any]:
    name = record.name
    rule = product_rule(name)
    header = record.header
    return {
        "productFilename": name.filename,
        "dataURI": data_uri("JWST", name.filename),
        "obs_collection": "JWST",
        "description": rule.description,
        "type": rule.type,
        "productType": rule.productType,
        "productGroupDescription": MRP if rule.mrp else None,
        "productSubGroupDescription": rule.productSubGroupDescription,
        "project": "CALJWST",
        "prvversion": str(header["CAL_VER"]) if header.get("CAL_VER") else None,
        "proposal_id": name.program,
        "size": record.size,
        "calib_level": rule.calib_level,
        "sha256": record.sha256,
        "crc32": record.crc32,
        "storage_key": storage_key("JWST", record.sha256, name.filename),
        "file_date": record.file_date,
    }


def _upsert_programs(conn: Connection, records: Sequence[FileRecord]) -> None:
    found: dict[str, dict] = {}
    for record in records:
        program = record.name.program
        header = record.header
        entry = found.setdefault(program, {"proposal_id": program, "obs_collection": "JWST"})
        for column, keyword in (
            ("title", "TITLE"), ("pi_name", "PI_NAME"), ("category", "CATEGORY"),
            ("subcategory", "SUBCAT"),
        ):  # fmt: skip
            if header.get(keyword) not in (None, "") and column not in entry:
                entry[column] = str(header[keyword]).strip()
    insert_ignore(conn, programs, [{"proposal_id": p, "obs_collection": "JWST"} for p in found])
    for program, entry in found.items():
        values = {k: v for k, v in entry.items() if k not in ("proposal_id", "obs_collection")}
        if values:
            conn.execute(update(programs).where(programs.c.proposal_id == program).values(**values))


def _program_of(obs_id: str) -> str:
    return str(int(obs_id[2:7]))
