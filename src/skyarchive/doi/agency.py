"""The DOI registration agency: DataCite's REST API, or none (local drafts).

With ``datacite_url`` set, a reserved DOI is created at DataCite as a draft (``POST /dois``
without an ``event``) and published later (``PUT /dois/<doi>`` with ``event: publish``), both
as JSON:API documents with HTTP basic authentication. Without it, DOIs stay local drafts and
their DataCite document is exported for registration by hand.

Failures of the agency are translated here into the archive's errors; the password never
appears in a message or a log line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from skyarchive.config import Settings
from skyarchive.errors import BadQuery, Unavailable

LOCAL, DATACITE = "local", "datacite"
DRAFT, REGISTERED, FINDABLE = "draft", "registered", "findable"
STATES = (DRAFT, REGISTERED, FINDABLE)
_MEDIA_TYPE = "application/vnd.api+json"
_TIMEOUT = 20.0


@dataclass(frozen=True)
class Agency:
    """Where DOIs are registered: ``name`` is LOCAL or DATACITE."""

    name: str
    url: str | None = None
    user: str | None = None
    password: str | None = None

    def __repr__(self) -> str:  # the password stays out of tracebacks and logs
        return f"Agency(name={self.name!r}, url={self.url!r}, user={self.user!r})"


def agency_of(settings: Settings) -> Agency:
    if not settings.datacite_url:
        return Agency(LOCAL)
    secret = settings.datacite_password.get_secret_value() if settings.datacite_password else None
    return Agency(DATACITE, settings.datacite_url.rstrip("/"), settings.datacite_user, secret)


def create_draft(agency: Agency, document: dict[str, Any]) -> str:
    """Create the DOI of ``document`` as a draft at the agency; the state it reports."""
    return _send(agency, "POST", "/dois", document, expected=(201,))


def publish(agency: Agency, doi: str, document: dict[str, Any]) -> str:
    """Update the DOI's metadata and make it findable; the state the agency reports."""
    return _send(agency, "PUT", f"/dois/{quote(doi, safe='/')}", document, expected=(200, 201))


def _send(
    agency: Agency, method: str, path: str, document: dict[str, Any], *, expected: tuple[int, ...]
) -> str:
    auth = (agency.user or "", agency.password or "")
    where = f"{agency.url}{path}"
    try:
        with httpx.Client(timeout=_TIMEOUT, auth=auth) as client:
            answer = client.request(
                method, where, json=document,
                headers={"Content-Type": _MEDIA_TYPE, "Accept": _MEDIA_TYPE},
            )  # fmt: skip
    except httpx.HTTPError as exc:
        raise Unavailable(
            f"The DOI registration agency at {agency.url} could not be reached "
            f"({type(exc).__name__}); nothing was reserved, try again later."
        ) from exc
    if answer.status_code in (401, 403):
        raise Unavailable(
            f"DataCite refused the archive's account (HTTP {answer.status_code}); the operator "
            "must check datacite_user and datacite_password."
        )
    if answer.status_code == 422:
        raise BadQuery(f"DataCite refused the metadata: {_problems(answer)}.")
    if answer.status_code not in expected:
        raise Unavailable(
            f"DataCite answered HTTP {answer.status_code} to {method} {path}; try again later."
        )
    try:
        state = answer.json()["data"]["attributes"]["state"]
    except (ValueError, KeyError, TypeError):
        raise Unavailable("DataCite's answer did not say the DOI's state.") from None
    if state not in STATES:
        raise Unavailable(f"DataCite reported an unknown DOI state {str(state)[:40]!r}.")
    return str(state)


def _problems(answer: httpx.Response) -> str:
    try:
        errors = answer.json().get("errors", [])
        return (
            "; ".join(
                f"{e.get('source', '')}: {e.get('title', '')}".strip(": ") for e in errors[:5]
            )
            or "no reason given"
        )
    except (ValueError, AttributeError):
        return "no reason given"
