"""One-click unsubscribe from a subscription e-mail, without logging in.

``GET /unsubscribe/<token>`` shows what the link would stop and a button; ``POST`` to the same
URL unsubscribes: that is what the button sends and what mail programs send for the e-mail's
``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` header (RFC 8058), with no cookie and no
CSRF token. The signed token is the credential (``notify/unsubscribe.py``); a changed or cut
link (400), an expired one (410 Gone) or a used one (404) is refused with a page that says why
and where else to unsubscribe.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from skyarchive.api.deps import ArchiveDep, CallerDep
from skyarchive.api.routing import include
from skyarchive.errors import BadQuery, Gone, NotFound
from skyarchive.notify.unsubscribe import PATH, check_link, unsubscribe_by_link
from skyarchive.portal.account_routes import _page
from skyarchive.portal.password_routes import HideLinkSecrets

router = APIRouter(include_in_schema=False)
HIDE_UNSUBSCRIBE_SECRETS = HideLinkSecrets(PATH)


def install(app: FastAPI) -> None:
    """Mount the pages and hide their tokens from the access log."""
    include(app, router)
    logging.getLogger("uvicorn.access").addFilter(HIDE_UNSUBSCRIBE_SECRETS)


@router.get(PATH + "{token}", response_class=HTMLResponse)
def confirm_page(request: Request, token: str, archive: ArchiveDep, caller: CallerDep) -> Response:
    try:
        with archive.engine.begin() as conn:  # the first link check may store the secret
            target = check_link(conn, token)
    except (BadQuery, Gone, NotFound) as exc:
        return _refused(request, caller, exc)
    return _answer(request, caller, target=target, token=token)


@router.post(PATH + "{token}", response_class=HTMLResponse)
def unsubscribe(request: Request, token: str, archive: ArchiveDep, caller: CallerDep) -> Response:
    try:
        with archive.engine.begin() as conn:
            target = unsubscribe_by_link(conn, token)
    except (BadQuery, Gone, NotFound) as exc:
        return _refused(request, caller, exc)
    return _answer(request, caller, target=target, done=True)


def _refused(request: Request, caller, exc: BadQuery | Gone | NotFound) -> Response:  # type: ignore[no-untyped-def]
    return _answer(request, caller, exc.status, error=exc.message)


def _answer(request: Request, caller, status: int = 200, **context) -> Response:  # type: ignore[no-untyped-def]
    response = _page(request, "unsubscribe.html", caller, status, **context)
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the page's URL
    return response
