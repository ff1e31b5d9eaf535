"""Account pages: sign up, log in and out, password, sessions, API tokens, PIs' program access.

Every form carries a CSRF token: the session's own once logged in, before that a random value
also set as a cookie (double submit). Failure messages never say whether an email is known.
Wrong passwords slow down the next attempts of that client address for that account
(``access/login_throttle.py``); a new password ends the account's other sessions.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from skyarchive.access import grants, login_throttle, sessions, tokens, users
from skyarchive.access.policy import Caller
from skyarchive.access.sessions import SESSION_COOKIE, csrf_matches
from skyarchive.api.deps import ArchiveDep, CallerDep, check_csrf, client_address
from skyarchive.api.errors import PageRoute
from skyarchive.errors import BadQuery, Forbidden, NotFound
from skyarchive.ingest import release
from skyarchive.notify.events import Opened

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters["datetime"] = lambda t: (
    datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC") if t else "—"
)
templates.env.filters["mjd"] = lambda mjd: (
    datetime.fromtimestamp((mjd - 40587.0) * 86400.0, UTC).strftime("%Y-%m-%d") if mjd else "—"
)
router = APIRouter(include_in_schema=False, route_class=PageRoute)
PRE_SESSION_COOKIE = "skyarchive_csrf"
LOGIN_FAILED = "Email or password is wrong, or the account is disabled."
Text = Annotated[str, Form()]


def _page(request: Request, name: str, caller: Caller, status: int = 200, **context) -> Response:  # type: ignore[no-untyped-def]
    csrf = caller.csrf_token or request.cookies.get(PRE_SESSION_COOKIE) or secrets.token_urlsafe(24)
    response = templates.TemplateResponse(
        request, name, {"caller": caller, "csrf_token": csrf, **context}, status_code=status
    )
    if caller.csrf_token is None and request.cookies.get(PRE_SESSION_COOKIE) != csrf:
        response.set_cookie(PRE_SESSION_COOKIE, csrf, httponly=True, samesite="strict")
    return response


def _check_form(request: Request, caller: Caller, presented: str) -> None:
    """The form's CSRF token: the session's once logged in (as :func:`_page` wrote it), else
    the pre-session cookie's."""
    if caller.csrf_token is not None:
        check_csrf(caller, presented)
    elif not csrf_matches(request.cookies.get(PRE_SESSION_COOKIE) or "", presented):
        raise Forbidden("The form has expired or did not come from this site; reload it.")


def _admit_guess(request: Request, archive, email: str) -> int:  # type: ignore[no-untyped-def]
    """0 when this client may give a password for ``email`` now, else the seconds to wait."""
    settings = archive.settings
    delays = login_throttle.Delays(
        free=settings.login_free_failures, base=settings.login_delay_seconds,
        maximum=settings.login_max_delay_seconds,
        address_free=settings.login_address_free_failures,
        address_window=settings.login_address_window_seconds,
    )  # fmt: skip
    with archive.engine.begin() as conn:  # committed before the password is checked
        return login_throttle.admit_attempt(conn, email=email, client=client_address(request),
                                            delays=delays)  # fmt: skip


def _wait_answer(response: Response, wait: int) -> Response:
    response.headers["Retry-After"] = str(wait)
    return response


def _wait_message(wait: int) -> str:
    return (f"Too many wrong passwords from your address, for this account or for many "
            f"accounts; try again in {wait} seconds.")  # fmt: skip


def _start_session(request: Request, archive, user_id: int, target: str) -> Response:  # type: ignore[no-untyped-def]
    """Log the user in: a new session, its cookie, and a redirect to ``target``."""
    with archive.engine.begin() as conn:
        cookie, _ = sessions.start_session(
            conn, user_id, client_address=client_address(request),
            user_agent=request.headers.get("user-agent"),
        )  # fmt: skip
    response = RedirectResponse(_safe_next(target), status_code=303)
    response.set_cookie(
        SESSION_COOKIE, cookie, httponly=True, samesite="lax",
        secure=archive.settings.secure_cookies, max_age=int(sessions.SESSION_SECONDS),
    )  # fmt: skip
    response.delete_cookie(PRE_SESSION_COOKIE)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, caller: CallerDep, next: str = "/account") -> Response:  # noqa: A002
    return _page(request, "account_login.html", caller, next=_safe_next(next))


@router.post("/login")
def login(
    request: Request, archive: ArchiveDep, caller: CallerDep, email: Text, password: Text,
    csrf_token: Text, next: Annotated[str, Form()] = "/account",  # noqa: A002
) -> Response:  # fmt: skip
    _check_form(request, caller, csrf_token)
    wait = _admit_guess(request, archive, email)
    if wait:
        return _wait_answer(_page(request, "account_login.html", caller, 429,
                                  error=_wait_message(wait), next=next), wait)  # fmt: skip
    with archive.engine.begin() as conn:
        user = users.authenticate(conn, email, password)
        if user is None:
            return _page(request, "account_login.html", caller, 401, error=LOGIN_FAILED,
                         next=next)  # fmt: skip
        login_throttle.clear_failures(conn, email=email, client=client_address(request))
    return _start_session(request, archive, user.user_id, next)


@router.post("/logout")
def logout(request: Request, archive: ArchiveDep, caller: CallerDep, csrf_token: Text) -> Response:
    check_csrf(caller, csrf_token)
    with archive.engine.begin() as conn:
        sessions.end_session(conn, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request, archive: ArchiveDep, caller: CallerDep) -> Response:
    if not archive.settings.allow_signup:
        return _page(request, "account_signup.html", caller, 403, closed=True)
    return _page(request, "account_signup.html", caller)


@router.post("/signup")
def signup(
    request: Request, archive: ArchiveDep, caller: CallerDep, email: Text, display_name: Text,
    password: Text, csrf_token: Text,
) -> Response:  # fmt: skip
    _check_form(request, caller, csrf_token)
    if not archive.settings.allow_signup:
        return _page(request, "account_signup.html", caller, 403, closed=True)
    try:
        users.normalise_email(email)
        users.check_password_strength(password)
    except BadQuery as exc:
        return _page(request, "account_signup.html", caller, 400, error=exc.message)
    try:
        with archive.engine.begin() as conn:
            users.create_user(conn, email=email, display_name=display_name, password=password)
    except BadQuery:
        pass  # already registered: answer exactly as for a new account
    message = "If this email was not registered yet, your account is ready. Log in to continue."
    return _page(request, "account_login.html", caller, message=message, next="/account")


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, archive: ArchiveDep, caller: CallerDep) -> Response:
    if caller.anonymous or caller.via_token:
        return RedirectResponse("/login?next=/account", status_code=303)
    return _account_page(request, archive, caller)


@router.post("/account/password")
def change_password(
    request: Request, archive: ArchiveDep, caller: CallerDep, current: Text, new: Text,
    csrf_token: Text,
) -> Response:  # fmt: skip
    _signed_in(caller, csrf_token)
    # The current password is a password guess too: it is slowed down as log-ins are.
    email = caller.email or ""
    wait = _admit_guess(request, archive, email)
    if wait:
        return _wait_answer(_account_page(request, archive, caller, status=429,
                                          error=_wait_message(wait)), wait)  # fmt: skip
    with archive.engine.begin() as conn:
        if users.authenticate(conn, email, current) is None:
            return _account_error(request, archive, caller, "The current password is wrong.")
        login_throttle.clear_failures(conn, email=email, client=client_address(request))
        try:
            users.set_password(conn, caller.user_id or 0, new, keep_session=caller.session_id)
        except BadQuery as exc:
            return _account_error(request, archive, caller, exc.message)
    return RedirectResponse("/account?changed=password", status_code=303)


@router.post("/account/sessions/{session_id}/end")
def end_session(
    session_id: str, request: Request, archive: ArchiveDep, caller: CallerDep, csrf_token: Text
) -> Response:
    """End one of the caller's sessions (their own current one logs them out)."""
    _signed_in(caller, csrf_token)
    with archive.engine.begin() as conn:
        if not sessions.end_session_by_id(conn, session_id, user_id=caller.user_id or 0):
            raise NotFound("You have no such session; it may have ended already.")
    if session_id == caller.session_id:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response
    return RedirectResponse("/account?changed=session", status_code=303)


@router.post("/account/sessions/end-others")
def end_other_sessions(archive: ArchiveDep, caller: CallerDep, csrf_token: Text) -> Response:
    _signed_in(caller, csrf_token)
    with archive.engine.begin() as conn:
        sessions.end_all_sessions(conn, caller.user_id or 0, keep=caller.session_id)
    return RedirectResponse("/account?changed=sessions", status_code=303)


@router.post("/account/tokens")
def create_token(
    request: Request, archive: ArchiveDep, caller: CallerDep, name: Text, days: Text,
    csrf_token: Text,
) -> Response:  # fmt: skip
    _signed_in(caller, csrf_token)
    try:
        lifetime = float(days)
        with archive.engine.begin() as conn:
            token, info = tokens.create_token(
                conn, user_id=caller.user_id or 0, name=name, days=lifetime,
                max_days=archive.settings.token_max_days,
            )  # fmt: skip
    except (ValueError, BadQuery) as exc:
        message = exc.message if isinstance(exc, BadQuery) else f"{days!r} is not a number of days."
        return _account_error(request, archive, caller, message)
    return _page(request, "account_token_created.html", caller, token=token, info=info)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(
    token_id: int, archive: ArchiveDep, caller: CallerDep, csrf_token: Text
) -> Response:
    _signed_in(caller, csrf_token)
    with archive.engine.begin() as conn:
        tokens.revoke_token(conn, token_id, user_id=caller.user_id or 0)
    return RedirectResponse("/account?changed=token", status_code=303)


@router.get("/account/programs/{proposal_id}", response_class=HTMLResponse)
def program_access_page(
    request: Request, proposal_id: str, archive: ArchiveDep, caller: CallerDep
) -> Response:
    if caller.anonymous or caller.via_token:
        return RedirectResponse(f"/login?next=/account/programs/{proposal_id}", status_code=303)
    with archive.engine.connect() as conn:
        grants.ensure_may_manage(conn, proposal_id, user_id=caller.user_id or 0,
                                 is_admin=caller.is_admin)  # fmt: skip
        people = grants.authorised_users(conn, proposal_id)
        _, last = grants.program_release_summary(conn, proposal_id)
    return _page(request, "account_program.html", caller, proposal_id=proposal_id, people=people,
                 release=last, saved=_saved_settings(request))  # fmt: skip


def _saved_settings(request: Request) -> str | None:
    """What the admin's last change of settings did, as the redirect after it carries it."""
    query = request.query_params
    if query.get("result") != "settings":
        return None
    counts = [query.get(name, "") for name in ("public", "events")]
    if not all(count.isascii() and count.isdigit() and len(count) <= 12 for count in counts):
        return "Saved."
    files, events = (int(count) for count in counts)
    return f"Saved: {release.opened_sentence(Opened(files=files, events=events))}."


@router.post("/account/programs/{proposal_id}/grant")
def program_grant(
    request: Request, proposal_id: str, archive: ArchiveDep, caller: CallerDep, email: Text,
    csrf_token: Text,
) -> Response:  # fmt: skip
    _signed_in(caller, csrf_token)
    with archive.engine.begin() as conn:
        grants.ensure_may_manage(conn, proposal_id, user_id=caller.user_id or 0,
                                 is_admin=caller.is_admin)  # fmt: skip
        try:
            user = users.find_user(conn, email)
        except NotFound:
            user = None
        if user is not None:
            grants.grant(conn, proposal_id, user_id=user.user_id, granted_by=caller.user_id)
    note = "added" if user is not None else "unknown"
    return RedirectResponse(f"/account/programs/{proposal_id}?result={note}", status_code=303)


@router.post("/account/programs/{proposal_id}/revoke/{user_id}")
def program_revoke(
    proposal_id: str, user_id: int, archive: ArchiveDep, caller: CallerDep, csrf_token: Text
) -> Response:
    _signed_in(caller, csrf_token)
    with archive.engine.begin() as conn:
        grants.ensure_may_manage(conn, proposal_id, user_id=caller.user_id or 0,
                                 is_admin=caller.is_admin)  # fmt: skip
        grants.revoke(conn, proposal_id, user_id=user_id)
    return RedirectResponse(f"/account/programs/{proposal_id}?result=removed", status_code=303)


@router.post("/account/programs/{proposal_id}/settings")
def program_settings(
    proposal_id: str, archive: ArchiveDep, caller: CallerDep, csrf_token: Text,
    pi_email: Annotated[str, Form()] = "", eap_months: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    """Admins only: change the program's PI and exclusive-access period."""
    _signed_in(caller, csrf_token)
    if not caller.is_admin:
        raise Forbidden("Only archive admins change a program's PI or release period.")
    months = eap_months.strip()
    if months and not months.isdigit():
        raise BadQuery(f"Exclusive-access months must be a whole number, not {months!r}.")
    with archive.engine.begin() as conn:
        if pi_email.strip():
            grants.set_pi(conn, proposal_id, user_id=users.find_user(conn, pi_email).user_id)
        opened = release.set_eap_months(
            conn, proposal_id, int(months) if months else None,
            default_months=archive.settings.default_eap_months,
        )  # fmt: skip
    query = urlencode({"result": "settings", "public": opened.files, "events": opened.events})
    return RedirectResponse(f"/account/programs/{proposal_id}?{query}", status_code=303)


def _signed_in(caller: Caller, csrf_token: str) -> None:
    if caller.anonymous or caller.via_token:
        raise Forbidden("Log in on the portal to change your account.")
    check_csrf(caller, csrf_token)


def _account_error(request: Request, archive, caller: Caller, message: str) -> Response:  # type: ignore[no-untyped-def]
    return _account_page(request, archive, caller, status=400, error=message)


def _account_page(
    request: Request, archive, caller: Caller, status: int = 200, **extra
) -> Response:  # type: ignore[no-untyped-def]
    with archive.engine.connect() as conn:
        own_tokens = tokens.list_tokens(conn, user_id=caller.user_id or 0)
        own_sessions = sessions.list_sessions(conn, user_id=caller.user_id or 0)
        led = grants.programs_led_by(conn, caller.user_id or 0)
    return _page(request, "account.html", caller, status, tokens=own_tokens, programs=led,
                 sessions=own_sessions, changed=request.query_params.get("changed"),
                 default_days=archive.settings.token_default_days,
                 max_days=archive.settings.token_max_days, **extra)  # fmt: skip


def _safe_next(target: str) -> str:
    """Only same-site paths: never redirect a login to another host."""
    return target if target.startswith("/") and not target.startswith("//") else "/account"
