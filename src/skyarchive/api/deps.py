"""Request-scoped dependencies shared by every HTTP face.

``CallerDep`` is who is asking: a user from an API token (``Authorization: token <t>`` or
``Bearer <t>``, or astroquery's ``mast_token`` cookie) or from a portal session cookie; else
anonymous. A refused token yields an anonymous caller that remembers why, so a download can
answer 401 with the reason while public searches still work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from skyarchive.access.caller import caller_from_credentials, token_from_headers
from skyarchive.access.policy import Caller
from skyarchive.access.sessions import SESSION_COOKIE, csrf_matches
from skyarchive.api.urls import public_base_url
from skyarchive.archive import Archive
from skyarchive.errors import Forbidden, Unauthorized

CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


def get_archive(request: Request) -> Archive:
    return request.app.state.archive


def get_caller(request: Request) -> Caller:
    cached = getattr(request.state, "caller", None)
    if cached is not None:
        return cached
    token = token_from_headers(
        request.headers.get("authorization"), request.cookies.get("mast_token")
    )
    with get_archive(request).engine.begin() as conn:
        caller = caller_from_credentials(
            conn, token=token, session_cookie=request.cookies.get(SESSION_COOKIE)
        )
    request.state.caller = caller
    if caller.csrf_token is not None and not caller.via_token:
        _remember_public_url(request)
    return caller


def _remember_public_url(request: Request) -> None:
    """A signed-in visit shows the worker where the server is reached (notify/links.py)."""
    archive = get_archive(request)
    seen = getattr(request.app.state, "seen_url", None)
    if seen is not None and not archive.settings.base_url:
        seen.remember(archive.engine, public_base_url(request))


def staging_queue(request: Request) -> Callable[[str], None]:
    """Hands a staging request to the worker; bound to the archive's queue by ``web.py``."""
    return request.app.state.enqueue_staging


def require_user(request: Request) -> Caller:
    caller = get_caller(request)
    if caller.anonymous:
        raise Unauthorized(caller.problem or "Log in, or send an API token, to do this.")
    return caller


def client_address(request: Request) -> str:
    """The client's network address (a trusted proxy's ``X-Forwarded-For`` already applied)."""
    return request.client.host if request.client else "unknown"


def check_csrf(caller: Caller, presented: str | None) -> None:
    """A state change from a portal session must echo the session's CSRF token."""
    session = caller.csrf_token is not None and not caller.via_token
    if session and not csrf_matches(caller.csrf_token or "", presented):
        raise Forbidden("The form has expired or did not come from this site; reload it.")


ArchiveDep = Annotated[Archive, Depends(get_archive)]
CallerDep = Annotated[Caller, Depends(get_caller)]
UserDep = Annotated[Caller, Depends(require_user)]
#: The archive's public base URL for this request (see :mod:`skyarchive.api.urls`).
PublicUrlDep = Annotated[str, Depends(public_base_url)]
StagingQueueDep = Annotated[Callable[[str], None], Depends(staging_queue)]
ClientAddressDep = Annotated[str, Depends(client_address)]
