"""The Subscriptions section of the account page: follow programs' data by e-mail.

Only signed-in portal users (not API tokens) manage subscriptions; every form carries the
session's CSRF token, and a user can see and remove only their own subscriptions.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from skyarchive.access.policy import Caller
from skyarchive.api.deps import ArchiveDep, CallerDep
from skyarchive.api.errors import PageRoute
from skyarchive.errors import BadQuery
from skyarchive.notify import subscriptions as subs
from skyarchive.portal.account_routes import Text, _account_page, _signed_in, templates

router = APIRouter(include_in_schema=False, route_class=PageRoute)


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


@router.post("/account/subscriptions")
def add_subscriptions(
    request: Request, archive: ArchiveDep, caller: CallerDep, program_ids: Text, csrf_token: Text,
    kinds: Annotated[list[str] | None, Form()] = None, frequency: Annotated[str, Form()] = "fast",
    collection: Annotated[str, Form()] = "JWST",
) -> Response:  # fmt: skip
    _signed_in(caller, csrf_token)
    try:
        programs = subs.parse_program_ids(program_ids)
        with archive.engine.begin() as conn:
            subs.subscribe(
                conn, user_id=caller.user_id or 0, program_ids=programs, kinds=kinds or [],
                frequency=frequency, collection=collection,
            )  # fmt: skip
    except BadQuery as exc:
        return _account_page(request, archive, caller, status=400, subscription_error=exc.message)
    return RedirectResponse("/account?changed=subscriptions#subscriptions", status_code=303)


@router.post("/account/subscriptions/{subscription_id}/remove")
def remove_subscription(
    subscription_id: int, archive: ArchiveDep, caller: CallerDep, csrf_token: Text
) -> Response:
    _signed_in(caller, csrf_token)
    with archive.engine.begin() as conn:
        subs.unsubscribe(conn, subscription_id, user_id=caller.user_id or 0)
    return RedirectResponse("/account?changed=subscriptions#subscriptions", status_code=303)
