"""The CSV and VOTable writers of the invoke service, in process, on awkward values."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc

from astropy.io.votable import parse as parse_votable

from skyarchive.api.mast.formats import table_pieces
from skyarchive.api.mast.registry import Fields, TableResult
from skyarchive.api.streaming import chunked
from skyarchive.search.columns import observation_column

FIELDS = [
    {"name": "target_name", "type": "string"},
    {"name": "s_ra", "type": "float"},
    {"name": "calib_level", "type": "int"},
    {"name": "mtFlag", "type": "boolean"},
]
ROWS = [
    {"target_name": "Müller's <b>&\x01\x0bbell\tcat\r\nend", "s_ra": 0.1 + 0.2,
     "calib_level": 3, "mtFlag": True},
    {"target_name": None, "s_ra": None, "calib_level": None, "mtFlag": None},
    {"target_name": 'say "hi", then', "s_ra": -1e-300, "calib_level": -1, "mtFlag": False},
]  # fmt: skip


def result() -> TableResult:
    columns = [observation_column(f["name"]) for f in FIELDS]
    return TableResult(Fields(FIELDS), ROWS, len(ROWS), 1, 50, columns=columns)


def written(fmt: str) -> bytes:
    return b"".join(chunked(table_pieces(fmt, result(), ROWS)))


def test_json_declares_the_fields_and_the_page_as_mast_does() -> None:
    body = written("json")
    answer = json.loads(body)
    assert answer["fields"] == FIELDS and answer["data"] == ROWS
    assert answer["paging"] == {"page": 1, "pageSize": 50, "pagesFiltered": 1, "rows": 3,
                                "rowsFiltered": 3, "rowsTotal": 3}  # fmt: skip
    assert list(answer) == ["status", "msg", "data", "fields", "paging"]
    # the fields written once and kept: the very bytes of the whole tail written at once
    tail = {"fields": FIELDS, "paging": answer["paging"]}
    assert body.endswith(b"], " + json.dumps(tail, separators=(",", ":")).encode()[1:])


def test_votable_keeps_text_and_drops_only_what_xml_cannot_carry() -> None:
    table = parse_votable(io.BytesIO(written("votable"))).get_first_table()
    data = table.array
    assert data["target_name"][0] == "Müller's <b>&bell\tcat\nend"  # XML reads \r\n as \n
    assert data["s_ra"][0] == 0.1 + 0.2 and data["s_ra"][2] == -1e-300
    assert list(data["calib_level"].mask) == [False, True, False]
    assert bool(data["mtFlag"][0]) is True and bool(data["mtFlag"][2]) is False
    assert data["mtFlag"].mask[1]
    assert table.get_field_by_id("s_ra").ucd == "pos.eq.ra;meta.main"


def test_csv_quotes_and_reads_back() -> None:
    lines = list(csv.reader(io.StringIO(written("csv").decode(), newline="")))
    assert lines[0] == [f["name"] for f in FIELDS]
    assert lines[1] == [ROWS[0]["target_name"], repr(0.1 + 0.2), "3", "true"]
    assert lines[2] == ["", "", "", ""]
    assert lines[3] == ['say "hi", then', "-1e-300", "-1", "false"]


def test_chunks_hold_about_256_kib() -> None:
    sizes = [len(c) for c in chunked(b"x" * 1000 for _ in range(1000))]
    assert sum(sizes) == 1_000_000 and max(sizes) < 256 * 1024 + 1000 and len(sizes) == 4


def test_csv_and_votable_hold_no_more_memory_than_json() -> None:
    """Rows come from a generator (as from the database); each writer's peak allocation while
    the answer is consumed chunk by chunk stays near JSON's and far below the whole answer."""
    columns = [observation_column(f["name"]) for f in FIELDS]

    def peak(fmt: str) -> tuple[int, int]:
        rows = ({**ROWS[0], "calib_level": i, "target_name": "x" * 1000} for i in range(20_000))
        result = TableResult(Fields(FIELDS), rows, 20_000, 1, 20_000, columns=columns)
        tracemalloc.start()
        total = sum(len(chunk) for chunk in chunked(table_pieces(fmt, result, result.rows)))
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top, total

    written("votable")  # astropy's VOTable modules are imported once, not per answer
    json_peak, _ = peak("json")
    for fmt in ("csv", "votable"):
        top, total = peak(fmt)
        assert top < 1.5 * json_peak and top < total / 10, (fmt, top, json_peak, total)


def test_each_choice_of_observation_columns_is_declared_by_its_own_fields() -> None:
    """The search layer hands out one tuple per choice of columns, and the service keeps the
    fields of each by that tuple's identity: the same choice gets the very same fields, a
    different one (or an equal tuple made elsewhere) its own."""
    from skyarchive.api.mast.services import _observation_fields
    from skyarchive.search.cone import Cone
    from skyarchive.search.observations import ObservationQuery, _projection

    cone = Cone(10.0, 20.0, 0.01)
    chosen = ["obs_id", "distance", "target_name"]
    asked = [
        ObservationQuery(),
        ObservationQuery(cone=cone, positional_extras=True),
        ObservationQuery(columns=chosen, cone=cone),
        ObservationQuery(columns=chosen[::-1], cone=cone),
    ]
    for query in asked:
        columns = _projection(query)
        again = ObservationQuery(
            columns=query.columns, cone=query.cone, positional_extras=query.positional_extras
        )
        assert _projection(again) is columns
        fields = _observation_fields(columns)
        assert [f["name"] for f in fields] == [c.name for c in columns]
        assert _observation_fields(columns) is fields
        copy = tuple(columns)[:-1] + (columns[-1],)
        assert copy is not columns
        assert [f["name"] for f in _observation_fields(copy)] == [c.name for c in columns]
    assert [f["name"] for f in _observation_fields(_projection(asked[2]))] == chosen
    assert [f["name"] for f in _observation_fields(_projection(asked[3]))] == chosen[::-1]
    # a list naming the same columns over and over is kept as the short one, not as itself
    long = ObservationQuery(columns=chosen * 10_000, cone=cone)
    assert _projection(long) is _projection(asked[2])
