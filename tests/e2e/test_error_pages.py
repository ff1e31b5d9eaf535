"""Errors on the wire: a browser gets the portal's error page, an API client the one JSON shape.

Real server, real clients: httpx with a browser's and an API client's Accept header, and
astroquery's own HTTP session.
"""

from __future__ import annotations

import json
import logging
from html.parser import HTMLParser

import httpx
import pytest
from sqlalchemy import select

from skyarchive.access.rights import now_mjd
from skyarchive.db.tables import observations, products

#: What Chromium and Firefox send when a page is opened.
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


class Links(HTMLParser):
    """The hrefs of a page's links and stylesheets, and its script sources."""

    def __init__(self) -> None:
        super().__init__()
        self.links: dict[str, str] = {}
        self.stylesheets: list[str] = []
        self.scripts: list[str] = []
        self.inline_scripts = 0
        self.style_blocks = 0
        self._text: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a":
            self._text, self._href = "", found.get("href") or ""
        elif tag == "link" and found.get("rel") == "stylesheet":
            self.stylesheets.append(found.get("href") or "")
        elif tag == "script":
            if found.get("src"):
                self.scripts.append(found["src"] or "")
            else:
                self.inline_scripts += 1
        elif tag == "style":
            self.style_blocks += 1

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._text is not None:
            self.links[self._text.strip()] = self._href
            self._text = None


def parsed(html: str) -> Links:
    links = Links()
    links.feed(html)
    return links


@pytest.fixture(scope="module")
def client(live_server):  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server.url, timeout=30) as c:
        yield c


def assert_error_page(response: httpx.Response, status: int) -> Links:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    page = parsed(response.text)
    assert "/static/portal.css" in page.stylesheets  # the portal's look
    assert page.inline_scripts == 0 and page.style_blocks == 0  # nothing a CSP would block
    assert page.links["Back to search"] == "/search"
    assert page.links["Archive home"] == "/"
    assert f"<title>{status} " in response.text
    return page


def assert_error_json(response: httpx.Response, status: int, kind: str) -> str:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["status"] == status and body["error"]["type"] == kind
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]["message"]


def test_unknown_path_is_a_page_for_a_browser(client) -> None:  # type: ignore[no-untyped-def]
    answer = client.get("/no/such/page", headers={"Accept": BROWSER})
    assert_error_page(answer, 404)
    assert "/no/such/page" in answer.text and answer.headers["vary"] == "Accept"
    hostile = client.get("/no/%3Cscript%3Ealert(1)%3C/script%3E", headers={"Accept": BROWSER})
    assert_error_page(hostile, 404)
    assert "<script>alert" not in hostile.text and "&lt;script&gt;alert(1)" in hostile.text


@pytest.mark.parametrize("accept", ["application/json", "*/*", "text/plain", None])
def test_unknown_path_is_json_for_api_clients(client, accept: str | None) -> None:  # type: ignore[no-untyped-def]
    headers = {"Accept": accept} if accept else {}
    answer = client.get("/no/such/page", headers=headers)
    assert "/no/such/page" in assert_error_json(answer, 404, "NotFound")
    assert answer.headers["vary"] == "Accept"


def test_api_route_errors_stay_json_for_a_browser(client) -> None:  # type: ignore[no-untyped-def]
    """An API route is an API route, whoever asks: the face comes from the router."""
    answer = client.get("/api/portal/observations/999999999999", headers={"Accept": BROWSER})
    assert_error_json(answer, 404, "NotFound")


def test_staging_area_errors_are_pages_for_people_and_json_for_wget(client) -> None:  # type: ignore[no-untyped-def]
    """A staging area is opened from the notice e-mail in a browser, or fetched by wget."""
    path = "/staging/0123456789abcdef/MANIFEST.HTML"
    assert_error_page(client.get(path, headers={"Accept": BROWSER}), 404)
    assert_error_json(client.get(path, headers={"Accept": "*/*"}), 404, "NotFound")


def test_unsatisfiable_range_is_416_telling_the_length(client, demo_archive) -> None:  # type: ignore[no-untyped-def]
    with demo_archive.engine.connect() as conn:
        uri, size = conn.execute(
            select(products.c.dataURI, products.c.size)
            .join(observations, observations.c.obsid == products.c.owner_obsid)
            .where(observations.c.t_obs_release < now_mjd(), products.c.size > 0)
            .limit(1)
        ).one()
    answer = client.get(
        "/api/v0.1/Download/file", params={"uri": uri}, headers={"Range": f"bytes={size}-"}
    )
    assert answer.headers["content-range"] == f"bytes */{size}"
    assert str(size) in assert_error_json(answer, 416, "RangeNotSatisfiable")


def test_astroquery_session_gets_json(mast, live_server) -> None:  # type: ignore[no-untyped-def]
    """astroquery's own session (its headers, its requests) reads our errors as JSON."""
    session = mast.Observations._portal_api_connection._session
    answer = session.get(f"{live_server.url}/api/v0.1/nothing-here", timeout=30)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"]["type"] == "NotFound"


def test_forbidden_form_is_a_page_with_a_way_to_log_in(client) -> None:  # type: ignore[no-untyped-def]
    """A login form without its CSRF cookie: 403 from a portal route."""
    form = {"email": "a@example.org", "password": "x", "csrf_token": "forged"}
    answer = client.post("/login", data=form, headers={"Accept": BROWSER})
    page = assert_error_page(answer, 403)
    assert page.links["Log in"] == "/login"
    as_json = client.post("/login", data=form, headers={"Accept": "application/json"})
    assert_error_json(as_json, 403, "Forbidden")


def test_wrong_method_is_405_with_allow(client) -> None:  # type: ignore[no-untyped-def]
    page = client.delete("/search", headers={"Accept": BROWSER})
    assert_error_page(page, 405)
    assert "GET" in page.headers["allow"]
    api = client.delete("/api/portal/columns")
    assert_error_json(api, 405, "MethodNotAllowed")
    assert "GET" in api.headers["allow"]


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def logged():  # type: ignore[no-untyped-def]
    """Every record the server logs, ours and uvicorn's (which does not propagate to root)."""
    handler = Records()
    loggers = [logging.getLogger(name) for name in ("skyarchive", "uvicorn", "uvicorn.error")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


def _failing(*_args, **_kwargs):  # type: ignore[no-untyped-def]
    raise RuntimeError("secret internals: db password is hunter2")


def assert_logged_once(records: list[logging.LogRecord], path: str) -> str:
    """Exactly one record with a traceback, naming the path; returns its reference."""
    with_traceback = [r for r in records if r.exc_info]
    assert len(with_traceback) == 1, [r.getMessage() for r in records]
    record = with_traceback[0]
    assert path in record.getMessage()
    assert isinstance(record.exc_info[1], RuntimeError)  # type: ignore[index]
    return record.getMessage().split("[", 1)[1].split("]", 1)[0]


def test_unexpected_error_is_the_portal_page_for_a_browser(client, monkeypatch, logged) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("skyarchive.portal.routes.archive_summary", _failing)
    answer = client.get("/", headers={"Accept": BROWSER})
    assert_error_page(answer, 500)
    assert "hunter2" not in answer.text and "Traceback" not in answer.text
    reference = assert_logged_once(logged, "GET /")
    assert reference in answer.text  # the operator can find the log entry


def test_unexpected_error_is_the_json_shape_for_an_api_client(client, monkeypatch, logged) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("skyarchive.api.portal.search.column_facts", _failing)
    answer = client.get("/api/portal/columns", headers={"Accept": BROWSER})
    message = assert_error_json(answer, 500, "InternalError")
    assert "hunter2" not in message
    assert assert_logged_once(logged, "/api/portal/columns") in message


def test_unexpected_error_in_invoke_is_mast_shaped(
    client, live_server, monkeypatch, logged
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(live_server.app.state, "answer_cache", None)  # the search itself must run
    monkeypatch.setattr("skyarchive.api.mast.services.search_observations", _failing)
    body = {"service": "Mast.Caom.Cone", "params": {"ra": 283.39, "dec": 33.03, "radius": 0.1}}
    answer = client.post("/api/v0/invoke", data={"request": json.dumps(body)})
    assert answer.status_code == 500
    mast_answer = answer.json()
    assert mast_answer["status"] == "ERROR" and "hunter2" not in mast_answer["msg"]
    assert assert_logged_once(logged, "/api/v0/invoke") in mast_answer["msg"]
