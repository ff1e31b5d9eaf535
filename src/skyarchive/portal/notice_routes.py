"""In-portal notices: the account menu's unread notices, marking them read, and the Atom feed.

The notices are :mod:`skyarchive.notify.notices` (the subscription events, one source with
the e-mails); this module only renders them. The feed lives at a secret address,
``/feeds/notices/<token>``, for feed readers that cannot log in: the token is random, stored
as SHA-256, shown once when made, and making a new one from the account page revokes the old
address. A wrong or revoked token is a plain 404, like any unknown address.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from skyarchive.access.policy import Caller
from skyarchive.api.deps import ArchiveDep, CallerDep
from skyarchive.api.errors import PageRoute
from skyarchive.api.urls import public_base_url
from skyarchive.errors import NotFound
from skyarchive.notify import notices
from skyarchive.portal.account_routes import _page, _safe_next, _signed_in, templates
from skyarchive.portal.routes import templates as page_templates

router = APIRouter(include_in_schema=False, route_class=PageRoute)
Field = Annotated[str, Form()]
ATOM = "http://www.w3.org/2005/Atom"
MENU_FILES = 8  # file names the account menu shows per notice (the feed shows them all)
FEED_HEADERS = {
    # The address is the secret: no cache or referrer keeps or passes it on.
    "Cache-Control": "private, no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}


def notice_menu(request: Request, caller: Caller) -> dict[str, Any] | None:
    """What the account menu shows: the count of unread notices and the newest notices."""
    if caller.anonymous or caller.via_token or not caller.csrf_token:
        return None
    user_id = caller.user_id or 0
    with request.app.state.archive.engine.connect() as conn:
        unread = notices.unread_count(conn, user_id=user_id)
        newest = notices.list_notices(conn, user_id=user_id)
    return {
        "unread": unread,
        "notices": newest,
        "newest": max((n.created_at for n in newest), default=0.0),
        "files_shown": MENU_FILES,
    }


def feed_address_made(request: Request, caller: Caller) -> bool:
    """Whether the caller has a feed address (the account page then offers a new one)."""
    if caller.anonymous:
        return False
    with request.app.state.archive.engine.connect() as conn:
        return notices.has_feed(conn, user_id=caller.user_id or 0)


# Every page's header shows the menu: the account pages' templates and the search pages'.
for environment in (templates.env, page_templates.env):
    environment.globals["notice_menu"] = notice_menu
    environment.globals["feed_address_made"] = feed_address_made
    environment.filters["iso"] = lambda moment: _iso(moment)
    environment.filters.setdefault("datetime", templates.env.filters["datetime"])


@router.post("/account/notices/read")
def mark_notices_read(
    archive: ArchiveDep, caller: CallerDep, csrf_token: Field = "", upto: Field = "",
    next: Field = "/account",  # noqa: A002
) -> Response:  # fmt: skip
    """Mark the notices the menu showed as read (``upto``: the newest one's time)."""
    _signed_in(caller, csrf_token)
    try:
        until = float(upto)
    except ValueError:
        until = 0.0
    with archive.engine.begin() as conn:
        notices.mark_read(conn, user_id=caller.user_id or 0, upto=until)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/account/feed")
def new_feed_address(
    request: Request, archive: ArchiveDep, caller: CallerDep, csrf_token: Field = ""
) -> Response:
    """Make (or remake) the caller's secret feed address; the old one stops working."""
    _signed_in(caller, csrf_token)
    with archive.engine.begin() as conn:
        token = notices.new_feed_token(conn, user_id=caller.user_id or 0)
    url = f"{public_base_url(request)}/feeds/notices/{token}"
    return _page(request, "account_feed_created.html", caller, feed_url=url)


@router.get("/feeds/notices/{token}")
def notice_feed(request: Request, token: str, archive: ArchiveDep) -> Response:
    """The Atom feed of a user's notices, opened by its secret token alone."""
    with archive.engine.connect() as conn:
        user_id = notices.feed_owner(conn, token)
        if user_id is None:
            raise NotFound("No such feed. Its address may have been replaced on the account page.")
        found = notices.list_notices(conn, user_id=user_id, limit=notices.FEED_NOTICES)
    body = atom_feed(found, base=public_base_url(request), user_id=user_id)
    return Response(body, media_type="application/atom+xml; charset=utf-8", headers=FEED_HEADERS)


def atom_feed(found: list[notices.Notice], *, base: str, user_id: int) -> bytes:
    """An Atom (RFC 4287) document of ``found``, newest first."""
    ET.register_namespace("", ATOM)

    def add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        element.text = text
        return element

    feed = ET.Element(f"{{{ATOM}}}feed")
    # Stable per user, and reveals neither the token nor the e-mail address.
    add(feed, "id", uuid.uuid5(uuid.NAMESPACE_URL, f"{base}/feeds/notices#{user_id}").urn)
    add(feed, "title", "skyarchive: news of the programs you follow")
    newest = max((n.created_at for n in found), default=0.0)
    add(feed, "updated", _iso(newest))
    author = add(feed, "author")
    add(author, "name", "skyarchive")
    add(feed, "link", rel="alternate", type="text/html", href=f"{base}/account#subscriptions")
    add(feed, "generator", "skyarchive")
    for notice in found:
        entry = add(feed, "entry")
        add(entry, "id", uuid.uuid5(uuid.NAMESPACE_URL, f"{base}/notices/{notice.key}").urn)
        add(entry, "title", notice.title)
        add(entry, "updated", _iso(notice.created_at))
        program_url = f"{base}/search?collection=program&q={notice.proposal_id}"
        add(entry, "link", rel="alternate", type="text/html", href=program_url)
        for kind in notice.kinds:
            add(entry, "category", term=kind)
        add(entry, "content", notice_text(notice), type="text")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def notice_text(notice: notices.Notice) -> str:
    """The notice as plain text: what the e-mail says (kinds, observations, each file once)."""
    lines = [notice.title, ""]
    if notice.observations:
        lines.append(f"Observations ({len(notice.observations)}):")
        lines += [f"  {obs_id}" for obs_id in notice.observations]
    lines.append(f"Files ({len(notice.files)}):")
    lines += [f"  {f.filename}  ({', '.join(f.kinds)})" for f in notice.files]
    return "\n".join(lines) + "\n"


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@router.get("/account/notices", response_class=HTMLResponse)
def notices_page(request: Request, archive: ArchiveDep, caller: CallerDep) -> Response:
    """Every notice in full (the menu shows the newest few, each file list cut short)."""
    if caller.anonymous or caller.via_token:
        return RedirectResponse("/login?next=/account/notices", status_code=303)
    with archive.engine.connect() as conn:
        found = notices.list_notices(conn, user_id=caller.user_id or 0,
                                     limit=notices.FEED_NOTICES)  # fmt: skip
    return _page(request, "notices.html", caller, found=found)
