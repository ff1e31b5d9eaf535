"""Property-based fuzzing of the whole HTTP API against the live server.

schemathesis generates requests from the server's own OpenAPI schema (so the schema must
describe every parameter, hand-parsed forms included); hypothesis generates MAST service
requests for ``/api/v0/invoke``, whose ``request`` field is JSON the schema can only call a
string. Whatever arrives, the answer is never a 5xx and the catalogue is left as it was.
Examples are bounded so the module runs in about a minute.
"""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from skyarchive.api.mast import services as _services  # noqa: F401  (registers what served() lists)
from skyarchive.api.mast.registry import served
from skyarchive.db.tables import observation_products, observations, products, programs
from skyarchive.search.columns import OBSERVATION_COLUMNS

# among the slowest files: handed out first (tests/suite.py)
pytestmark = pytest.mark.slow

FUZZ = settings(
    max_examples=15, deadline=None, derandomize=True, database=None,
    suppress_health_check=list(HealthCheck),
)  # fmt: skip


def catalogue_fingerprint(archive) -> str:  # type: ignore[no-untyped-def]
    """Row counts and key sums of the catalogue tables, and the stored files' names and sizes."""
    parts: list[object] = []
    with archive.engine.connect() as conn:
        for table, key in ((observations, observations.c.obsid),
                           (products, products.c.product_id),
                           (observation_products, observation_products.c.product_id),
                           (programs, None)):  # fmt: skip
            parts.append(conn.scalar(select(func.count()).select_from(table)))
            if key is not None:
                parts.append(conn.scalar(select(func.sum(key))))
        parts.append(conn.scalar(select(func.sum(products.c.size))))
    root = archive.settings.resolved_storage_path
    parts += sorted((str(p.relative_to(root)), p.stat().st_size)
                    for p in root.rglob("*") if p.is_file())  # fmt: skip
    return hashlib.sha256(repr(parts).encode()).hexdigest()


@pytest.fixture(scope="module")
def catalogue_before(demo_archive) -> str:  # type: ignore[no-untyped-def]
    return catalogue_fingerprint(demo_archive)


@pytest.fixture(scope="module")
def api_schema(live_server, catalogue_before):  # type: ignore[no-untyped-def]
    return schemathesis.openapi.from_url(f"{live_server.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@FUZZ
def test_no_operation_answers_5xx(case) -> None:  # type: ignore[no-untyped-def]
    response = case.call(timeout=60)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
        f"\nreproduce: {case.as_curl_command()}"
    )


# The invoke service's JSON, built from what MAST requests look like, then bent.
ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=12,
)  # fmt: skip
NUMBERS = (
    st.integers()
    | st.floats()
    | st.text(max_size=25)
    | st.sampled_from(
        ["1e30", "1e400", "-1", "0", "١٢٣", "１２３", "9" * 5000, "nan", "2023-07-12", "1,2"]
    )
)
COLUMNS = st.sampled_from([c.name for c in OBSERVATION_COLUMNS] + ["nosuchcolumn"])
VALUE = NUMBERS | st.fixed_dictionaries({}, optional={"min": NUMBERS, "max": NUMBERS}) | ANY_JSON
FILTER = st.fixed_dictionaries(
    {"paramName": COLUMNS},
    optional={"values": st.lists(VALUE, max_size=4) | VALUE, "freeText": st.text(max_size=10)},
)
PARAMS = st.fixed_dictionaries(
    {},
    optional={
        "filters": st.lists(FILTER, max_size=3) | ANY_JSON,
        "ra": NUMBERS, "dec": NUMBERS, "radius": NUMBERS, "position": st.text(max_size=30),
        "obsid": NUMBERS | st.lists(NUMBERS, max_size=5), "columns": st.text(max_size=20),
        "input": st.text(max_size=20),
    },
)  # fmt: skip
REQUEST = st.fixed_dictionaries(
    {"service": st.sampled_from(served()) | st.text(max_size=20)},
    optional={"params": PARAMS | ANY_JSON, "page": NUMBERS | ANY_JSON,
              "pagesize": NUMBERS | ANY_JSON, "format": st.text(max_size=8)},
)  # fmt: skip


@pytest.fixture(scope="module")
def client(live_server, catalogue_before):  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server.url, timeout=60) as c:
        yield c


@given(body=REQUEST)
@settings(FUZZ, max_examples=150)
def test_mast_requests_never_fail_the_server(client, body: dict) -> None:  # type: ignore[no-untyped-def]
    try:
        raw = json.dumps(body)
    except ValueError:  # a 5,000-digit int from the strategies: send it as text
        raw = repr(body)
    answer = client.post("/api/v0/invoke", data={"request": raw})
    # JSON answers (errors too) are HTTP 200 as MAST sends them; an error for a CSV or VOTable
    # request keeps its 4xx; nothing is a 5xx.
    assert answer.status_code < 500, f"{raw[:300]} -> {answer.status_code}: {answer.text[:300]}"
    if answer.headers["content-type"].startswith("application/json"):
        expected = ("COMPLETE", "ERROR") if answer.status_code == 200 else ("ERROR",)
        assert answer.json()["status"] in expected


def test_the_catalogue_is_unchanged(demo_archive, catalogue_before: str) -> None:  # type: ignore[no-untyped-def]
    assert catalogue_fingerprint(demo_archive) == catalogue_before
