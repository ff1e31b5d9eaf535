"""ADQL through the translator, on SQLite and PostgreSQL, over the demo archive (in-process).

Every expected set comes from another way of asking: positions tested by astropy's
``separation`` over all rows, footprints by the exact distance of ``sky.regions`` over all rows
(no cell index), counts and joins by plain SQLAlchemy over the catalog tables.
"""

from __future__ import annotations

import dataclasses
import io
from collections import Counter
from xml.etree import ElementTree

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io.votable import parse_single_table
from astropy.table import Table
from astropy.time import Time
from sqlalchemy import func, select

from skyarchive.access.policy import ANONYMOUS
from skyarchive.access.rights import now_mjd
from skyarchive.archive import Archive
from skyarchive.db.tables import observations, products
from skyarchive.errors import BadQuery, PayloadTooLarge, UnknownColumn
from skyarchive.sky.regions import Polygon, distances_arcsec, parse_s_region
from skyarchive.vo.registry import registry_record
from skyarchive.vo.tap import execute_adql

M57 = (283.396, 33.029)


def run(archive: Archive, adql: str, *, maxrec: int | None = 100_000, fmt: str = "votable",
        **kw: object) -> Table:  # fmt: skip
    answer = execute_adql(archive, ANONYMOUS, adql, maxrec=maxrec, response_format=fmt,
                          base_url="http://archive.test", **kw)  # type: ignore[arg-type]  # fmt: skip
    return parse_single_table(io.BytesIO(answer.body)).to_table()


def all_rows(archive: Archive) -> Table:
    return run(archive, "SELECT obs_publisher_did, obs_id, s_ra, s_dec, s_region FROM ivoa.obscore")


def test_obscore_has_a_row_per_science_product_level(demo_archive_copy: Archive) -> None:
    table = run(
        demo_archive_copy, "SELECT obs_id, calib_level, obs_publisher_did FROM ivoa.obscore"
    )
    with demo_archive_copy.engine.connect() as conn:
        levels = set(
            conn.execute(
                select(observations.c.obs_id, products.c.calib_level)
                .join(products, products.c.owner_obsid == observations.c.obsid)
                .where(products.c.productType == "SCIENCE", observations.c.status == "executed")
                .distinct()
            ).all()
        )
    assert {(r["obs_id"], int(r["calib_level"])) for r in table} == levels
    assert len(table) == len(levels)  # one row each
    assert len(set(table["obs_publisher_did"])) == len(table)


def test_a_cone_on_positions_matches_astropy(demo_archive_copy: Archive) -> None:
    every = all_rows(demo_archive_copy)
    centre = SkyCoord(*M57, unit="deg")
    near = centre.separation(SkyCoord(every["s_ra"], every["s_dec"], unit="deg")) < 0.05 * u.deg
    expected = set(every["obs_publisher_did"][near])
    assert 0 < len(expected) < len(every)
    got = run(
        demo_archive_copy,
        "SELECT obs_publisher_did FROM ivoa.obscore WHERE "
        f"1 = CONTAINS(POINT('ICRS', s_ra, s_dec), CIRCLE('ICRS', {M57[0]}, {M57[1]}, 0.05))",
    )
    assert set(got["obs_publisher_did"]) == expected
    by_distance = run(
        demo_archive_copy,
        "SELECT obs_publisher_did FROM ivoa.obscore "
        f"WHERE DISTANCE(POINT(s_ra, s_dec), POINT({M57[0]}, {M57[1]})) < 0.05",
    )
    assert set(by_distance["obs_publisher_did"]) == expected


def test_footprints_touching_a_circle_match_the_exact_distance(demo_archive_copy: Archive) -> None:
    every = all_rows(demo_archive_copy)
    distances = distances_arcsec([parse_s_region(t) for t in every["s_region"]], *M57)
    expected = set(every["obs_publisher_did"][distances <= 0.01 * 3600])
    assert expected
    got = run(
        demo_archive_copy,
        "SELECT obs_publisher_did, s_region FROM ivoa.obscore "
        f"WHERE INTERSECTS(s_region, CIRCLE({M57[0]}, {M57[1]}, 0.01)) = 1",
    )
    assert set(got["obs_publisher_did"]) == expected
    assert all(str(t).startswith("POLYGON ICRS") for t in got["s_region"])


def test_a_polygon_on_positions_and_on_footprints(demo_archive_copy: Archive) -> None:
    corners = (283.3, 32.95, 283.5, 32.95, 283.5, 33.1, 283.3, 33.1)
    shape = Polygon(tuple(zip(corners[0::2], corners[1::2], strict=True)))
    every = all_rows(demo_archive_copy)
    inside = [distances_arcsec([shape], ra, dec)[0] == 0 for ra, dec in zip(
        every["s_ra"], every["s_dec"], strict=True)]  # fmt: skip
    listed = ", ".join(str(c) for c in corners)
    points = run(
        demo_archive_copy,
        "SELECT obs_publisher_did FROM ivoa.obscore "
        f"WHERE CONTAINS(POINT(s_ra, s_dec), POLYGON({listed})) = 1",
    )
    assert set(points["obs_publisher_did"]) == set(every["obs_publisher_did"][np.array(inside)])
    footprints = run(
        demo_archive_copy,
        "SELECT obs_publisher_did FROM ivoa.obscore "
        f"WHERE INTERSECTS(s_region, POLYGON({listed})) = 1",
    )
    # every footprint whose centre is inside touches the polygon; a few more may cross its edge
    assert set(points["obs_publisher_did"]) <= set(footprints["obs_publisher_did"])


def test_criteria_order_top_offset_and_aggregates(demo_archive_copy: Archive) -> None:
    with demo_archive_copy.engine.connect() as conn:
        by_instrument = Counter(
            dict(
                conn.execute(
                    select(observations.c.instrument_name, func.count()).group_by(
                        observations.c.instrument_name
                    )
                ).all()
            )  # fmt: skip
        )
    counted = run(
        demo_archive_copy,
        "SELECT instrument_name, COUNT(*) AS n FROM jwst.observations "
        "GROUP BY instrument_name ORDER BY n DESC, instrument_name",
    )
    assert {r["instrument_name"]: int(r["n"]) for r in counted} == {
        k: v for k, v in by_instrument.items() if k is not None
    } | ({} if None not in by_instrument else {"": by_instrument[None]})
    ordered = run(demo_archive_copy, "SELECT obs_id FROM jwst.observations ORDER BY obs_id")
    page = run(
        demo_archive_copy, "SELECT TOP 3 obs_id FROM jwst.observations ORDER BY obs_id OFFSET 2"
    )
    assert list(page["obs_id"]) == list(ordered["obs_id"][2:5])


def test_like_keeps_case_and_ilike_ignores_it(demo_archive_copy: Archive) -> None:
    exact = run(
        demo_archive_copy, "SELECT obs_id FROM jwst.observations WHERE target_name LIKE 'NGC%'"
    )
    lower = run(
        demo_archive_copy, "SELECT obs_id FROM jwst.observations WHERE target_name LIKE 'ngc%'"
    )
    folded = run(demo_archive_copy,
                 "SELECT obs_id FROM jwst.observations WHERE target_name ILIKE 'ngc%'")  # fmt: skip
    upper = run(demo_archive_copy, "SELECT obs_id FROM jwst.observations "
                "WHERE UPPER(target_name) LIKE 'NGC%'")  # fmt: skip
    assert len(exact) > 0 and len(lower) == 0
    assert set(folded["obs_id"]) == set(exact["obs_id"]) == set(upper["obs_id"])


def test_a_join_between_products_and_observations(demo_archive_copy: Archive) -> None:
    with demo_archive_copy.engine.connect() as conn:
        expected = conn.execute(
            select(func.count())
            .select_from(
                products.join(observations, products.c.owner_obsid == observations.c.obsid)
            )
            .where(observations.c.proposal_id == "1558")
        ).scalar_one()
    got = run(
        demo_archive_copy,
        'SELECT COUNT(*) AS n, SUM(p."size") AS total FROM jwst.products AS p '
        "JOIN jwst.observations AS o ON p.owner_obsid = o.obsid WHERE o.proposal_id = '1558'",
    )
    assert int(got["n"][0]) == expected > 0


def test_data_rights_follow_the_release_dates(demo_archive_copy: Archive) -> None:
    table = run(demo_archive_copy,
                "SELECT o.t_obs_release, c.data_rights, c.obs_release_date FROM ivoa.obscore AS c "
                "JOIN jwst.observations AS o ON o.obs_id = c.obs_id")  # fmt: skip
    now = now_mjd()
    rights = {("public" if r["t_obs_release"] <= now else "proprietary") for r in table}
    assert rights == {"public", "proprietary"}  # the demo has a program still exclusive
    for row in table:
        assert row["data_rights"] == ("public" if row["t_obs_release"] <= now else "proprietary")
        assert abs(Time(row["obs_release_date"], format="isot").mjd - row["t_obs_release"]) < 1e-6


def test_maxrec_marks_an_overflow_and_zero_gives_columns_only(demo_archive_copy: Archive) -> None:
    answer = execute_adql(demo_archive_copy, ANONYMOUS, "SELECT obs_id FROM ivoa.obscore",
                          maxrec=3, response_format="votable", base_url="http://a")  # fmt: skip
    assert answer.rows == 3 and answer.overflow
    assert answer.body.index(b'value="OVERFLOW"') > answer.body.index(b"</TABLE>")
    empty = execute_adql(demo_archive_copy, ANONYMOUS, "SELECT obs_id, s_ra FROM ivoa.obscore",
                         maxrec=0, response_format="votable/td", base_url="http://a")  # fmt: skip
    table = parse_single_table(io.BytesIO(empty.body))
    assert [f.name for f in table.fields] == ["obs_id", "s_ra"] and len(table.array) == 0
    top = execute_adql(demo_archive_copy, ANONYMOUS, "SELECT TOP 3 obs_id FROM ivoa.obscore",
                       maxrec=3, response_format="csv", base_url="http://a")  # fmt: skip
    assert top.rows == 3 and not top.overflow


@pytest.mark.parametrize(
    ("adql", "error", "words"),
    [
        ("SELECT obs_idd FROM ivoa.obscore", UnknownColumn, "Did you mean 'obs_id'"),
        ("SELECT * FROM ivoa.obscor", UnknownColumn, "Did you mean 'ivoa.obscore'"),
        ("SELECT TOP 1 * FROM observations; DROP TABLE users", BadQuery, "syntax error"),
        ("SELECT FROM ivoa.obscore", BadQuery, "syntax error"),
        ("SELECT storage_key FROM jwst.products", UnknownColumn, "Unknown column"),
        ("SELECT password_hash FROM users", UnknownColumn, "Unknown table"),
        ("SELECT obs_id FROM ivoa.obscore WHERE access_url = 'x'", BadQuery, "obs_publisher_did"),
        ("SELECT obs_id FROM ivoa.obscore WHERE s_region = 'x'", BadQuery, "INTERSECTS"),
        ("SELECT SLEEP(1) FROM ivoa.obscore", UnknownColumn, "Unknown function"),
        ("SELECT obs_id FROM ivoa.obscore WHERE CONTAINS(POINT(s_ra, s_dec), "
         "CIRCLE(10, 95, 1)) = 1", BadQuery, "Circle centre"),
        ("SELECT obs_id FROM ivoa.obscore WHERE obs_id", BadQuery, "condition"),
    ],
)  # fmt: skip
def test_bad_adql_is_a_clear_400(
    demo_archive_copy: Archive, adql: str, error: type[Exception], words: str
) -> None:
    with pytest.raises(error) as raised:
        run(demo_archive_copy, adql)
    assert words in str(raised.value)
    assert getattr(raised.value, "status", None) == 400


HEAVY = ("SELECT COUNT(*) FROM ivoa.obscore AS a, ivoa.obscore AS b, ivoa.obscore AS c, "
         "jwst.products AS d WHERE a.s_ra + b.s_ra > c.s_dec")  # fmt: skip


def test_a_query_past_its_time_is_stopped(demo_archive_copy: Archive) -> None:
    with pytest.raises(PayloadTooLarge, match="longer than"):
        run(demo_archive_copy, HEAVY, timeout_seconds=0.2)
    # the connection goes back to the pool fit for the next query
    assert len(run(demo_archive_copy, "SELECT TOP 1 obs_id FROM ivoa.obscore")) == 1


def test_the_synchronous_limits_are_settings(demo_archive_copy: Archive) -> None:
    settings = demo_archive_copy.settings.model_copy(
        update={"tap_sync_maxrec": 3, "tap_sync_timeout_seconds": 0.2}
    )
    archive = dataclasses.replace(demo_archive_copy, settings=settings)
    answer = execute_adql(archive, ANONYMOUS, "SELECT obs_id FROM ivoa.obscore", maxrec=10,
                          response_format="csv", base_url="http://archive.test")  # fmt: skip
    assert (answer.rows, answer.overflow) == (3, True)
    with pytest.raises(PayloadTooLarge, match="longer than 0.2 s"):
        execute_adql(archive, ANONYMOUS, HEAVY, maxrec=10, response_format="csv",
                     base_url="http://archive.test")  # fmt: skip
    record = ElementTree.fromstring(
        registry_record(settings, base_url="http://a.test", moc_ascii="")
    )
    assert [e.text for e in record.iter() if e.tag.rsplit("}", 1)[-1] == "hard"] == ["3"]


def test_tap_schema_describes_every_obscore_column(demo_archive_copy: Archive) -> None:
    described = run(demo_archive_copy, "SELECT column_name, datatype, unit, ucd FROM "
                    "TAP_SCHEMA.columns WHERE table_name = 'ivoa.obscore'")  # fmt: skip
    answer = execute_adql(demo_archive_copy, ANONYMOUS, "SELECT TOP 1 * FROM ivoa.obscore",
                          maxrec=1, response_format="votable", base_url="http://a")  # fmt: skip
    fields = parse_single_table(io.BytesIO(answer.body)).fields
    assert [f.name for f in fields] == list(described["column_name"])
    for field, row in zip(fields, described, strict=True):
        assert field.datatype == row["datatype"]
        assert (str(field.unit) if field.unit else "") == (row["unit"] or "")
        assert field.ucd == (row["ucd"] or None)
    mandatory = {"dataproduct_type", "calib_level", "obs_collection", "obs_id",
                 "obs_publisher_did", "access_url", "access_format", "access_estsize",
                 "target_name", "s_ra", "s_dec", "s_fov", "s_region", "s_resolution", "s_xel1",
                 "s_xel2", "t_min", "t_max", "t_exptime", "t_resolution", "t_xel", "em_min",
                 "em_max", "em_res_power", "em_xel", "o_ucd", "pol_states", "pol_xel",
                 "facility_name", "instrument_name"}  # fmt: skip
    assert mandatory <= set(described["column_name"])
