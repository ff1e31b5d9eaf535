"""The shape cache of the TAP service (``vo/adql_shapes.py``), in process on the demo archive.

A query is translated once per shape (its text with the numbers abstracted); later queries of
the shape bind their own numbers. Every answer served from a kept statement is checked against
the answer of a fresh translation (the cache emptied) and, for cones, against astropy's
separations over all rows.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import astropy.units as u
import pytest
from astropy.coordinates import SkyCoord
from astropy.io.votable import parse_single_table
from astropy.table import Table

from skyarchive.access.policy import ANONYMOUS, Caller
from skyarchive.archive import Archive
from skyarchive.errors import BadQuery
from skyarchive.sky.cells import cone_ranges
from skyarchive.vo import tap
from skyarchive.vo.adql_shapes import ShapeCache, shape_of
from skyarchive.vo.tap import SHAPES, execute_adql

M57 = (283.396, 33.029)


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    SHAPES.clear()
    yield
    SHAPES.clear()


@pytest.fixture
def translations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The queries translated anew (not served from a kept statement)."""
    seen: list[str] = []
    translate = tap.translate

    def counting(adql: str, **kw: object) -> object:
        seen.append(adql)
        return translate(adql, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(tap, "translate", counting)
    return seen


def answer(archive: Archive, adql: str, caller: Caller = ANONYMOUS) -> bytes:
    return execute_adql(archive, caller, adql, maxrec=100_000, response_format="votable",
                        base_url="http://archive.test").body  # fmt: skip


def fresh(archive: Archive, adql: str, caller: Caller = ANONYMOUS) -> bytes:
    """The answer of a translation made for this query alone (nothing kept before or after)."""
    SHAPES.clear()
    body = answer(archive, adql, caller)
    SHAPES.clear()
    return body


def table(body: bytes) -> Table:
    return parse_single_table(io.BytesIO(body)).to_table()


def cone(ra: float, dec: float, radius: float) -> str:
    return ("SELECT obs_publisher_did, s_ra, s_dec, data_rights FROM ivoa.obscore WHERE "
            "CONTAINS(POINT('ICRS', s_ra, s_dec), "
            f"CIRCLE('ICRS', {ra!r}, {dec!r}, {radius!r})) = 1")  # fmt: skip


def test_the_shape_abstracts_numbers_only() -> None:
    shape = shape_of("SELECT TOP 5 s_ra, \"x1\" FROM t2 WHERE a > 1.5e3 AND b = '7' -- 9\n")
    assert shape.key == "SELECT TOP #i s_ra, \"x1\" FROM t2 WHERE a > #f AND b = '7' -- 9\n"
    assert shape.numbers == (5, 1500.0)
    assert shape_of("SELECT 1 FROM t").key != shape_of("SELECT 1.0 FROM t").key  # types differ


def test_cones_of_one_shape_bind_their_numbers(
    demo_archive_copy: Archive, translations: list[str]
) -> None:
    every = table(
        answer(demo_archive_copy, "SELECT obs_publisher_did, s_ra, s_dec FROM ivoa.obscore")
    )
    positions = SkyCoord(every["s_ra"], every["s_dec"], unit="deg")
    centres = [(M57[0] + 0.02 * i, M57[1] - 0.015 * i) for i in range(-4, 5)] + [(10.0, -10.0)]
    translations.clear()
    kept = [answer(demo_archive_copy, cone(ra, dec, 0.05)) for ra, dec in centres]
    # one translation per count of cell ranges (the statement's form); the rest bind numbers
    forms = {len(cone_ranges(ra, dec, 0.05)) for ra, dec in centres[:-1]}
    assert len(translations) == len(forms) + 1 < len(centres)  # -10.0 is another shape: "- #f"
    for (ra, dec), body in zip(centres, kept, strict=True):
        near = SkyCoord(ra, dec, unit="deg").separation(positions) < 0.05 * u.deg
        assert set(table(body)["obs_publisher_did"]) == set(every["obs_publisher_did"][near])
        assert body == fresh(demo_archive_copy, cone(ra, dec, 0.05))
    assert sum(len(table(body)) > 0 for body in kept) >= 3  # rows, not only empty answers


def test_numbers_the_statement_was_made_for_are_not_rebound(demo_archive_copy: Archive) -> None:
    top = "SELECT TOP {} obs_id FROM ivoa.obscore ORDER BY obs_id"
    assert len(table(answer(demo_archive_copy, top.format(3)))) == 3
    assert len(table(answer(demo_archive_copy, top.format(5)))) == 5
    inside = answer(demo_archive_copy, cone(*M57, 0.05))
    outside = answer(demo_archive_copy, cone(*M57, 0.05).replace(") = 1", ") = 0"))
    assert outside == fresh(demo_archive_copy, cone(*M57, 0.05).replace(") = 1", ") = 0"))
    ids_in = set(table(inside)["obs_publisher_did"])
    ids_out = set(table(outside)["obs_publisher_did"])
    assert ids_in and ids_out and not ids_in & ids_out
    a_polygon = ("SELECT obs_publisher_did FROM ivoa.obscore WHERE CONTAINS(POINT(s_ra, s_dec), "
                 "POLYGON({}, 32.95, 283.5, 32.95, 283.5, 33.1, 283.3, 33.1)) = 1")  # fmt: skip
    for west in (283.3, 283.45):
        query = a_polygon.format(west)
        assert answer(demo_archive_copy, query) == fresh(demo_archive_copy, query)


def test_bad_numbers_in_a_kept_shape_say_what_is_wrong(demo_archive_copy: Archive) -> None:
    answer(demo_archive_copy, cone(*M57, 0.05))
    with pytest.raises(BadQuery) as kept:
        answer(demo_archive_copy, cone(M57[0], 95.0, 0.05))
    SHAPES.clear()
    with pytest.raises(BadQuery) as translated:
        answer(demo_archive_copy, cone(M57[0], 95.0, 0.05))
    assert str(kept.value) == str(translated.value)


def test_the_moment_and_the_caller_are_never_kept(
    demo_archive_copy: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kept statement takes the moment at each execution (an exclusive row turns public when
    its release date passes), and serves every caller what a fresh translation would."""
    query = ("SELECT o.t_obs_release, c.data_rights FROM ivoa.obscore AS c JOIN "
             "jwst.observations AS o ON o.obs_id = c.obs_id "
             "WHERE o.t_obs_release > {}")  # fmt: skip
    releases = table(answer(demo_archive_copy, query.format(0)))["t_obs_release"]
    moment = float(max(releases))  # the last release; before it some rows are exclusive
    monkeypatch.setattr(tap, "now_mjd", lambda: moment - 1.0)
    before = table(answer(demo_archive_copy, query.format(1)))
    assert "proprietary" in set(before["data_rights"])
    monkeypatch.setattr(tap, "now_mjd", lambda: moment + 1.0)
    after = table(answer(demo_archive_copy, query.format(2)))
    assert set(after["data_rights"]) == {"public"}
    insider = Caller(user_id=7, programs=frozenset({"1001", "2001", "3001"}), via_token=True)
    for caller in (insider, ANONYMOUS):
        body = answer(demo_archive_copy, query.format(3), caller)
        assert body == fresh(demo_archive_copy, query.format(3), caller)


def test_footprint_tests_read_the_database_each_time(demo_archive_copy: Archive) -> None:
    query = ("SELECT obs_publisher_did FROM ivoa.obscore "
             f"WHERE INTERSECTS(s_region, CIRCLE({M57[0]}, {M57[1]}, 0.01)) = 1")  # fmt: skip
    answer(demo_archive_copy, query)
    assert len(SHAPES) == 0  # its matches were found while translating: never reused


def test_the_cache_keeps_a_bounded_number_of_statements() -> None:
    cache = ShapeCache(size=4, variants=2)
    for n in range(3):
        cache.put("a", n)
    assert cache.get("a") == [2, 1]  # newest first, at most two a shape
    cache.put("b", 0)
    cache.put("c", 0)
    cache.get("a")  # used: "b" is now the least recently used
    cache.put("d", 0)
    assert cache.get("b") == [] and cache.get("a") == [2, 1]
    assert len(cache) == 3  # a (2) + c + d = 4 statements
