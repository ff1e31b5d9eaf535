"""Links that span files: association members, pools, guide-star and MSA files, release dates.

Run after every ingest for the programs it touched, from what the catalog holds, so files that
arrive in any order or in separate runs end up linked the same way.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import Connection, select, update

from skyarchive.access.rights import add_months_mjd, eap_months
from skyarchive.db.tables import (
    observation_members,
    observation_products,
    observations,
    products,
    programs,
)
from skyarchive.db.upsert import insert_ignore
from skyarchive.ingest.catalog import replace_footprint
from skyarchive.products.naming import LEVEL2_ASN_TYPES, Kind, exposure_obs_id_of, parse_filename
from skyarchive.search.facet_summary import refresh_release_summary
from skyarchive.storage import Storage


def link_programs(
    conn: Connection, storage: Storage, program_ids: Iterable[str], *, default_eap_months: int
) -> None:
    for program in sorted(set(program_ids)):
        _link_program(conn, storage, program)
        apply_release_dates(conn, program, default_eap_months=default_eap_months)


def _link_program(conn: Connection, storage: Storage, program: str) -> None:
    obs_rows = conn.execute(
        select(observations.c.obsid, observations.c.obs_id, observations.c.s_region).where(
            observations.c.proposal_id == program, observations.c.status == "executed"
        )
    ).all()
    exposures = {r.obs_id: r.obsid for r in obs_rows if "-" not in r.obs_id.split("_")[0]}
    level3 = {r.obs_id: r.obsid for r in obs_rows if r.obs_id not in exposures}
    by_visit: dict[str, list[int]] = defaultdict(list)
    for obs_id, obsid in exposures.items():
        by_visit[obs_id[:13]].append(obsid)

    shared = conn.execute(
        select(products.c.product_id, products.c.productFilename, products.c.storage_key).where(
            products.c.proposal_id == program,
            products.c.owner_obsid.is_(None)
            | products.c.productFilename.like("%\\_asn.json", escape="\\")
            | products.c.productFilename.like("%\\_pool.csv", escape="\\")
            | products.c.productFilename.like("%\\_gs-%", escape="\\")
            | products.c.productFilename.like("%\\_msa.fits", escape="\\"),
        )
    ).all()
    links: list[dict] = []
    members: list[dict] = []
    owners: dict[int, int] = {}
    for product_id, filename, key in shared:
        name = parse_filename(filename)
        targets: list[int] = []
        if name.kind is Kind.POOL:
            targets = sorted(exposures.values())
        elif name.kind in (Kind.GUIDESTAR, Kind.MSA):
            targets = sorted(by_visit.get(name.visit or "", []))
        elif name.kind is Kind.ASN:
            targets = _asn_targets(storage, key, name.asn_type, exposures, level3, members)
        links += [{"obsid": obsid, "product_id": product_id} for obsid in targets]
        if targets:
            owners[product_id] = targets[0]
    insert_ignore(conn, observation_products, links)
    insert_ignore(conn, observation_members, members)
    for product_id, owner in owners.items():
        conn.execute(
            update(products)
            .where(products.c.product_id == product_id, products.c.owner_obsid.is_(None))
            .values(owner_obsid=owner)
        )
    _fill_level3_footprints(conn, level3)


def _asn_targets(
    storage: Storage,
    key: str,
    asn_type: str | None,
    exposures: dict[str, int],
    level3: dict[str, int],
    members: list[dict],
) -> list[int]:
    content = json.loads(b"".join(storage.open_range(key)))
    targets: list[int] = []
    for product in content.get("products", []):
        stem = str(product.get("name", ""))
        if asn_type in LEVEL2_ASN_TYPES:
            if stem in exposures:
                targets.append(exposures[stem])
            continue
        parent = level3.get(stem)
        if parent is None:
            continue
        targets.append(parent)
        for member in product.get("members", []):
            member_obs = exposure_obs_id_of(str(member.get("expname", "")))
            if member_obs in exposures:
                members.append({"parent_obsid": parent, "member_obsid": exposures[member_obs]})
    return sorted(set(targets))


def _fill_level3_footprints(conn: Connection, level3: dict[str, int]) -> None:
    """A level-3 product without its own footprint (TSO spectra) takes its members' footprint."""
    missing = conn.execute(
        select(observations.c.obsid).where(
            observations.c.obsid.in_(list(level3.values())), observations.c.s_region.is_(None)
        )
    ).scalars()
    for obsid in list(missing):
        member = conn.execute(
            select(observations.c.s_region, observations.c.s_ra, observations.c.s_dec)
            .join(observation_members, observation_members.c.member_obsid == observations.c.obsid)
            .where(
                observation_members.c.parent_obsid == obsid, observations.c.s_region.is_not(None)
            )
            .order_by(observations.c.obs_id)
            .limit(1)
        ).first()
        if member is not None:
            conn.execute(
                update(observations)
                .where(observations.c.obsid == obsid)
                .values(s_region=member.s_region, s_ra=member.s_ra, s_dec=member.s_dec)
            )
            replace_footprint(conn, obsid, member.s_region)


def apply_release_dates(conn: Connection, program: str, *, default_eap_months: int) -> None:
    """Set t_obs_release of the program's executed observations from its exclusive-access rule."""
    row = conn.execute(
        select(programs.c.category, programs.c.eap_months).where(programs.c.proposal_id == program)
    ).first()
    if row is None:
        return
    months = eap_months(row.category, override=row.eap_months, default_months=default_eap_months)
    observed = conn.execute(
        select(observations.c.obsid, observations.c.t_max).where(
            observations.c.proposal_id == program,
            observations.c.status == "executed",
            observations.c.t_max.is_not(None),
        )
    ).all()
    for obsid, t_max in observed:
        conn.execute(
            update(observations)
            .where(observations.c.obsid == obsid)
            .values(t_obs_release=add_months_mjd(t_max, months))
        )
    # the facet counts per release bucket (schema 0040) follow the new dates in this transaction
    refresh_release_summary(conn, lambda column: column == program)
