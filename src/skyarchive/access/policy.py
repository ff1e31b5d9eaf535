"""The one rule that decides whether a caller may retrieve a file.

Every path by which bytes leave the archive (downloads, ranges, bundles, scripts, staging,
previews) calls :func:`check_retrieval`. Metadata stays visible to everyone.
"""

from __future__ import annotations

from dataclasses import dataclass

from skyarchive.access.rights import PUBLIC, data_rights
from skyarchive.errors import Forbidden, Unauthorized


@dataclass(frozen=True)
class Caller:
    """Who is asking. ``user_id`` None means anonymous."""

    user_id: int | None = None
    email: str | None = None
    display_name: str | None = None
    is_admin: bool = False
    programs: frozenset[str] = frozenset()  # programs whose exclusive data the caller may read
    via_token: bool = False
    csrf_token: str | None = None  # set for portal sessions; forms and JSON posts must echo it
    problem: str | None = None  # why presented credentials were refused
    session_id: str | None = None  # the portal session this request came with

    @property
    def anonymous(self) -> bool:
        return self.user_id is None


ANONYMOUS = Caller()


def may_retrieve(
    caller: Caller, *, proposal_id: str | None, t_obs_release: float | None, now: float
) -> bool:
    if data_rights(t_obs_release, now=now) == PUBLIC:
        return True
    return caller.is_admin or (proposal_id is not None and proposal_id in caller.programs)


def retrieval_scope(caller: Caller) -> tuple[str, ...] | None:
    """All of ``caller`` that :func:`may_retrieve` reads, as a value two callers share exactly
    when the rule answers them alike for every file: None for an admin (every file), else the
    programs whose exclusive data they read, sorted (empty: public files only, as anonymous).
    An answer that tells what its caller may retrieve may be kept per scope (the answer cache,
    ``api/answer_cache.py``)."""
    return None if caller.is_admin else tuple(sorted(caller.programs))


def check_retrieval(
    caller: Caller,
    *,
    filename: str,
    proposal_id: str | None,
    t_obs_release: float | None,
    now: float,
) -> None:
    """Raise Unauthorized (anonymous) or Forbidden (signed in) unless ``caller`` may read it."""
    if may_retrieve(caller, proposal_id=proposal_id, t_obs_release=t_obs_release, now=now):
        return
    how = (
        f"{filename} is in the exclusive-access period of program {proposal_id}. "
        "Only the program's PI, people the PI has authorised, and archive admins may download it"
    )
    if caller.anonymous and caller.problem:
        raise Unauthorized(f"{caller.problem} {how}.")
    if caller.anonymous:
        raise Unauthorized(
            f"{how}; log in, or send an API token (Authorization: token <token>, or the "
            "mast_token cookie that astroquery's Observations.login(token=...) sets)."
        )
    raise Forbidden(f"{how}; ask the PI of program {proposal_id} to authorise {caller.email}.")


def check_engineering_access(caller: Caller) -> None:
    """Engineering telemetry (EDB) is for signed-in users only, as at MAST: Unauthorized else.

    The pipeline's client sends ``Authorization: token <MAST_API_TOKEN>``; the portal's EDB
    page a session.
    """
    if not caller.anonymous:
        return
    reason = f"{caller.problem} " if caller.problem else ""
    raise Unauthorized(
        f"{reason}Engineering data (EDB) needs a signed-in user: log in, or send an API token "
        "(Authorization: token <token>; the jwst pipeline reads it from MAST_API_TOKEN)."
    )
