"""The home page's stored figures, and the portal's stored facet counts per program, always
equal a fresh count of the catalog rows.

Run on SQLite and PostgreSQL (the ``archive`` fixture). The expected figures are counted here
in Python from the raw rows, not by the SQL the summary uses.
"""

from __future__ import annotations

import json
import math
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, select

from skyarchive.archive import Archive
from skyarchive.db.engine import make_engine, upgrade
from skyarchive.db.tables import (
    observations,
    products,
    programs,
    summary_facets,
    summary_release_targets,
    summary_releases,
    summary_targets,
)
from skyarchive.ingest.run import ingest_paths
from skyarchive.search import summary as summary_module
from skyarchive.search.summary import ArchiveSummary, archive_summary, refresh_summary
from tests.ingest.integrity import copy_program, with_date


def fresh_figures(engine: Engine) -> dict[str, Any]:
    """Figures of the home page, counted from every observation and product row."""
    with engine.connect() as conn:
        obs = conn.execute(
            select(observations.c.obs_collection, observations.c.instrument_name,
                   observations.c.proposal_id)
        ).all()  # fmt: skip
        files = conn.execute(select(products.c.size)).scalars().all()
        titles = dict(conn.execute(select(programs.c.proposal_id, programs.c.title)).all())
    return {
        "observations": len(obs),
        "products": len(files),
        "total_bytes": sum(files),
        "by_collection": Counter(c for c, _, _ in obs),
        "by_instrument": Counter((c, i or None) for c, i, _ in obs),
        "by_program": Counter((p or None, c, titles.get(p)) for c, _, p in obs),
    }


def stored_figures(summary: ArchiveSummary) -> dict[str, Any]:
    return {
        "observations": summary.observations,
        "products": summary.products,
        "total_bytes": summary.total_bytes,
        "by_collection": Counter(dict(summary.by_collection)),
        "by_instrument": Counter({(c, i): n for c, i, n in summary.by_instrument}),
        "by_program": Counter({(p, c, t): n for p, c, t, n in summary.by_program}),
    }


#: The facet columns the portal's stored counts group by program (schema 0032).
_FEW_FACETS = ("obs_collection", "instrument_name", "calib_level", "filters", "dataproduct_type",
               "wavelength_region", "intentType")  # fmt: skip


def fresh_facet_rows(engine: Engine) -> dict[str, Counter[tuple]]:
    """The portal's facet combinations per program, and targets per program, counted here
    from every observation row."""
    with engine.connect() as conn:
        rows = [row._mapping for row in conn.execute(select(observations))]
    return {
        "facets": Counter(tuple(r[c] for c in ("proposal_id", *_FEW_FACETS)) for r in rows),
        "targets": Counter((r["proposal_id"], r["target_name"]) for r in rows),
        # per 64-day bucket of the release date (schema 0040), NULL without one
        "releases": Counter(
            (r["proposal_id"], _bucket(r["t_obs_release"]), *(r[c] for c in _FEW_FACETS))
            for r in rows
        ),
        "release_targets": Counter(
            (r["proposal_id"], _bucket(r["t_obs_release"]), r["target_name"]) for r in rows
        ),
    }


def _bucket(release: float | None) -> int | None:
    return None if release is None else math.floor(release / 64)


def stored_facet_rows(engine: Engine) -> dict[str, Counter[tuple]]:
    stored: dict[str, Counter[tuple]] = {}
    with engine.connect() as conn:
        for name, table in (("facets", summary_facets), ("targets", summary_targets),
                            ("releases", summary_releases),
                            ("release_targets", summary_release_targets)):  # fmt: skip
            counts: Counter[tuple] = Counter()
            for *key, n in conn.execute(select(table)):
                assert tuple(key) not in counts, f"{name}: {key} stored twice"
                counts[tuple(key)] = n
            stored[name] = counts
    return stored


def assert_true_figures(engine: Engine) -> None:
    assert stored_figures(archive_summary(engine)) == fresh_figures(engine)
    assert stored_facet_rows(engine) == fresh_facet_rows(engine)


def write_manifest(folder: Path, name: str, observations_: list[dict[str, Any]]) -> Path:
    """A manifest whose products are small files written beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    for obs in observations_:
        for product in obs.get("products", []):
            (folder / product["file"]).write_bytes(product.pop("content"))
    path = folder / f"{name}.skyarchive.json"
    path.write_text(json.dumps({"skyarchive_manifest": 1, "observations": observations_}))
    return path


def ingest(archive: Archive, *paths: Path) -> None:
    report = ingest_paths(
        list(paths), engine=archive.engine, storage=archive.storage, default_eap_months=12
    )
    assert report.ok, report.failed


def test_an_empty_archive_holds_nothing(archive: Archive) -> None:
    summary = archive_summary(archive.engine)
    assert (summary.observations, summary.products, summary.total_bytes) == (0, 0, 0)
    assert summary.by_collection == summary.by_instrument == summary.by_program == []


def test_figures_follow_ingest_and_moves_between_programs(  # type: ignore[no-untyped-def]
    archive: Archive, demo_output, tmp_path: Path
) -> None:
    out, _ = demo_output
    ingest(archive, Path(out))
    assert_true_figures(archive.engine)
    assert archive_summary(archive.engine).observations > 0

    def hst(proposal: str | None, instrument: str | None, file: str, size: int) -> dict[str, Any]:
        product = {"file": file, "content": b"x" * size}
        return {"obs_id": "ib0101010", "obs_collection": "HST", "proposal_id": proposal,
                "instrument_name": instrument, "products": [product]}  # fmt: skip

    before = archive_summary(archive.engine)
    ingest(
        archive,
        write_manifest(
            tmp_path / "a", "first", [hst("9001", "WFC3/UVIS", "ib0101010_drz.dat", 10)]
        ),
    )
    assert_true_figures(archive.engine)
    after = archive_summary(archive.engine)
    assert after.observations == before.observations + 1
    assert after.total_bytes == before.total_bytes + 10
    # the observation moves to another program, loses its instrument and gains a file; its
    # first file stays where it was (a file is moved only by a newer version of it)
    ingest(
        archive,
        write_manifest(tmp_path / "b", "moved", [hst("9002", None, "ib0101010_flt.dat", 15)]),
    )
    assert_true_figures(archive.engine)
    moved = archive_summary(archive.engine)
    assert moved.observations == after.observations and moved.total_bytes == after.total_bytes + 15
    assert "9001" not in {p for p, *_ in moved.by_program}  # it has no observation left
    # and then to no program at all
    ingest(
        archive, write_manifest(tmp_path / "c", "none", [hst(None, None, "ib0101010_raw.dat", 5)])
    )
    assert_true_figures(archive.engine)


_observation = st.fixed_dictionaries(
    {
        "obs_id": st.sampled_from(["o1", "o2", "o3"]),
        "obs_collection": st.sampled_from(["HST", "TESS"]),
        "proposal_id": st.sampled_from(["1", "2", "", None]),
        "instrument_name": st.sampled_from(["ACS", "WFC3", None]),
        "products": st.lists(
            st.fixed_dictionaries(
                {
                    "file": st.sampled_from(["f1.dat", "f2.dat", "f3.dat"]),
                    "content": st.binary(min_size=0, max_size=40),
                }
            ),
            max_size=2,
            unique_by=lambda p: p["file"],
        ),
    }
)
_manifest = st.lists(_observation, min_size=1, max_size=3, unique_by=lambda o: o["obs_id"])


@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=st.lists(_manifest, min_size=1, max_size=3))
def test_stored_figures_equal_a_fresh_count_after_any_manifests(  # type: ignore[no-untyped-def]
    archive: Archive, tmp_path_factory, batches
) -> None:
    """Observations and files added, replaced, moved between programs and collections, and
    manifests refused (a file name already held by another observation): always true."""
    folder = tmp_path_factory.mktemp("manifests")
    for index, batch in enumerate(batches):
        files = {p["file"] for obs in batch for p in obs["products"]}
        if len(files) < sum(len(obs["products"]) for obs in batch):
            continue  # one file described by two observations of a manifest: not our question
        path = write_manifest(folder / str(index), f"m{index}", batch)
        ingest_paths([path], engine=archive.engine, storage=archive.storage, default_eap_months=12)
        assert_true_figures(archive.engine)


def test_the_largest_programs_are_listed_and_all_are_counted(  # type: ignore[no-untyped-def]
    archive: Archive, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(summary_module, "LISTED_PROGRAMS", 2)
    sizes = {"101": 1, "102": 4, "103": 2, "104": 3}
    observations_ = [
        {"obs_id": f"o{program}-{i}", "obs_collection": "HST", "proposal_id": program}
        for program, size in sizes.items()
        for i in range(size)
    ]
    ingest(archive, write_manifest(tmp_path, "programs", observations_))
    figures = archive_summary(archive.engine)
    assert figures.programs == 4
    assert figures.by_program == [("102", "HST", None, 4), ("104", "HST", None, 3)]
    assert figures.observations == sum(sizes.values())  # the totals still count every program


def test_concurrent_writers_of_a_new_program_recount_in_turn(postgres_url: str) -> None:
    """The second writer waits for the first, then counts both rows (PostgreSQL)."""
    engine = make_engine(postgres_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(programs.insert().values(proposal_id="77", obs_collection="HST"))

    def write(conn: Connection, obs_id: str) -> None:
        conn.execute(observations.insert().values(obs_id=obs_id, obs_collection="HST",
                                                  proposal_id="77"))  # fmt: skip
        refresh_summary(conn, ["77"])

    errors: list[BaseException] = []

    def second_writer() -> None:
        try:
            with engine.begin() as conn:
                write(conn, "b")
        except BaseException as exc:  # noqa: BLE001  (reported by the test)
            errors.append(exc)

    with engine.connect() as first:
        transaction = first.begin()
        write(first, "a")
        thread = threading.Thread(target=second_writer)
        thread.start()
        thread.join(timeout=1.0)
        assert thread.is_alive(), "the second writer did not wait for the first"
        transaction.commit()
    thread.join(timeout=30)
    assert not thread.is_alive() and errors == []
    assert_true_figures(engine)
    assert archive_summary(engine).by_program == [("77", "HST", None, 2)]
    engine.dispose()


def test_figures_follow_a_reprocessed_file(archive: Archive, demo_output, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A newer version of a file (later FITS DATE) replaces it and rebuilds its observation."""
    program = copy_program(Path(demo_output[0]), "jw01366", tmp_path / "first")
    ingest(archive, program)
    before = archive_summary(archive.engine)
    calibrated = sorted(program.rglob("*_cal.fits"))[0]
    newer = with_date(calibrated, tmp_path / "again" / calibrated.name, "2099-01-01T00:00:00",
                      EXP_TYPE="MIR_IMAGE", INSTRUME="MIRI")  # fmt: skip
    report = ingest_paths(
        [newer.parent], engine=archive.engine, storage=archive.storage, default_eap_months=12
    )
    assert report.ok and report.replaced == 1, report
    assert_true_figures(archive.engine)
    assert archive_summary(archive.engine).observations == before.observations
