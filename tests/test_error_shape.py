"""Every error of the tree, in every face: one JSON shape, MAST's shape, or the portal's page.

Fast in-process checks (httpx over ASGI) beside the real-server tests in
tests/e2e/test_error_pages.py.
"""

from __future__ import annotations

import asyncio
import io

import httpx
import pytest
from astropy.io.votable import parse as parse_votable
from fastapi import APIRouter, FastAPI, HTTPException

from skyarchive import errors
from skyarchive.api.errors import (
    MastRoute,
    PageRoute,
    VoRoute,
    install_error_handlers,
    prefers_html,
)
from skyarchive.portal.error_pages import error_page

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def tree(cls: type[errors.SkyArchiveError]) -> list[type[errors.SkyArchiveError]]:
    return [cls, *(sub for child in cls.__subclasses__() for sub in tree(child))]


#: Every error class of skyarchive.errors (those other modules subclass included).
ERRORS = [cls for cls in tree(errors.SkyArchiveError) if cls.__module__ == "skyarchive.errors"]


def app_raising(cls: type[errors.SkyArchiveError]) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app, render_page=error_page)

    def fail() -> None:
        raise cls(f"{cls.__name__} on purpose")

    faces = (("/api", None), ("/page", PageRoute), ("/mast", MastRoute), ("/vo", VoRoute))
    for path, route_class in faces:
        router = APIRouter(route_class=route_class) if route_class else APIRouter()
        router.add_api_route(path, fail)
        app.include_router(router)
    return app


def get(app: FastAPI, path: str, accept: str) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path, headers={"Accept": accept})

    return asyncio.run(run())


def test_the_tree_is_complete() -> None:
    statuses = {cls.status for cls in ERRORS}
    assert {400, 401, 403, 404, 405, 413, 416, 422, 500} <= statuses


@pytest.mark.parametrize("cls", ERRORS, ids=lambda cls: cls.__name__)
def test_every_error_in_every_face(cls: type[errors.SkyArchiveError]) -> None:
    app = app_raising(cls)
    api = get(app, "/api", BROWSER)  # an API route answers JSON even to a browser
    assert api.status_code == cls.status
    assert api.json() == {"error": {"status": cls.status, "type": cls.__name__ if cls is not
                          errors.SkyArchiveError else "Error",
                          "message": f"{cls.__name__} on purpose"}}  # fmt: skip
    assert ("www-authenticate" in api.headers) == (cls.status == 401)

    mast = get(app, "/mast", "*/*")
    assert mast.status_code == cls.status
    assert mast.json() == {"status": "ERROR", "msg": f"{cls.__name__} on purpose",
                           "data": [], "fields": []}  # fmt: skip

    vo = get(app, "/vo", BROWSER)  # a VO route answers a DALI error VOTable, read by astropy
    assert vo.status_code == cls.status
    assert vo.headers["content-type"].startswith("application/x-votable+xml")
    status = parse_votable(io.BytesIO(vo.content)).resources[0].infos[0]
    assert (status.name, status.value) == ("QUERY_STATUS", "ERROR")
    assert status.content == f"{cls.__name__} on purpose"
    assert ("www-authenticate" in vo.headers) == (cls.status == 401)

    page = get(app, "/page", BROWSER)
    assert page.status_code == cls.status
    assert page.headers["content-type"].startswith("text/html")
    assert f"{cls.__name__} on purpose" in page.text and 'href="/search"' in page.text
    assert get(app, "/page", "application/json").json()["error"]["status"] == cls.status


def test_http_exceptions_join_the_tree() -> None:
    """Errors raised by Starlette or FastAPI themselves answer in the same shape."""
    app = FastAPI()
    install_error_handlers(app, render_page=error_page)

    def refuse() -> None:
        raise HTTPException(409, detail="That basket is being delivered.")

    app.add_api_route("/conflict", refuse)
    conflict = get(app, "/conflict", BROWSER).json()
    assert conflict == {"error": {"status": 409, "type": "Error",
                                  "message": "That basket is being delivered."}}  # fmt: skip
    missing = get(app, "/nowhere", "*/*").json()
    assert missing["error"]["type"] == "NotFound" and "/nowhere" in missing["error"]["message"]


@pytest.mark.parametrize(
    ("accept", "html"),
    [(BROWSER, True), ("text/html", True), ("*/*", False), ("", False),
     ("application/json", False), ("application/json, text/html;q=0.5", False),
     ("text/html;q=0.9, application/json;q=0.1", True), ("text/*", True),
     ("text/html;q=0", False), ("text/plain", False)],
)  # fmt: skip
def test_prefers_html(accept: str, html: bool) -> None:
    assert prefers_html(accept) is html


def test_a_failing_error_page_falls_back_to_json(caplog: pytest.LogCaptureFixture) -> None:
    def broken_page(*_args: object) -> None:
        raise RuntimeError("template missing")

    app = FastAPI()
    install_error_handlers(app, render_page=broken_page)  # type: ignore[arg-type]
    with caplog.at_level("ERROR", logger="skyarchive.errors"):
        answer = get(app, "/nowhere", BROWSER)
    assert answer.status_code == 404 and answer.json()["error"]["type"] == "NotFound"
    assert any(r.exc_info for r in caplog.records)
