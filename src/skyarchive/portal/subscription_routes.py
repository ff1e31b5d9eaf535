"""Subscriptions: follow programs' data, from the account page or where one meets a program.

Only signed-in portal users (not API tokens) manage subscriptions; every form carries the
session's CSRF token, and a user can see and remove only their own subscriptions. An
observation row, its details and a program's page link to ``/subscribe`` with the program
filled in; anonymous visitors are sent to log in and come back. Saving answers with a
confirmation page ("Subscribed to JWST program 4567: New, Public; weekly").
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from skyarchive.access.policy import Caller
from skyarchive.api.deps import ArchiveDep, CallerDep
from skyarchive.api.errors import PageRoute
from skyarchive.errors import BadQuery
from skyarchive.notify import subscriptions as subs
from skyarchive.portal.account_routes import _account_page, _page, _safe_next, _signed_in, templates

router = APIRouter(include_in_schema=False, route_class=PageRoute)
Field = Annotated[str, Form()]
SUBSCRIBE_PAGE = "subscribe"  # the ``origin`` of the form on /subscribe


def subscription_panel(request: Request, caller: Caller) -> dict[str, Any]:
    """What ``_subscriptions.html`` shows: the caller's own subscriptions and the choices."""
    found: list[subs.Subscription] = []
    if not caller.anonymous:
        with request.app.state.archive.engine.connect() as conn:
            found = subs.list_subscriptions(conn, user_id=caller.user_id or 0)
    return {
        "subscriptions": found,
        "kinds": subs.KIND_HELP,
        "frequencies": subs.FREQUENCY_LABELS,
        "collections": subs.COLLECTIONS,
    }


templates.env.globals["subscription_panel"] = subscription_panel


def confirmation(subscription: subs.Subscription) -> str:
    """The line that confirms a saved subscription, e.g. ``Subscribed to JWST program 4567:
    New, Public; weekly``."""
    return (
        f"Subscribed to {subscription.obs_collection} program {subscription.proposal_id}: "
        f"{', '.join(subscription.kinds)}; {subscription.frequency}"
    )


@router.get("/subscribe", response_class=HTMLResponse)
def subscribe_form(
    request: Request, archive: ArchiveDep, caller: CallerDep, program: str = "",
    collection: str = "JWST", next: str = "/account",  # noqa: A002
) -> Response:  # fmt: skip
    """The subscription form for one program, met on a results row, its details or its page."""
    if caller.anonymous or caller.via_token:
        asked = {"program": program, "collection": collection, "next": next}
        here = f"/subscribe?{urlencode(asked)}"
        return RedirectResponse(f"/login?next={quote(here, safe='')}", status_code=303)
    existing = None
    with archive.engine.connect() as conn:
        for held in subs.list_subscriptions(conn, user_id=caller.user_id or 0):
            if (held.obs_collection, held.proposal_id) == (collection.upper(), program.lstrip("0")):
                existing = held
    return _subscribe_page(request, caller, program=program, collection=collection, next=next,
                           existing=existing)  # fmt: skip


@router.post("/account/subscriptions")
def add_subscriptions(
    request: Request, archive: ArchiveDep, caller: CallerDep, csrf_token: Field = "",
    program_ids: Field = "", kinds: Annotated[list[str] | None, Form()] = None,
    frequency: Field = "fast", collection: Field = "JWST", origin: Field = "account",
    next: Field = "/account#subscriptions",  # noqa: A002
) -> Response:  # fmt: skip
    # Every field has a default: a missing one is told in the form, not as a raw 422 page.
    _signed_in(caller, csrf_token)
    try:
        programs = subs.parse_program_ids(program_ids)
        with archive.engine.begin() as conn:
            saved = subs.subscribe(
                conn, user_id=caller.user_id or 0, program_ids=programs, kinds=kinds or [],
                frequency=frequency, collection=collection,
            )  # fmt: skip
    except BadQuery as exc:
        if origin == SUBSCRIBE_PAGE:
            return _subscribe_page(request, caller, program=program_ids, collection=collection,
                                   next=next, status=400, error=exc.message,
                                   chosen=kinds or [], frequency=frequency)  # fmt: skip
        return _account_page(request, archive, caller, status=400, subscription_error=exc.message)
    query = urlencode({"ids": ",".join(str(s.subscription_id) for s in saved), "next": next})
    return RedirectResponse(f"/account/subscriptions/saved?{query}", status_code=303)


@router.get("/account/subscriptions/saved", response_class=HTMLResponse)
def subscriptions_saved(
    request: Request, archive: ArchiveDep, caller: CallerDep, ids: str = "",
    next: str = "/account#subscriptions",  # noqa: A002
) -> Response:  # fmt: skip
    """The confirmation after saving: what the caller now follows, and the way back."""
    if caller.anonymous or caller.via_token:
        return RedirectResponse("/login?next=/account", status_code=303)
    wanted = {int(part) for part in ids.split(",") if part.strip().isdigit()}
    with archive.engine.connect() as conn:
        mine = subs.list_subscriptions(conn, user_id=caller.user_id or 0)
    lines = [confirmation(s) for s in mine if s.subscription_id in wanted]
    return _page(request, "subscribed.html", caller, lines=lines, next=_safe_next(next))


@router.post("/account/subscriptions/{subscription_id}/remove")
def remove_subscription(
    subscription_id: int, archive: ArchiveDep, caller: CallerDep, csrf_token: Field = ""
) -> Response:
    _signed_in(caller, csrf_token)
    with archive.engine.begin() as conn:
        subs.unsubscribe(conn, subscription_id, user_id=caller.user_id or 0)
    return RedirectResponse("/account?changed=subscriptions#subscriptions", status_code=303)


def _subscribe_page(
    request: Request, caller: Caller, *, program: str, collection: str, next: str,  # noqa: A002
    status: int = 200, error: str | None = None, existing: subs.Subscription | None = None,
    chosen: list[str] | None = None, frequency: str | None = None,
) -> Response:  # fmt: skip
    if existing is not None:
        chosen, frequency = list(existing.kinds), existing.frequency
    return _page(
        request, "subscribe.html", caller, status, program=program,
        collection=collection.upper() if collection.upper() in subs.COLLECTIONS else "JWST",
        next=_safe_next(next), error=error, existing=existing,
        chosen=set(chosen) if chosen else set(subs.KINDS), frequency=frequency or "fast",
        kinds=subs.KIND_HELP, frequencies=subs.FREQUENCY_LABELS, collections=subs.COLLECTIONS,
    )  # fmt: skip
