"""The archive's public URL, as the client reached it.

Every URL the server hands out (cURL scripts, manifests, staging links and e-mails,
client-config) starts with :func:`public_base_url`, so one rule decides it: the operator's
``base_url`` setting when given, else the URL of the request itself.
"""

from __future__ import annotations

from fastapi import Request


def public_base_url(request: Request) -> str:
    """The base URL to write into anything a client will follow later (no trailing slash)."""
    configured = request.app.state.archive.settings.base_url
    if configured:
        return str(configured).rstrip("/")
    return str(request.base_url).rstrip("/")
