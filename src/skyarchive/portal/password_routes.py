"""Forgotten passwords: ask for a one-time link by e-mail, then choose a new password with it.

Asking answers the same words, in the same time, whether or not the email has an account: the
look-up and the e-mail happen after the answer. A new password ends every session of the
account.
"""

from __future__ import annotations

import logging
import re

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from skyarchive.access import password_resets
from skyarchive.api.deps import ArchiveDep, CallerDep
from skyarchive.api.routing import include
from skyarchive.errors import BadQuery
from skyarchive.notify.account_mail import start_password_reset
from skyarchive.portal.account_routes import Text, _check_form, _page

router = APIRouter(include_in_schema=False)
SENT = (
    "If an account uses this email, a link to set a new password is on its way. "
    "It works once, within the hour."
)


class HideLinkSecrets(logging.Filter):
    """Keep link secrets out of logs: uvicorn's access log writes every request path, and a
    path under ``prefix`` ends with a secret (a reset or unsubscribe token)."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix
        self._secret = re.compile(f'({re.escape(prefix)})[^/?#\\s"]+')

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = self._secret.sub(r"\1(hidden)", record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                self._secret.sub(r"\1(hidden)", a) if isinstance(a, str) else a for a in record.args
            )
        return True


HIDE_RESET_SECRETS = HideLinkSecrets("/password-reset/")


def install(app: FastAPI) -> None:
    """Mount the pages and hide their secrets from the access log (once per process)."""
    include(app, router)
    logging.getLogger("uvicorn.access").addFilter(HIDE_RESET_SECRETS)


def _no_referrer(response: Response) -> Response:
    """The link's secret is in the page's URL: never send it on as a Referer."""
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.get("/password-reset", response_class=HTMLResponse)
def reset_request_form(request: Request, caller: CallerDep) -> Response:
    return _page(request, "account_reset_request.html", caller)


@router.post("/password-reset")
def reset_request(
    request: Request, archive: ArchiveDep, caller: CallerDep, email: Text, csrf_token: Text
) -> Response:
    _check_form(request, caller, csrf_token)
    start_password_reset(archive.engine, archive.settings, email=email)
    return _page(request, "account_reset_request.html", caller, message=SENT)


@router.get("/password-reset/{token}", response_class=HTMLResponse)
def reset_form(request: Request, token: str, archive: ArchiveDep, caller: CallerDep) -> Response:
    try:
        with archive.engine.connect() as conn:
            password_resets.check_reset(conn, token)
    except BadQuery as exc:
        return _no_referrer(
            _page(request, "account_reset.html", caller, 400, token=None, error=exc.message)
        )
    return _no_referrer(_page(request, "account_reset.html", caller, token=token))


@router.post("/password-reset/{token}")
def reset(
    request: Request, token: str, archive: ArchiveDep, caller: CallerDep, new: Text,
    csrf_token: Text,
) -> Response:  # fmt: skip
    _check_form(request, caller, csrf_token)
    try:
        with archive.engine.begin() as conn:
            password_resets.reset_password(conn, token, new)
    except BadQuery as exc:
        still_valid = exc.message != password_resets.INVALID_LINK
        page = _page(request, "account_reset.html", caller, 400, error=exc.message,
                     token=token if still_valid else None)  # fmt: skip
        return _no_referrer(page)
    message = "Your password is set and every session of the account has ended. Log in."
    return _no_referrer(
        _page(request, "account_login.html", caller, message=message, next="/account")
    )
