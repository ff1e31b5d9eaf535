"""Ingest of the demo pipeline output, checked against what the generator says it wrote."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from skyarchive.access.rights import data_rights
from skyarchive.archive import Archive
from skyarchive.db.tables import (
    footprint_cells,
    footprint_vertices,
    observation_members,
    observation_products,
    observations,
    product_keywords,
    products,
    programs,
)
from skyarchive.ingest.manifest import MANIFEST_SUFFIX
from skyarchive.ingest.run import IngestReport, ingest_paths
from skyarchive.sky.stored_footprints import stored_vertices


def ingest(archive: Archive, *paths: Path) -> IngestReport:
    return ingest_paths(
        list(paths), engine=archive.engine, storage=archive.storage, default_eap_months=12
    )


def written_files(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*") if p.is_file())


def manifest_products(out: Path) -> set[str]:
    names = set()
    for manifest in out.rglob(f"*{MANIFEST_SUFFIX}"):
        for obs in json.loads(manifest.read_text())["observations"]:
            names |= {Path(p["file"]).name for p in obs.get("products", [])}
    return names


def count(conn, table) -> int:  # type: ignore[no-untyped-def]
    return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_demo_ingest_builds_the_catalog_the_generator_describes(archive: Archive, demo_output):  # type: ignore[no-untyped-def]
    out, summary = demo_output
    report = ingest(archive, out)
    assert report.ok, report.failed

    files = written_files(out)
    pipeline_files = [f for f in files if not f.name.endswith(MANIFEST_SUFFIX)]
    expected_products = {f.name for f in pipeline_files}
    assert expected_products >= manifest_products(out)
    expected_obs = (
        set(summary.exposure_obs)
        | set(summary.level3_obs)
        | set(summary.planned_obs)
        | set(summary.other_mission_obs)
    )
    with archive.engine.connect() as conn:
        assert {r for (r,) in conn.execute(select(observations.c.obs_id))} == expected_obs
        assert {r for (r,) in conn.execute(select(products.c.productFilename))} == (
            expected_products
        )
        assert report.added == len(expected_products)

        # every exposure and level-3 observation lists the files the generator gave it
        listed = {}
        query = (
            select(observations.c.obs_id, products.c.productFilename)
            .join(observation_products, observation_products.c.obsid == observations.c.obsid)
            .join(products, products.c.product_id == observation_products.c.product_id)
        )
        for obs_id, filename in conn.execute(query):
            listed.setdefault(obs_id, set()).add(filename)
        for obs_id, own_files in summary.exposure_obs.items():
            assert set(own_files) <= listed[obs_id], obs_id
        for obs_id, info in summary.level3_obs.items():
            assert set(info.files) <= listed[obs_id], obs_id

        # level-3 observations are linked to exactly the member exposures of their association
        obs_ids = dict(conn.execute(select(observations.c.obsid, observations.c.obs_id)).all())
        members: dict[str, set[str]] = {}
        for parent, member in conn.execute(select(observation_members)):
            members.setdefault(obs_ids[parent], set()).add(obs_ids[member])
        assert members == {
            obs_id: set(info.members) for obs_id, info in summary.level3_obs.items() if info.members
        }

        # programs and their exclusive-access state
        categories = dict(conn.execute(select(programs.c.proposal_id, programs.c.category)).all())
        for proposal_id, info in summary.programs.items():
            assert categories[proposal_id] == info.category
        rights = {
            obs_id: data_rights(release)
            for obs_id, release, status in conn.execute(
                select(observations.c.obs_id, observations.c.t_obs_release, observations.c.status)
            )
            if status == "executed"
        }
        for obs_id, right in rights.items():
            program = next(
                (p for p, info in summary.programs.items() if obs_id.startswith(f"jw{int(p):05d}")),
                None,
            )
            if program is not None:
                expected = "EXCLUSIVE_ACCESS" if summary.programs[program].exclusive else "PUBLIC"
                assert right == expected, obs_id

        planned = conn.execute(
            select(observations.c.obs_id, observations.c.calib_level).where(
                observations.c.status == "planned"
            )
        ).all()
        assert {o for o, _ in planned} == set(summary.planned_obs)
        assert all(level == -1 for _, level in planned)

        # every executed observation has a footprint; every footprint has cells to find it by
        without = conn.execute(
            select(observations.c.obs_id).where(
                observations.c.status == "executed", observations.c.s_region.is_(None)
            )
        ).all()
        assert without == []
        cells = conn.execute(select(func.count(func.distinct(footprint_cells.c.obsid)))).scalar()
        with_footprint = conn.execute(
            select(func.count()).where(observations.c.s_region.is_not(None))
        ).scalar()
        assert cells == with_footprint
        # ... and every plain polygon its vertices as numbers, those its text gives
        texts = dict(conn.execute(select(observations.c.obsid, observations.c.s_region)).all())
        stored = dict(conn.execute(select(*footprint_vertices.c)).all())
        expected = {obsid: stored_vertices(text) for obsid, text in texts.items()}
        assert stored == {obsid: xyz for obsid, xyz in expected.items() if xyz is not None}
        assert len(stored) == with_footprint

        # every FITS product kept its whole primary header
        fits_count = sum(1 for f in pipeline_files if f.suffix == ".fits")
        assert count(conn, product_keywords) == fits_count

        # stored bytes are the ones written, under the recorded checksum
        for key, sha, size in conn.execute(
            select(products.c.storage_key, products.c.sha256, products.c.size)
        ):
            assert archive.storage.size(key) == size
            assert len(sha) == 64


def test_reingest_changes_nothing(archive: Archive, demo_output) -> None:  # type: ignore[no-untyped-def]
    out, _ = demo_output
    ingest(archive, out)
    with archive.engine.connect() as conn:
        before = {
            table.name: sorted(map(tuple, conn.execute(select(table)).all()))
            for table in (observations, products, observation_products, footprint_cells)
        }
    report = ingest(archive, out)
    assert report.ok
    assert (report.added, report.replaced) == (0, 0)
    assert report.unchanged == len(written_files(out)) - len(list(out.rglob(f"*{MANIFEST_SUFFIX}")))
    with archive.engine.connect() as conn:
        after = {
            table.name: sorted(map(tuple, conn.execute(select(table)).all()))
            for table in (observations, products, observation_products, footprint_cells)
        }
    for name in before:
        assert before[name] == after[name], name
