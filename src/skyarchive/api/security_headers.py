"""The security headers of every answer of the archive, set in one ASGI middleware.

* every page: a Content-Security-Policy that lets only our own origin's scripts, styles and
  images load (no inline script, no inline event handlers), and no framing
  (``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``);
* every answer: ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: same-origin``
  (links with a staging request's id never leak to another site);
* HTML pages and answers to requests that carry credentials (token, session or basket
  cookie): ``Cache-Control: no-store``, so no shared or back-button cache keeps tokens or
  account data;
* the interactive API docs at ``/api/docs`` (api/docs.py) are served whole from our origin
  with no inline script, so they live under the same page policy.

A response that sets one of these headers itself keeps its own value (file responses set a
stricter, sandboxing policy in :mod:`skyarchive.api.file_headers`).
"""

from __future__ import annotations

import base64
import hashlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from skyarchive.access.sessions import SESSION_COOKIE
from skyarchive.delivery.basket import BASKET_COOKIE
from skyarchive.delivery.manifest import MANIFEST_STYLE


def _hash(text: str) -> str:
    digest = hashlib.sha256(text.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


#: Our pages. MANIFEST.HTML (also a stand-alone file inside bundles) carries its own <style>,
#: allowed by hash.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; "
    f"style-src 'self' {_hash(MANIFEST_STYLE)}; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
_CREDENTIAL_COOKIES = (SESSION_COOKIE, "mast_token", BASKET_COOKIE, "skyarchive_csrf")


class SecurityHeadersMiddleware:
    """Adds the headers above to every HTTP answer (streamed ones too, without buffering)."""

    def __init__(self, app: ASGIApp, *, image_origins: tuple[str, ...] = ()) -> None:
        self.app = app
        # an operator's external HiPS (config `external_hips_url`) may be drawn on pages
        self.csp = PAGE_CSP.replace(
            "img-src 'self' data:", " ".join(["img-src 'self' data:", *image_origins])
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        credentials = carries_credentials(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                _add(message, self.csp, no_store=credentials and not path.startswith("/static/"))
            await send(message)

        await self.app(scope, receive, send_with_headers)


def carries_credentials(scope: Scope) -> bool:
    """Whether the request presents an API token or one of the portal's cookies: with none,
    its caller is anonymous (``api/deps.py`` then looks nothing up)."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            return True
        if name == b"cookie" and any(c.encode() in value for c in _CREDENTIAL_COOKIES):
            return True
    return False


def _add(message: Message, csp: str, *, no_store: bool) -> None:
    headers = list(message.get("headers", ()))
    present = {name.lower() for name, _ in headers}
    content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
    wanted = {
        b"content-security-policy": csp.encode(),
        b"x-frame-options": b"DENY",
        b"x-content-type-options": b"nosniff",
        b"referrer-policy": b"same-origin",
    }
    if no_store or content_type.startswith(b"text/html"):
        wanted[b"cache-control"] = b"no-store"
    headers += [(name, value) for name, value in wanted.items() if name not in present]
    message["headers"] = headers
