"""Request-scoped dependencies shared by every HTTP face."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from skyarchive.access.policy import ANONYMOUS, Caller
from skyarchive.archive import Archive


def get_archive(request: Request) -> Archive:
    return request.app.state.archive


def get_caller(request: Request) -> Caller:
    """The authenticated caller (accounts and tokens arrive with the access issue)."""
    return ANONYMOUS


ArchiveDep = Annotated[Archive, Depends(get_archive)]
CallerDep = Annotated[Caller, Depends(get_caller)]
