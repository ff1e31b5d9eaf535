"""The portal's JSON endpoints against a live server over the demo archive."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from skyarchive.archive import Archive
from tests.catalogue_edits import change_first_observations
from tests.e2e.conftest import LiveServer

WAIT = 30.0  # seconds a test waits at most for the server's background refresh
#: How soon a server finds a target written by another process: far within the minute after
#: which it re-reads its names when nothing tells it of the write.
PROMPTLY = 10.0
# Another process (an ingest, an operator's edit through skyarchive) renames and moves the
# first observation.
RENAME_ELSEWHERE = """
import sys
from sqlalchemy import select, update
from skyarchive.db.engine import make_engine
from skyarchive.db.tables import observations
engine = make_engine(sys.argv[1])
with engine.begin() as conn:
    first = conn.scalar(select(observations.c.obsid).order_by(observations.c.obsid).limit(1))
    conn.execute(update(observations).where(observations.c.obsid == first).values(
        target_name=sys.argv[2], s_ra=float(sys.argv[3]), s_dec=float(sys.argv[4])))
engine.dispose()
"""


@pytest.fixture(scope="module")
def client(live_server):  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server.url, timeout=30) as c:
        yield c


def search(client: httpx.Client, **body) -> httpx.Response:  # type: ignore[no-untyped-def]
    return client.post("/api/portal/search", json=body)


def assert_error(response: httpx.Response, status: int, text: str) -> None:
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"status", "type", "message"} and error["status"] == status
    assert text in error["message"]


def test_name_search_returns_every_row_nearest_first(client) -> None:  # type: ignore[no-untyped-def]
    got = search(client, text="m57 r=1m").json()
    assert got["query"]["display"] == "MESSIER 057, radius: 0.01667°"
    assert got["query"]["position"]["canonical_name"] == "MESSIER 057"
    assert got["total"] == got["returned"] == len(got["rows"]) > 0
    distances = [row["distance"] for row in got["rows"]]
    assert distances == sorted(distances)
    instruments = {row["instrument_name"] for row in got["rows"]}
    assert "MIRI/IFU" in instruments
    assert {"s_region", "dataRights", "obsid", "jpegURL"} <= set(got["rows"][0])
    names = [c["name"] for c in got["columns"]]
    assert "distance" in names
    mission = next(c for c in got["columns"] if c["name"] == "obs_collection")
    assert mission["label"] == "Mission" and mission["facet"] and mission["visible"]


def test_a_name_search_right_after_a_write_is_not_kept_from_the_old_target_names(
    demo_archive_copy: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server refreshes its target names as often as it may (once a minute in service):
    # a lookup past the interval starts a refresh and answers from the index it has.
    monkeypatch.setattr("skyarchive.sky.targets._REFRESH_SECONDS", 0.0)
    archive = demo_archive_copy
    name, where = "NGC 7000", (12.5, -7.25)  # a name OpenNGC knows and no demo target has
    with LiveServer(archive) as server, httpx.Client(base_url=server.url, timeout=WAIT) as client:
        cache = server.app.state.answer_cache
        assert cache is not None  # on, as by default
        assert search(client, text=name).json()["query"]["position"]["resolver"] == "OPENNGC"
        assert cache.size_bytes > 0  # kept: the index is as new as the catalogue
        change_first_observations(archive, {"target_name": name, "s_ra": where[0],
                                            "s_dec": where[1]})  # fmt: skip
        # The first search after the write resolves the name on the index read before it
        # (and starts its refresh): that answer must not be kept under the new generation.
        stale = search(client, text=name).json()["query"]["position"]
        assert stale["resolver"] == "OPENNGC"
        assert cache.size_bytes == 0
        archive.target_names.wait_for_refresh(WAIT)
        fresh = search(client, text=name)
        assert cache.size_bytes > 0  # the index has caught up: kept again
        again = search(client, text=name)
    position = fresh.json()["query"]["position"]
    assert position["resolver"] == "ARCHIVE" and position["canonical_name"] == name
    assert (position["ra"], position["dec"]) == where
    assert again.content == fresh.content


def test_a_target_renamed_by_another_process_is_found_by_name_within_seconds(
    demo_archive_copy: Archive,
) -> None:
    """The server learns of the write from its generation watch (SQLite's data_version,
    PostgreSQL's notification) and re-reads its target names at once, not a minute later;
    the answer the cache then keeps is the new one."""
    archive = demo_archive_copy
    name, where = "NGC 7000", (12.5, -7.25)  # a name OpenNGC knows and no demo target has
    with (
        LiveServer(archive, lifespan="on") as server,
        httpx.Client(base_url=server.url, timeout=WAIT) as client,
    ):
        cache = server.app.state.answer_cache
        assert cache is not None  # on, as by default
        assert search(client, text=name).json()["query"]["position"]["resolver"] == "OPENNGC"
        assert cache.size_bytes > 0
        url = archive.settings.resolved_database_url
        subprocess.run([sys.executable, "-c", RENAME_ELSEWHERE, url, name, *map(str, where)],
                       check=True, timeout=60)  # fmt: skip
        deadline = time.monotonic() + PROMPTLY
        while True:
            fresh = search(client, text=name)
            position = fresh.json()["query"]["position"]
            if position["resolver"] == "ARCHIVE" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert position["resolver"] == "ARCHIVE", f"not found by name within {PROMPTLY} s"
        assert position["canonical_name"] == name
        assert (position["ra"], position["dec"]) == where
        assert cache.size_bytes > 0  # kept: resolved on names as new as the catalogue
        again = search(client, text=name)
    assert again.content == fresh.content


def test_coordinate_searches_agree(client) -> None:  # type: ignore[no-untyped-def]
    sexagesimal = search(client, text="18:53:35 +33:01:45 r=30s").json()
    degrees = search(client, text="283.396 33.029 r=0.02d").json()
    assert sexagesimal["query"]["position"]["name"] is None
    assert sexagesimal["total"] > 0 and degrees["total"] >= sexagesimal["total"]


def test_program_search(client) -> None:  # type: ignore[no-untyped-def]
    got = search(client, collection="program", text="1073, 1558").json()
    assert {row["proposal_id"] for row in got["rows"]} == {"1073", "1558"}
    assert got["query"]["display"] == "Programs 1073, 1558"


def test_advanced_search_with_wildcards(client) -> None:  # type: ignore[no-untyped-def]
    filters = [
        {"paramName": "obs_collection", "values": ["JWST"]},
        {"paramName": "instrument_name", "values": ["MIRI*"]},
        {"paramName": "target_name", "values": ["NGC6720*"]},
    ]
    got = search(client, collection="filters", filters=filters).json()
    assert got["total"] > 0
    assert all(r["instrument_name"].startswith("MIRI") for r in got["rows"])
    assert all(r["obs_collection"] == "JWST" for r in got["rows"])
    assert got["query"]["display"] == "Mission: JWST; Instrument: MIRI*; Target Name: NGC6720*"
    count = client.post("/api/portal/count", json={"filters": filters}).json()
    assert count == {"count": got["total"]}


def test_date_range_filter(client) -> None:  # type: ignore[no-untyped-def]
    filters = [{"paramName": "t_min", "values": [{"min": 59700, "max": 59800}]}]
    got = search(client, collection="filters", filters=filters).json()
    assert got["total"] > 0 and all(59700 <= r["t_min"] <= 59800 for r in got["rows"])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"text": "nosuchobject"}, "Could not resolve 'nosuchobject'"),
        ({"text": "m57 r=abc"}, "Radius 'abc' is not understood"),
        ({"text": "283.396 95"}, "outside [-90, 90]"),
        ({"collection": "program", "text": "abc"}, "is not a program ID"),
        ({"collection": "filters", "filters": [{"paramName": "nosuch", "values": ["x"]}]},
         "Unknown column 'nosuch'"),
        ({"collection": "filters", "filters": [{"paramName": "calib_level", "values": ["3*"]}]},
         "Wildcards are not allowed"),
        ({"collection": "nonsense", "text": "m57"}, "collection"),
    ],
)  # fmt: skip
def test_search_errors_have_the_one_error_shape(client, body, message) -> None:  # type: ignore[no-untyped-def]
    assert_error(search(client, **body), 400, message)


def test_values_with_counts_under_the_other_filters(client) -> None:  # type: ignore[no-untyped-def]
    body = {"column": "instrument_name", "filters": [
        {"paramName": "obs_collection", "values": ["JWST"]},
        {"paramName": "instrument_name", "values": ["NIRCAM*"]},  # its own filter is ignored
    ]}  # fmt: skip
    got = client.post("/api/portal/values", json=body).json()
    values = {v["value"]: v["count"] for v in got["values"]}
    assert "MIRI/IFU" in values and "WFC3/UVIS" not in values
    assert got["matching"] == sum(values.values())
    tokens = client.post("/api/portal/values", json={"column": "filters"}).json()
    assert {"CLEAR", "F150W"} <= {v["value"] for v in tokens["values"]}  # ';' lists split
    dates = client.post("/api/portal/values", json={"column": "t_min"}).json()
    assert dates["min"] < dates["max"]
    assert_error(client.post("/api/portal/values", json={"column": "nosuch"}), 400, "nosuch")


def test_observation_details_with_products_and_links(client) -> None:  # type: ignore[no-untyped-def]
    rows = search(client, text="m57 r=1m").json()["rows"]
    row = next(r for r in rows if r["calib_level"] == 3 and r["jpegURL"])
    got = client.get(f"/api/portal/observations/{row['obsid']}").json()
    assert got["observation"]["obs_id"] == row["obs_id"]
    assert got["links"]["mrp"] == f"/api/v0.1/Download/mrp?obsid={row['obsid']}"
    preview = client.get(got["links"]["preview"])
    assert preview.status_code == 200 and preview.headers["content-type"] == "image/jpeg"
    assert got["products"] and all(p["parent_obsid"] == row["obsid"] for p in got["products"])
    first = got["products"][0]
    assert first["download"].startswith("/api/v0.1/Download/file?uri=mast:")
    assert_error(client.get("/api/portal/observations/999999999"), 404, "No observation")
    assert_error(client.get("/api/portal/observations/jw01558"), 400, "not a Product Group ID")


def test_columns(client) -> None:  # type: ignore[no-untyped-def]
    columns = client.get("/api/portal/columns").json()["columns"]
    assert [c["name"] for c in columns][:3] == ["intentType", "obs_collection", "provenance_name"]


def test_pages_render(client) -> None:  # type: ignore[no-untyped-def]
    home = client.get("/")
    assert home.status_code == 200 and 'id="search-form"' in home.text
    assert "Observations by Program ID" in home.text and "/login" in home.text
    page = client.get("/search", params={"q": "m57 r=1m"})
    assert page.status_code == 200 and 'value="m57 r=1m"' in page.text
    assert '<script type="application/json" id="page-data">' in page.text


def test_basket_page_is_honest_about_its_state(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/basket")
    assert page.status_code == 200
    assert "Download basket" in page.text and "search results" in page.text
