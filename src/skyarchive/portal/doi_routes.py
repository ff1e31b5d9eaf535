"""DOI pages: "Create a DOI" and each DOI's landing page (``/doi/<prefix>/<suffix>``).

The landing page shows the data set's description, how to cite it (text, BibTeX), its
DataCite JSON and schema.org JSON-LD as data blocks (``<script type="application/...json">``
is never run, so the page policy's ``script-src 'self'`` holds), its observations with links
to search them, and one-click downloads through the delivery façade; it says which
observations are still exclusive and when they turn public.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from skyarchive.access.policy import Caller
from skyarchive.api.deps import ArchiveDep, CallerDep, PublicUrlDep, check_csrf
from skyarchive.api.errors import PageRoute
from skyarchive.delivery import basket as baskets
from skyarchive.doi.agency import DATACITE, agency_of
from skyarchive.doi.datasets import MAX_OBSERVATIONS, Availability, datasets_of
from skyarchive.doi.service import landing_page, publish_doi
from skyarchive.portal.routes import caller_facts, templates

router = APIRouter(include_in_schema=False, route_class=PageRoute)
_MJD_ZERO = datetime(1858, 11, 17, tzinfo=UTC)


def mjd_date(mjd: float) -> str:
    """An MJD as the date people read, e.g. ``2027-05-01``."""
    return (_MJD_ZERO + timedelta(days=mjd)).strftime("%Y-%m-%d")


def availability_text(rights: Availability, caller: Caller) -> list[str]:
    """What the landing page says about who may retrieve the data set now, and from when."""
    if rights.everyone:
        return [f"All {rights.total} observations are public: anyone may retrieve their files."]
    lines = [f"{rights.restricted} of {rights.total} observations are in their exclusive-access "
             "period."]  # fmt: skip
    if rights.public_from is not None:
        first = mjd_date(rights.next_release or rights.public_from)
        last = mjd_date(rights.public_from)
        when = f"on {last}" if first == last else f"between {first} and {last}"
        lines.append(f"Their files become retrievable by everyone {when}.")
    else:
        lines.append("Some have no release date yet; their files become retrievable by everyone "
                     "once they are public.")  # fmt: skip
    if rights.yours == rights.restricted:
        lines.append("You may retrieve them now (you are their program's PI, authorised by the "
                     "PI, or an archive admin).")  # fmt: skip
    else:
        who = "Log in with an account the PI authorised, or wait" if caller.anonymous else "Wait"
        lines.append(f"{who}: until then downloads hold the public observations"
                     + (f" and the {rights.yours} you may read" if rights.yours else "")
                     + " and list the others as not included.")  # fmt: skip
    return lines


@router.get("/doi/new", response_class=HTMLResponse)
def create_page(
    request: Request,
    archive: ArchiveDep,
    caller: CallerDep,
    source: Literal["basket", "search"] = "basket",
) -> Response:
    """ "Create a DOI": describe a data set built from a search result or the basket."""
    if caller.anonymous:
        here = quote(f"/doi/new?source={source}", safe="")
        return RedirectResponse(f"/login?next={here}", status_code=303)
    with archive.engine.connect() as conn:
        basket_id = baskets.find_basket(
            conn, caller=caller, cookie=None, anonymous_days=archive.settings.anonymous_basket_days
        )
        in_basket = len(baskets.basket_obsids(conn, basket_id=basket_id))
        mine = datasets_of(conn, user_id=int(caller.user_id or 0))
    page_data = {"caller": caller_facts(caller), "source": source, "basket": in_basket,
                 "limit": MAX_OBSERVATIONS}  # fmt: skip
    context = {
        "caller": caller, "page_data": page_data, "source": source, "in_basket": in_basket,
        "limit": MAX_OBSERVATIONS, "datasets": mine,
        "agency": agency_of(archive.settings).name == DATACITE,
        "prefix": archive.settings.doi_prefix,
    }  # fmt: skip
    return templates.TemplateResponse(request, "doi_new.html", context)


@router.get("/doi/{prefix}/{suffix}", response_class=HTMLResponse)
def landing(
    prefix: str, suffix: str, request: Request, archive: ArchiveDep, caller: CallerDep,
    base: PublicUrlDep,
) -> HTMLResponse:  # fmt: skip
    """A DOI's landing page."""
    found = landing_page(archive.engine, archive.settings, caller=caller,
                         doi=f"{prefix}/{suffix}", base_url=base)  # fmt: skip
    doi = found.dataset.doi
    search_all = f"/search?collection=doi&q={quote(doi, safe='')}"
    context = {
        "caller": caller, "page": found, "dataset": found.dataset,
        "availability": availability_text(found.availability, caller),
        "search_all": search_all, "mjd_date": mjd_date,
        "observation_link": _observation_link,
        "datacite_text": json.dumps(found.datacite, indent=2, ensure_ascii=False),
        "publisher": archive.settings.doi_publisher,
        "files": f"/doi/{quote(doi, safe='/')}",
    }  # fmt: skip
    return templates.TemplateResponse(request, "doi_landing.html", context)


def _observation_link(obsid: int) -> str:
    filters = json.dumps([{"paramName": "obsid", "values": [str(obsid)]}])
    return f"/search?collection=filters&filters={quote(filters, safe='')}"


@router.post("/doi/{prefix}/{suffix}/publish")
def publish(
    prefix: str, suffix: str, archive: ArchiveDep, caller: CallerDep, base: PublicUrlDep,
    csrf_token: Annotated[str, Form()] = "",
) -> RedirectResponse:  # fmt: skip
    """Make a reserved DOI findable at DataCite (the owner or an admin), then show its page."""
    check_csrf(caller, csrf_token)
    found = publish_doi(archive.engine, archive.settings, caller=caller,
                        doi=f"{prefix}/{suffix}", base_url=base)  # fmt: skip
    return RedirectResponse(f"/doi/{found.doi}", status_code=303)
