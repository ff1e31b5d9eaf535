"""Pages whose rows are read by obsid (``observations._rows_by_id``: a sorted page, a cone's
sorted page) and a cone's matches sorted by a column (``_sorted_matches``): the same rows, in
the order asked, as the whole unsorted answer sorted here, as dicts and as JSON, on both
databases (the ids bound as one value, the statement read on the driver's cursor)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from skyarchive.access.rights import now_mjd
from skyarchive.archive import Archive
from skyarchive.search.columns import observation_column
from skyarchive.search.cone import Cone
from skyarchive.search.criteria import parse_criteria
from skyarchive.search.observations import ObservationQuery, search_observations

M57 = Cone(283.396, 33.029, 3 / 60)
COLUMNS = ["obsid", "obs_id", "t_min", "instrument_name"]


def _rows(archive: Archive, query: ObservationQuery, as_json: bool) -> list[dict[str, Any]]:
    with archive.engine.connect() as conn:
        page = search_observations(conn, query, now=now_mjd(), as_json=as_json)
        return [json.loads(row) if as_json else dict(row) for row in page.rows]


def _sorted(rows: list[dict[str, Any]], descending: bool) -> list[dict[str, Any]]:
    """By t_min (then obsid), rows without one last, as the search orders them."""
    present = sorted((r for r in rows if r["t_min"] is not None), key=lambda r: r["obsid"])
    present.sort(key=lambda r: r["t_min"], reverse=descending)
    return present + sorted((r for r in rows if r["t_min"] is None), key=lambda r: r["obsid"])


#: Criteria of the kinds a sorted page's kept statement of ids binds: text values, numbers, a
#: range, a pattern (the demo has observations on either side of each).
CRITERIA = [
    {"paramName": "obs_collection", "values": ["JWST"]},
    {"paramName": "calib_level", "values": [2, 3]},
    {"paramName": "t_exptime", "values": [{"min": 10, "max": 1e6}]},
    {"paramName": "instrument_name", "values": ["NIRCAM*", "MIRI*"]},
]


@pytest.mark.parametrize("as_json", [False, True], ids=["dicts", "json"])
@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
@pytest.mark.parametrize("filters", [[], CRITERIA], ids=["everything", "criteria"])
@pytest.mark.parametrize("cone", [None, M57], ids=["anywhere", "cone"])
def test_a_sorted_page_reads_its_rows_by_obsid(
    demo_archive_copy: Archive,
    cone: Cone | None,
    filters: list[dict[str, Any]],
    descending: bool,
    as_json: bool,
) -> None:
    criteria = parse_criteria(filters, observation_column)
    whole = ObservationQuery(criteria=criteria, cone=cone, columns=COLUMNS)
    everything = _rows(demo_archive_copy, whole, as_json)
    assert len(everything) > 6
    if filters:  # the criteria leave some observations out, so a dropped clause is seen
        anywhere = ObservationQuery(cone=cone, columns=COLUMNS)
        assert len(_rows(demo_archive_copy, anywhere, as_json)) > len(everything)
    expected = _sorted(everything, descending)
    pages = []
    for page in (1, 2):
        query = ObservationQuery(criteria=criteria, cone=cone, columns=COLUMNS, sort="t_min",
                                 descending=descending, page=page, pagesize=3)  # fmt: skip
        pages += _rows(demo_archive_copy, query, as_json)
    strip = ("distance",)  # a cone's rows carry their distance, unsorted rows too
    assert [{k: v for k, v in r.items() if k not in strip} for r in pages] == [
        {k: v for k, v in r.items() if k not in strip} for r in expected[:6]
    ]
