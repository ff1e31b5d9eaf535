"""MastMissions reads only the files of datasets that may match, and gets the same answers.

The oracle is the whole archive read without narrowing, its datasets filtered in Python.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update

from skyarchive.access.rights import now_mjd
from skyarchive.db.tables import observations, products
from skyarchive.search.mission_files import dataset_files, exact_in_sql, files_query
from skyarchive.search.missions import (
    Cone,
    MissionQuery,
    _add_separations,
    column,
    datasets,
    output_columns,
    parse_conditions,
    search_datasets,
)

CONDITIONS = [
    [{"program": "1073"}],
    [{"program": "1558,4567"}, {"instrume": "MIRI"}],
    [{"instrume": "nir*"}, {"exp_type": "!NRC_IMAGE"}],
    [{"exp_type": "*IFU*,MIR_IMAGE"}],
    [{"targname": "*57*"}],
    [{"instrume": "NIRCAM,!NIRCAM"}],
    [{"program": "1000..2000"}, {"exp_type": "NIS_SOSS"}],
    [{"targname": "no such target"}],
    [{"exp_type": "!*image*"}, {"program": "!1558"}],
]
L3_NAME = re.compile(r"jw\d{5}-[a-z]\d+_[a-z]\d+_(nircam|niriss|nirspec|miri|fgs)")


@pytest.fixture
def demo(demo_archive_copy):  # type: ignore[no-untyped-def]
    return demo_archive_copy


def _answer(conn, conditions: list, cones: list[Cone]) -> list[tuple]:  # type: ignore[no-untyped-def]
    columns = output_columns(["*"], positional=bool(cones))
    query = MissionQuery(parse_conditions(conditions), cones, columns, limit=10**6)
    page = search_datasets(conn, query, now=now_mjd())
    return sorted(tuple(sorted(row.items(), key=lambda kv: kv[0])) for row in page.rows)


def test_narrowed_searches_answer_as_the_whole_archive_filtered(demo) -> None:  # type: ignore[no-untyped-def]
    now = now_mjd()
    with demo.engine.connect() as conn:
        every_file = conn.execute(select(products.c.product_id)).all()
        whole = list(datasets(dataset_files(conn), now=now))
        assert len(whole) > 10
        for raw in CONDITIONS:
            conditions = parse_conditions(raw)
            expected = [r for r in whole if all(c.matches(r) for c in conditions)]
            found = search_datasets(conn, MissionQuery(conditions=conditions,
                                    columns=output_columns(["*"], positional=False),
                                    limit=10**6), now=now)  # fmt: skip
            assert sorted(r["fileSetName"] for r in found.rows) == sorted(
                r["fileSetName"] for r in expected
            ), raw
            by_name = {r["fileSetName"]: r for r in expected}
            for row in found.rows:  # the same values: narrowing kept each dataset whole
                assert row["productLevel"] == by_name[row["fileSetName"]]["productLevel"]
                assert row["ArchiveFileID"] == by_name[row["fileSetName"]]["ArchiveFileID"]
        narrowed = list(dataset_files(conn, conditions=parse_conditions([{"program": "1073"}])))
        assert 0 < len(narrowed) < len(every_file)


@pytest.mark.parametrize("descending", [False, True])
def test_pages_the_database_cuts_are_the_oracle_s_pages(demo, descending: bool) -> None:  # type: ignore[no-untyped-def]
    """With every condition exact in SQL the database orders and cuts the page: the same
    rows, order and total as the whole archive filtered, sorted and sliced in Python."""
    now = now_mjd()
    columns = output_columns(["*"], positional=False)
    sort = {"sort_by": [column("fileSetName")], "sort_desc": [True]} if descending else {}
    with demo.engine.connect() as conn:
        whole = list(datasets(dataset_files(conn), now=now))
        for raw in ([], [{"program": "1073"}], [{"exp_type": "*IFU*,MIR_IMAGE"}],
                    [{"program": "1558,4567"}, {"instrume": "MIRI"}],
                    # negations too: files without the value stay, as the check keeps them
                    [{"instrume": "nir*"}, {"exp_type": "!NRC_IMAGE"}],
                    [{"exp_type": "!*IFU*,!MIR_IMAGE"}, {"program": "!1073"}]):  # fmt: skip
            conditions = parse_conditions(raw)
            assert all(exact_in_sql(c) for c in conditions), raw
            expected = sorted((r for r in whole if all(c.matches(r) for c in conditions)),
                              key=lambda r: r["fileSetName"], reverse=descending)  # fmt: skip
            assert expected, raw
            for offset, limit in ((0, 3), (2, 5), (len(expected) - 1, 10), (len(expected), 4)):
                query = MissionQuery(conditions=conditions, columns=columns, limit=limit,
                                     offset=offset, **sort)  # type: ignore[arg-type]  # fmt: skip
                page = search_datasets(conn, query, now=now)
                assert page.total == len(expected), raw
                shown = [{c.name: r.get(c.name) for c in columns}
                         for r in expected[offset : offset + limit]]  # fmt: skip
                assert page.rows == shown, (raw, offset, limit)


def test_guide_star_files_are_left_out_case_by_case(demo) -> None:  # type: ignore[no-untyped-def]
    """A guide star's files (subgroup ``GS-...``) belong to no dataset; the subgroup is
    compared case by case on both databases, as the keyword listing compares it (SQLite's
    ``LIKE`` would also leave out a subgroup ``gs-...``)."""
    p = products
    with demo.engine.connect() as conn, conn.begin():
        first, second, third = sorted({row.product_id for row in dataset_files(conn)})[:3]
        for product_id, subgroup in ((first, "gs-fg"), (second, "GS-FG"), (third, None)):
            conn.execute(update(p).where(p.c.product_id == product_id)
                         .values(productSubGroupDescription=subgroup))  # fmt: skip
        in_scope = {row.product_id for row in dataset_files(conn)}
        conn.rollback()
    # no subgroup (a manifest may give none): no guide star's file, so in a dataset
    assert first in in_scope and second not in in_scope and third in in_scope


def test_cone_prefilter_reads_a_part_and_matches_the_exact_test(demo) -> None:  # type: ignore[no-untyped-def]
    with demo.engine.connect() as conn:
        whole = list(dataset_files(conn))
        placed = [r for r in datasets(whole, now=now_mjd()) if r.get("s_region")]
        centre = placed[len(placed) // 2]
        ra, dec = centre["targ_ra"], centre["targ_dec"]
        for radius in (6.0, 120.0, 1800.0):
            cones = [Cone(ra, dec, radius, f"{ra} {dec}")]
            near = list(dataset_files(conn, cones=cones))
            assert len(near) <= len(whole)
            if radius == 6.0:
                assert 0 < len(near) < len(whole)
            narrowed = _answer(conn, [], cones)
            # The oracle: every dataset, kept by the exact footprint test alone.
            query = MissionQuery(cones=cones, columns=output_columns(["*"], positional=True),
                                 limit=10**6)  # fmt: skip
            rows = list(datasets(whole, now=now_mjd()))
            _add_separations(rows, query.cones)
            oracle = sorted(tuple(sorted(((k, r.get(k)) for k in {c.name for c in query.columns}),
                                         key=lambda kv: kv[0])) for r in rows)  # fmt: skip
            assert narrowed == oracle, radius


def test_level3_datasets_are_named_up_to_the_instrument(demo) -> None:  # type: ignore[no-untyped-def]
    with demo.engine.connect() as conn:
        rows = list(datasets(dataset_files(conn), now=now_mjd()))
        level3_obs = conn.scalars(
            select(observations.c.obs_id).where(
                observations.c.calib_level == 3, observations.c.obs_collection == "JWST"
            )
        ).all()
    level3 = [r for r in rows if r["productLevel"] == "3"]
    assert level3
    for row in level3:
        assert L3_NAME.fullmatch(row["fileSetName"]), row["fileSetName"]
        members = [o for o in level3_obs if o.startswith(row["fileSetName"] + "_")]
        assert members, row["fileSetName"]
        assert 1 <= len(row["opticalElements"].split(", ")) <= len(members)
    # Several CAOM level-3 observations (one per filter) make one dataset, as on MAST.
    assert any(len(r["opticalElements"].split(", ")) > 1 for r in level3)
    assert len(level3) < len(level3_obs)


def test_narrowing_is_served_by_indexes(demo) -> None:  # type: ignore[no-untyped-def]
    """EXPLAIN: a program reads its files by the proposal_id index; a cone goes from the cells
    index to the files of the observations found, then to their programs' files."""
    from tests.search.test_keyword_plans import _plan, _uses

    cone = [Cone(283.396, 33.029, 60.0, "283.396 33.029")]
    with demo.engine.begin() as conn:
        program = parse_conditions([{"program": "1073"}])
        by_program = _plan(conn, files_query(conn, conditions=program))
        by_cone = _plan(conn, files_query(conn, cones=cone))
    assert _uses(by_program, "ix_products_proposal_id"), by_program
    assert _uses(by_cone, "ix_products_owner_obsid"), by_cone
    assert _uses(by_cone, "ix_products_proposal_id"), by_cone
    assert _uses(by_cone, "footprint_cells"), by_cone


def test_optical_elements_of_nircam_exposures(demo) -> None:  # type: ignore[no-untyped-def]
    """A NIRCam exposure's short- and long-wave detectors see two filters: MAST lists both,
    as filter;pupil, comma-separated (its CHANNEL is no optical element)."""
    import json

    from skyarchive.db.tables import product_keywords

    with demo.engine.connect() as conn:
        rows = list(datasets(dataset_files(conn, conditions=parse_conditions(
            [{"instrume": "NIRCAM"}, {"exp_type": "NRC_IMAGE"}])), now=now_mjd()))  # fmt: skip
        headers = [json.loads(text) for name, text in conn.execute(
            select(products.c.productFilename, product_keywords.c.header)
            .join(product_keywords, product_keywords.c.product_id == products.c.product_id)
            .where(products.c.productFilename.like("jw%_cal.fits")))]  # fmt: skip
    exposures = [r for r in rows if r["productLevel"] != "3"]
    checked = 0
    for row in exposures:
        expected = {f"{h['FILTER']};{h['PUPIL']}" for h in headers
                    if h.get("EXP_TYPE") == "NRC_IMAGE"
                    and h["FILENAME"].startswith(row["fileSetName"])}  # fmt: skip
        if expected:
            assert set(row["opticalElements"].split(", ")) == expected, row["fileSetName"]
            checked += 1
    assert checked > 0
    assert any(", " in row["opticalElements"] for row in exposures)
