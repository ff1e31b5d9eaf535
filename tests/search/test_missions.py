"""MastMissions' condition language, in process (the live-server tests are in tests/e2e)."""

from __future__ import annotations

import pytest

from skyarchive.errors import BadQuery, UnknownColumn
from skyarchive.search.missions import output_columns, parse_conditions

KEYS = ("program", "instrume", "pi_name", "date_obs")
ROWS = [
    dict(zip(KEYS, (1073, "NIRCAM", "Nguyen, Lan", "2022-05-11T14:30:22.0000000"), strict=True)),
    dict(zip(KEYS, (1558, "MIRI", "Wesson, Roger", "2022-07-01T00:00:00.0000000"), strict=True)),
    dict(zip(KEYS, (4567, None, "Rivera, Ana", None), strict=True)),
]


def kept(condition: dict) -> list[int]:
    conditions = parse_conditions([condition])
    return [row["program"] for row in ROWS if all(c.matches(row) for c in conditions)]


@pytest.mark.parametrize(
    ("condition", "programs"),
    [
        ({"program": 1558}, [1558]),
        ({"program": "1073,4567"}, [1073, 4567]),
        ({"program": "1000..2000"}, [1073, 1558]),
        ({"program": ">=1558"}, [1558, 4567]),
        ({"program": "!1073"}, [1558, 4567]),
        ({"program": "1073,1558,!1558"}, [1073]),
        ({"instrume": "nircam"}, [1073]),
        ({"instrume": "!NIRCAM"}, [1558, 4567]),
        ({"instrume": "N*"}, [1073]),
        ({"pi_name": "wesson, rivera"}, [1558, 4567]),
        ({"date_obs": "<2022-06"}, [1073]),
        ({"date_obs": "2022-07-01"}, [1558]),
        ({"date_obs": "2022-05-01..2022-12-31"}, [1073, 1558]),
    ],
)
def test_condition_language(condition: dict, programs: list[int]) -> None:
    assert kept(condition) == programs


@pytest.mark.parametrize(
    "conditions",
    [[{"program": "abc"}], [{"program": "1..x"}], [{"date_obs": "soon"}], [{"ang_sep": "<1"}],
     [{"program": ""}], [{"program": None}], "program=1", [["program", 1]]],
)  # fmt: skip
def test_bad_conditions_are_bad_queries(conditions: object) -> None:
    with pytest.raises(BadQuery):
        parse_conditions(conditions)


ACCESS_ROWS = [{"access": "PUBLIC"}, {"access": "EXCLUSIVE_ACCESS"}]


@pytest.mark.parametrize(
    ("value", "rights"),
    [("PUBLIC", ["PUBLIC"]), (" exclusive_access ", ["EXCLUSIVE_ACCESS"]),
     ("public,Exclusive_Access", ["PUBLIC", "EXCLUSIVE_ACCESS"]),
     (["PUBLIC", "EXCLUSIVE_ACCESS"], ["PUBLIC", "EXCLUSIVE_ACCESS"]),
     ("!public", ["EXCLUSIVE_ACCESS"]), ("excl*", ["EXCLUSIVE_ACCESS"]), ("*LIC", ["PUBLIC"]),
     ("*", ["PUBLIC", "EXCLUSIVE_ACCESS"]), ("*_*,!pub*", ["EXCLUSIVE_ACCESS"])],
)  # fmt: skip
def test_access_takes_the_rights(value: object, rights: list[str]) -> None:
    conditions = parse_conditions([{"access": value}])
    matched = [row for row in ACCESS_ROWS if all(c.matches(row) for c in conditions)]
    assert [row["access"] for row in matched] == rights


@pytest.mark.parametrize(
    "value",
    ["publik", "abc", 12, 2.5, "!publik", "PUBLIC,abc", "public,!x", "x*", "1..5", "<abc",
     "PUBLIC_", "!*x", True, None, {"min": 1}, [1, 2], "x" * 5000, "public\x00"],
)  # fmt: skip
def test_access_refuses_anything_but_the_rights(value: object) -> None:
    """Another value would match no dataset (negated, every one): refused, naming the two."""
    with pytest.raises(BadQuery, match=r"^access: .*PUBLIC or EXCLUSIVE_ACCESS"):
        parse_conditions([{"access": value}])


@pytest.mark.timeout(20)  # a guard, not a measure: matched against each right, 3 s a request
def test_a_long_access_value_is_refused_before_its_terms_are_matched() -> None:
    with pytest.raises(BadQuery, match=r"^access: .*PUBLIC or EXCLUSIVE_ACCESS"):
        parse_conditions([{"access": "*" * 8_000_000 + "x"}])


def test_unknown_column_names_the_closest() -> None:
    with pytest.raises(UnknownColumn, match="Did you mean 'program'"):
        parse_conditions([{"programme": 1}])


def test_select_cols_always_carry_the_id_and_footprint() -> None:
    names = [c.name for c in output_columns(["program"], positional=True)]
    assert names == ["ArchiveFileID", "s_region", "program"]


def test_datasets_and_their_files_on_each_database(demo_archive_copy) -> None:  # type: ignore[no-untyped-def]
    """The same search on SQLite and PostgreSQL; every file of program 1073 in one dataset."""
    from sqlalchemy import select

    from skyarchive.access.rights import now_mjd
    from skyarchive.db.tables import products
    from skyarchive.products.missions import dataset_products
    from skyarchive.search.missions import MissionQuery, search_datasets

    archive = demo_archive_copy
    query = MissionQuery(
        conditions=parse_conditions([{"program": "1073"}, {"instrume": "nircam"}]),
        columns=output_columns(None, positional=False),
    )
    with archive.engine.connect() as conn:
        page = search_datasets(conn, query, now=now_mjd())
        names = [row["fileSetName"] for row in page.rows]
        files = dataset_products(conn, names, now=now_mjd())
        of_program = set(
            conn.scalars(select(products.c.productFilename).where(products.c.proposal_id == "1073"))
        )
    assert page.total == len(page.rows) > 0
    assert {row["program"] for row in page.rows} == {1073}
    assert names == sorted(names)
    assert {f["dataset"] for f in files} == set(names)
    listed = {f["filename"] for f in files}
    assert len(listed) > len(names) and listed <= of_program
    assert all(f["filename"].startswith(f["dataset"] + "_") for f in files)
