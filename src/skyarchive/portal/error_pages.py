"""The portal's error page: what a browser sees when a page (or a path nobody serves) fails.

It is rendered without asking who the caller is: the failing piece may be the database itself.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from skyarchive.errors import SkyArchiveError
from skyarchive.portal.routes import templates

TITLES = {400: "That did not work", 401: "Please log in", 403: "Not allowed",
          404: "Page not found", 405: "Not possible here", 413: "Too large",
          416: "Range not satisfiable", 429: "Please wait",
          500: "Something went wrong"}  # fmt: skip


def error_page(request: Request, exc: SkyArchiveError) -> Response:
    """The error page for ``exc``, with its HTTP status and the ways back into the archive."""
    context = {
        "status": exc.status,
        "title": TITLES.get(exc.status, "Error"),
        "message": exc.message,
        "login": exc.status in (401, 403),
    }
    return templates.TemplateResponse(request, "error.html", context, status_code=exc.status)
