"""Every column a client may filter on, given every kind of value, through the real server on
both databases: never a 5xx; either an answer or the face's one error shape with a message
naming the column; and SQLite and PostgreSQL agree (both answer, with the same total, or
both refuse).

SQLite compares anything with anything; PostgreSQL refuses a comparison of types it has no
operator for (``bigint = character varying``, ``lower(boolean)``), a text holding a NUL
character, and a number beyond the column's type. So a value of the wrong type that SQLite
forgives must be read, or refused, before it reaches the database. The fuzz test
(``test_fuzz_api.py``) runs on SQLite alone and never meets these.

Faces: ``Mast.Caom.Filtered`` and ``Mast.Caom.Filtered.Position`` over every observation
column; ``Mast.Jwst.Filtered.Wss`` over its columns; ``Mast.Jwst.Filtered.Nircam`` over
keyword columns of each kind of SQL expression the table builds (typed columns, header text,
header numbers, header flags, dates, archive columns); ``Skyarchive.Jwst.Filtered.Observations``
over some of those; MastMissions' search over columns of each ``qual_type``; the portal's
search (its filters and its chosen facet values), its filter dialog's ``/values`` and
``/count`` over a few observation columns of each SQL type, and the same three of the
portal's keyword search.

``dataRights`` (computed from the release date) takes only PUBLIC and EXCLUSIVE_ACCESS: every
other kind of value is refused, naming the two, on every face that filters on it; so does
MastMissions' ``access``, in its own condition language.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from skyarchive.search.columns import DISTANCE, OBJID1, OBSERVATION_COLUMNS
from skyarchive.search.portal_search import FACETS
from skyarchive.search.wss import WSS_COLUMNS
from tests.archives import ArchiveSnapshots
from tests.conftest import ingest_demo
from tests.e2e.conftest import LiveServer

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

KINDS = ("sqlite", "postgresql")
#: What a face answered: ("answer", total), ("refused", message), or a failure of the face:
#: ("server error", text), ("other shape", text).
Outcome = tuple[str, Any]
#: Sends one case's filters (or condition value) to a server.
Send = Callable[[httpx.Client, str, Any], Outcome]

#: Each kind of ``values`` a MAST-style filter may carry, by what it is.
VALUES: dict[str, Any] = {
    "text": ["abc"],
    "number": [12],
    "decimal number": [2.5],
    "number as text": ["12"],
    "negative number": [-1],
    "whole number beyond 32 bits": [3_000_000_000],
    "largest 64-bit number": [2**63 - 1],
    "range of numbers": [{"min": 1, "max": 5}],
    "range of text": [{"min": "a", "max": "c"}],
    "range of numbers as text": [{"min": "1", "max": "5"}],
    "open range beyond 32 bits": [{"min": 3_000_000_000}],
    "empty range": [{}],
    "boolean": [True],
    "null": [None],
    "list": [[1, 2]],
    "one value, not a list": "abc",
    "long text": ["x" * 5000],
    "control characters": ["a\x00b\x1f"],
    "wildcard": ["ab*"],
}
FREE_TEXT: dict[str, str] = {
    "freeText": "abc",
    "freeText with control characters": "a\x00b",
}

#: Keyword columns of Mast.Jwst.Filtered.Nircam, one or more of each kind of SQL expression
#: keyword_search._Expressions builds.
KEYWORD_COLUMNS = (
    # archive columns: product id (bigint), names (text), CASE expressions, flags, dates
    "ArchiveFileID", "filename", "fileSetName", "productLevel", "fileSize", "checksum",
    "dataURI", "publicReleaseDate_mjd", "publicReleaseDate", "isRestricted", "isItar",
    "ingestStartDate_mjd",
    # typed keyword columns: folded text, integer, float, MJD
    "exp_type", "detector", "targname", "pupil", "nints", "effexptm", "date_obs_mjd",
    # header keywords: text, whole numbers, real numbers, flags, dates and their MJD twins
    "apername", "pi_name", "date_obs", "program", "visit", "duration", "gs_mag", "tsovisit",
    "bkgdtarg", "date_end_mjd",
)  # fmt: skip

#: MastMissions columns, one or more of each ``qual_type`` (and those narrowed in SQL).
MISSION_COLUMNS = (
    "fileSetName", "productLevel", "targprop", "opticalElements", "s_region", "nircam_pupil",
    "instrume", "exp_type", "targname", "program", "ArchiveFileID", "nints", "duration",
    "targ_ra", "targ_dec", "date_obs", "publicReleaseDate", "pi_name", "access", "search_pos",
)  # fmt: skip
#: Each kind of value a MastMissions condition may carry.
CONDITIONS: dict[str, Any] = {
    "text": "abc",
    "number": 12,
    "decimal number": 2.5,
    "number as text": "12",
    "whole number beyond 32 bits": 3_000_000_000,
    "range": "1..5",
    "range of text": "a..c",
    "comparison": ">5",
    "comparison with text": "<abc",
    "negated text": "!abc",
    "wildcard": "ab*",
    "boolean": True,
    "null": None,
    "list": [1, 2],
    "object": {"min": 1, "max": 5},
    "long text": "x" * 5000,
    "control characters": "a\x00b\x1f",
}
#: Chosen facet values the portal may send (its schema takes text and whole numbers).
FACET_VALUES: dict[str, Any] = {
    "text": "abc",
    "number": 12,
    "number as text": "12",
    "whole number beyond 32 bits": 3_000_000_000,
    "largest 64-bit number": 2**63 - 1,
    "long text": "x" * 5000,
    "control characters": "a\x00b\x1f",
    "wildcard": "ab*",
}
OBSERVATION_NAMES = [c.name for c in (*OBSERVATION_COLUMNS, OBJID1, DISTANCE)]
#: Observation columns of each SQL type, for the faces asked less often: text (plain, with
#: ``;``-separated parts, digits only), whole numbers, real numbers, MJD dates, flags,
#: identifiers stored as integers, the computed data rights and distance.
OBSERVATION_SAMPLE = (
    "intentType", "obs_collection", "filters", "target_name", "proposal_id", "calib_level",
    "sequence_number", "s_ra", "t_exptime", "t_min", "t_obs_release", "mtFlag", "obsid",
    "objID1", "dataRights", "distance",
)  # fmt: skip
#: Keyword columns of each kind of SQL expression, for the faces asked less often.
KEYWORD_SAMPLE = (
    "ArchiveFileID", "filename", "productLevel", "fileSize", "publicReleaseDate_mjd",
    "publicReleaseDate", "isRestricted", "exp_type", "nints", "effexptm", "date_obs_mjd",
    "pi_name", "date_obs", "visit", "gs_mag", "tsovisit",
)  # fmt: skip
#: Values naming or matching a data right: the only ones ``dataRights`` takes.
RIGHTS: dict[str, Any] = {
    "a right": ["PUBLIC"],
    "both rights in any case": [" public", "Exclusive_Access"],
    "a right by a wildcard": ["excl*"],
    "one right, not a list": "public",
}
RIGHTS_FREE_TEXT = {"freeText matching a right": "*_access"}
#: The rights as the portal's facet sends them (and as a client might).
FACET_RIGHTS = {"a right": "PUBLIC", "a right in lower case": "exclusive_access",
                "a right by a wildcard": "pub*"}  # fmt: skip
#: MastMissions conditions naming or matching the rights: the only ones ``access`` takes.
MISSION_RIGHTS: dict[str, Any] = {
    "a right": "PUBLIC",
    "both rights in any case": " public,Exclusive_Access",
    "both rights as a list": ["PUBLIC", "EXCLUSIVE_ACCESS"],
    "a negated right": "!public",
    "a right by a wildcard": "excl*",
    "a negated wildcard matching a right": "*_*,!pub*",
}
RIGHT_LABELS = frozenset({*RIGHTS, *RIGHTS_FREE_TEXT, *FACET_RIGHTS, *MISSION_RIGHTS})
#: The columns whose values are the two rights alone.
RIGHTS_COLUMNS = ("dataRights", "access")
M57 = "283.396, 33.029, 0.05"


def filter_cases(columns: Any) -> list[tuple[str, str, Any]]:
    """(column, what the value is, the request's ``filters``) for every column and value (and
    on ``dataRights``, the rights too)."""
    cases = []
    for column in columns:
        rights = column == "dataRights"
        for label, values in (VALUES | RIGHTS if rights else VALUES).items():
            cases.append((column, label, [{"paramName": column, "values": values}]))
        for label, text in (FREE_TEXT | RIGHTS_FREE_TEXT if rights else FREE_TEXT).items():
            cases.append((column, label, [{"paramName": column, "values": [], "freeText": text}]))
    return cases


@pytest.fixture(scope="module")
def clients(
    archive_snapshots: ArchiveSnapshots,
    demo_output,  # type: ignore[no-untyped-def]
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, httpx.Client]]:
    """A live server over the demo archive on each database, and a client of each."""
    out, _summary = demo_output
    build = functools.partial(ingest_demo, source=Path(out))  # the demo_archive_copy snapshot
    with ExitStack() as stack:
        clients = {}
        for kind in KINDS:
            folder = tmp_path_factory.mktemp(f"value-types-{kind}")
            archive = stack.enter_context(
                archive_snapshots.copy("demo", build, kind=kind, folder=folder)
            )
            server = stack.enter_context(LiveServer(archive))
            clients[kind] = stack.enter_context(httpx.Client(base_url=server.url, timeout=120))
        yield clients


def _failure(answer: httpx.Response) -> Outcome | None:
    if answer.status_code >= 500:
        return ("server error", f"HTTP {answer.status_code}: {answer.text[:300]}")
    return None


def _api_outcome(answer: httpx.Response, total: str) -> Outcome:
    """The portal's and MastMissions' answers: 200 with a total, or a 4xx error body."""
    failed = _failure(answer)
    if failed is not None:
        return failed
    body = answer.json()
    if answer.status_code == 200 and total in body:
        return ("answer", body[total])
    error = body.get("error") if isinstance(body, dict) else None
    if 400 <= answer.status_code < 500 and isinstance(error, dict) and "message" in error:
        return ("refused", error["message"])
    return ("other shape", f"HTTP {answer.status_code}: {answer.text[:300]}")


def mast(service: str, columns: str, **params: Any) -> Send:
    def send(client: httpx.Client, column: str, filters: Any) -> Outcome:
        request = {"service": service, "format": "json", "pagesize": 3,
                   "params": {"columns": columns, "filters": filters, **params}}  # fmt: skip
        answer = client.post("/api/v0/invoke", data={"request": json.dumps(request)})
        failed = _failure(answer)
        if failed is not None:
            return failed
        body = answer.json()
        # JSON answers, errors too, are HTTP 200 as MAST sends them
        if answer.status_code == 200 and body.get("status") == "COMPLETE":
            return ("answer", body["paging"]["rowsTotal"])
        if answer.status_code == 200 and body.get("status") == "ERROR":
            return ("refused", body["msg"])
        return ("other shape", f"HTTP {answer.status_code}: {answer.text[:300]}")

    return send


def portal(client: httpx.Client, column: str, filters: Any) -> Outcome:
    body = {"collection": "filters", "filters": filters, "pagesize": 3}
    return _api_outcome(client.post("/api/portal/search", json=body), "total")


def portal_facets(client: httpx.Client, column: str, value: Any) -> Outcome:
    body = {"collection": "program", "text": "1073, 1558", "facets": {column: [value]},
            "pagesize": 3}  # fmt: skip
    return _api_outcome(client.post("/api/portal/search", json=body), "total")


def portal_values(client: httpx.Client, column: str, filters: Any) -> Outcome:
    """The filter dialog's values of a grouped column under the filter (whose own column's
    filter it sets aside, so another column's)."""
    body = {"column": "dataRights" if column == "instrument_name" else "instrument_name",
            "filters": filters}  # fmt: skip
    return _api_outcome(client.post("/api/portal/values", json=body), "matching")


def portal_own_values(client: httpx.Client, column: str, filters: Any) -> Outcome:
    """The filter dialog's values of the filter's own column, the filter set aside but read."""
    body = {"column": column, "filters": filters}
    return _api_outcome(client.post("/api/portal/values", json=body), "matching")


def portal_count(client: httpx.Client, column: str, filters: Any) -> Outcome:
    return _api_outcome(client.post("/api/portal/count", json={"filters": filters}), "count")


def keyword_portal(client: httpx.Client, column: str, filters: Any) -> Outcome:
    body = {"instrument": "NIRCAM", "filters": filters, "pagesize": 3}
    return _api_outcome(client.post("/api/portal/keyword-search/search", json=body), "total")


def keyword_values(client: httpx.Client, column: str, filters: Any) -> Outcome:
    """A keyword's values under the filter: a grouped column's, or the filter's own column's."""
    body = {"instrument": "NIRCAM", "filters": filters,
            "column": "detector" if column == "exp_type" else "exp_type"}  # fmt: skip
    answer = client.post("/api/portal/keyword-search/values", json=body)
    return _api_outcome(answer, "matching")


def keyword_own_values(client: httpx.Client, column: str, filters: Any) -> Outcome:
    body = {"instrument": "NIRCAM", "filters": filters, "column": column}
    answer = client.post("/api/portal/keyword-search/values", json=body)
    return _api_outcome(answer, "matching")


def keyword_count(client: httpx.Client, column: str, filters: Any) -> Outcome:
    body = {"instrument": "NIRCAM", "filters": filters}
    return _api_outcome(client.post("/api/portal/keyword-search/count", json=body), "count")


def missions(client: httpx.Client, column: str, value: Any) -> Outcome:
    body = {"conditions": [{column: value}], "limit": 3}
    return _api_outcome(client.post("/search/jwst/api/v0.1/search", json=body), "totalResults")


#: Each face: how a case is sent, and its cases (column, what the value is, what is sent).
FACES: dict[str, tuple[Send, list[tuple[str, str, Any]]]] = {
    "Mast.Caom.Filtered": (mast("Mast.Caom.Filtered", "obsid"), filter_cases(OBSERVATION_NAMES)),
    "Mast.Caom.Filtered.Position": (
        mast("Mast.Caom.Filtered.Position", "obsid", position=M57),
        filter_cases(OBSERVATION_NAMES),
    ),
    "Mast.Jwst.Filtered.Nircam": (
        mast("Mast.Jwst.Filtered.Nircam", "ArchiveFileID"),
        filter_cases(KEYWORD_COLUMNS),
    ),
    "Mast.Jwst.Filtered.Wss": (
        mast("Mast.Jwst.Filtered.Wss", "fileName"),
        filter_cases(c.name for c in WSS_COLUMNS),
    ),
    "portal search": (portal, filter_cases(OBSERVATION_NAMES)),
    "portal facets": (
        portal_facets,
        [(column, label, value) for column in FACETS
         for label, value in (FACET_VALUES | FACET_RIGHTS if column == "dataRights"
                              else FACET_VALUES).items()],  # fmt: skip
    ),
    "Skyarchive.Jwst.Filtered.Observations": (
        mast("Skyarchive.Jwst.Filtered.Observations", "obsid", table="Nircam"),
        filter_cases(KEYWORD_SAMPLE),
    ),
    "portal values": (portal_values, filter_cases(OBSERVATION_SAMPLE)),
    "portal values of the filter's column": (portal_own_values, filter_cases(OBSERVATION_SAMPLE)),
    "portal count": (portal_count, filter_cases(OBSERVATION_SAMPLE)),
    "portal keyword search": (keyword_portal, filter_cases(KEYWORD_COLUMNS)),
    "portal keyword values": (keyword_values, filter_cases(KEYWORD_SAMPLE)),
    "portal keyword values of the filter's column": (
        keyword_own_values,
        filter_cases(KEYWORD_SAMPLE),
    ),
    "portal keyword count": (keyword_count, filter_cases(KEYWORD_SAMPLE)),
    "MastMissions": (
        missions,
        [(column, label, value) for column in MISSION_COLUMNS
         for label, value in (CONDITIONS | MISSION_RIGHTS if column == "access"
                              else CONDITIONS).items()],
    ),
}  # fmt: skip


def _problems(column: str, label: str, outcomes: dict[str, Outcome]) -> list[str]:
    """What is wrong with the two databases' outcomes of one case."""
    problems = []
    for kind, (what, detail) in outcomes.items():
        if what in ("server error", "other shape"):
            problems.append(f"{column} <- {label} on {kind}: {what}: {detail}")
        elif what == "refused" and column.lower() not in str(detail).lower():
            problems.append(f"{column} <- {label} on {kind}: the error names no column: {detail}")
    if column in RIGHTS_COLUMNS:
        problems += _rights_problems(column, label, outcomes)
    # both refuse, or both answer with the same total
    alike = {(what, detail if what == "answer" else None) for what, detail in outcomes.values()}
    if not problems and len(alike) > 1:
        kept = {kind: (what, str(detail)[:150]) for kind, (what, detail) in outcomes.items()}
        problems.append(f"{column} <- {label}: the databases disagree: {kept}")
    return problems


def _rights_problems(column: str, label: str, outcomes: dict[str, Outcome]) -> list[str]:
    """``dataRights`` (and ``access``) answers the rights and refuses anything else, naming
    the two."""
    problems = []
    right = label in RIGHT_LABELS
    for kind, (what, detail) in outcomes.items():
        if right and what != "answer":
            problems.append(f"{column} <- {label} on {kind}: not answered: {detail}")
        if not right and what == "answer":
            problems.append(f"{column} <- {label} on {kind}: answered, not refused")
        if what == "refused" and not ("PUBLIC" in detail and "EXCLUSIVE_ACCESS" in detail):
            problems.append(f"{column} <- {label} on {kind}: the error names no right: {detail}")
    return problems


@pytest.mark.parametrize("face", list(FACES))
def test_every_kind_of_value_is_answered_or_refused_alike_on_both_databases(
    face: str, clients: dict[str, httpx.Client]
) -> None:
    send, cases = FACES[face]
    asked = [(kind, index) for index in range(len(cases)) for kind in KINDS]

    def ask(request: tuple[str, int]) -> Outcome:
        kind, index = request
        column, _label, sent = cases[index]
        return send(clients[kind], column, sent)

    # a few requests at a time, to both servers: each waits on its database meanwhile
    with ThreadPoolExecutor(4) as pool:
        answers = dict(zip(asked, pool.map(ask, asked), strict=True))
    problems = []
    for index, (column, label, _sent) in enumerate(cases):
        problems += _problems(column, label, {kind: answers[kind, index] for kind in KINDS})
    assert not problems, f"{face}: {len(problems)} of {len(cases)} cases\n" + "\n".join(
        problems[:60]
    )
    # the cases reach the database: some are answered
    assert any(what == "answer" for what, _detail in answers.values()), face
