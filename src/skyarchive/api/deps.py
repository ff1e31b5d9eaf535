"""Request-scoped dependencies shared by every HTTP face.

``CallerDep`` is who is asking: a user from an API token (``Authorization: token <t>`` or
``Bearer <t>``, or astroquery's ``mast_token`` cookie) or from a portal session cookie; else
anonymous. A refused token yields an anonymous caller that remembers why, so a download can
answer 401 with the reason while public searches still work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from skyarchive.access.caller import Credential, credential_of, token_from_headers
from skyarchive.access.policy import Caller
from skyarchive.access.sessions import SESSION_COOKIE, csrf_matches
from skyarchive.api.security_headers import carries_credentials
from skyarchive.api.urls import public_base_url
from skyarchive.archive import Archive
from skyarchive.errors import Forbidden, Unauthorized

CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
T = TypeVar("T")


def get_archive(request: Request) -> Archive:
    return request.app.state.archive


def get_caller(request: Request) -> Caller:
    """The caller (looked up in the catalogue: call it from a worker thread)."""
    cached = _caller_read(request)
    if cached is not None:
        return cached
    found = credential_of(*_credentials(request))
    if isinstance(found, Caller):  # nothing to look up: no connection taken
        _remember_caller(request, found)
        return found
    with get_archive(request).lookup_engine.begin() as conn:
        rows = conn.execute(found.lookup.statement, {"digest": found.digest}).all()
        caller = found.caller(conn, rows)
    _remember_caller(request, caller)
    if caller.csrf_token is not None and not caller.via_token:
        _remember_public_url(request)
    return caller


def _remember_public_url(request: Request) -> None:
    """A signed-in visit shows the worker where the server is reached (notify/links.py)."""
    archive = get_archive(request)
    seen = getattr(request.app.state, "seen_url", None)
    if seen is not None and not archive.settings.base_url:
        seen.remember(archive.engine, public_base_url(request))


async def caller_dependency(request: Request) -> Caller:
    """:func:`get_caller` as a route's dependency: a request without credentials (most
    searches and public downloads) is answered on the event loop, with no hand-off to a worker
    thread; one with a token or a session cookie is looked up in a worker thread."""
    if caller_known(request):
        return get_caller(request)  # no lookup to wait for
    return await run_in_threadpool(get_caller, request)


def caller_known(request: Request) -> bool:
    """Whether :func:`get_caller` answers without a look-up: the caller was read already, or
    the request presents no credentials (an anonymous caller)."""
    return _caller_read(request) is not None or _credentials(request) == (None, None)


def presented_credential(request: Request) -> Credential | None:
    """The API token or portal session the request presents, ready to look up; None when
    its caller is already known or needs no look-up (no credentials, a malformed token):
    ``Download/file`` reads the credential's caller with the file's row, in one statement
    (``delivery.files.find_product_and_caller``)."""
    if _caller_read(request) is not None:
        return None
    found = credential_of(*_credentials(request))
    return None if isinstance(found, Caller) else found


def _caller_read(request: Request) -> Caller | None:
    """The caller :func:`get_caller` read for this request already, or None. Kept in the
    scope's state dict itself (what ``request.state`` wraps), read and written only here and
    in :func:`_remember_caller`: ``request.state`` answers a missing name with an
    AttributeError, whose making cost more than the rest of an anonymous caller's check."""
    state = request.scope.get("state")
    return None if state is None else state.get(_CALLER)


def _remember_caller(request: Request, caller: Caller) -> None:
    request.scope.setdefault("state", {})[_CALLER] = caller


_CALLER = "caller"  # the key of the request's caller in its scope's state


def _credentials(request: Request) -> tuple[str | None, str | None]:
    """The API token and the session cookie a request presents (None when absent)."""
    if not carries_credentials(request.scope):  # most searches: no header to parse
        return None, None
    token = token_from_headers(
        request.headers.get("authorization"), request.cookies.get("mast_token")
    )
    return token, request.cookies.get(SESSION_COOKIE) or None


async def user_dependency(request: Request) -> Caller:
    """The signed-in caller; Unauthorized for anyone else (see :func:`require_user`)."""
    return _signed_in(await caller_dependency(request))


def staging_queue(request: Request) -> Callable[[str], None]:
    """Hands a staging request to the worker; bound to the archive's queue by ``web.py``."""
    return request.app.state.enqueue_staging


def require_user(request: Request) -> Caller:
    return _signed_in(get_caller(request))


def _signed_in(caller: Caller) -> Caller:
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


def on_the_loop(read: Callable[[Request], T]) -> Callable[[Request], Awaitable[T]]:
    """``read`` (a quick look at the request, no I/O) as a dependency FastAPI runs on the event
    loop: a plain function would be handed to a worker thread and back, which costs more than
    the read itself (docs/performance.md, "Per-request cost")."""

    async def dependency(request: Request) -> T:
        return read(request)

    return dependency


ArchiveDep = Annotated[Archive, Depends(on_the_loop(get_archive))]
CallerDep = Annotated[Caller, Depends(caller_dependency)]
UserDep = Annotated[Caller, Depends(user_dependency)]
#: The archive's public base URL for this request (see :mod:`skyarchive.api.urls`).
PublicUrlDep = Annotated[str, Depends(on_the_loop(public_base_url))]
StagingQueueDep = Annotated[Callable[[str], None], Depends(on_the_loop(staging_queue))]
ClientAddressDep = Annotated[str, Depends(on_the_loop(client_address))]
