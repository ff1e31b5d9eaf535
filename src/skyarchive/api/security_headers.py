"""The security headers of every answer of the archive, set in one ASGI middleware.

* every page: a Content-Security-Policy that lets only our own origin's scripts, styles and
  images load (no inline script, no inline event handlers), and no framing
  (``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``);
* every answer: ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: same-origin``
  (links with a staging request's id never leak to another site);
* HTML pages and answers to requests that carry credentials (token, session or basket
  cookie): ``Cache-Control: no-store``, so no shared or back-button cache keeps tokens or
  account data;
* the interactive API docs (Swagger UI, ReDoc) need inline script: their pages get a policy
  that allows exactly the inline scripts the page itself carries (by hash) and the script
  host they load from, nothing else.

A response that sets one of these headers itself keeps its own value (file responses set a
stricter, sandboxing policy in :mod:`skyarchive.api.file_headers`).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable

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
_DOCS_HOSTS = "https://cdn.jsdelivr.net"
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)
_CREDENTIAL_COOKIES = (SESSION_COOKIE, "mast_token", BASKET_COOKIE, "skyarchive_csrf")


def docs_csp(body: bytes) -> str:
    """The policy for an API docs page: its own inline scripts (by hash) and the CDN."""
    scripts = " ".join(_hash(m.decode("utf-8", "replace")) for m in _INLINE_SCRIPT.findall(body))
    return (
        f"default-src 'self'; script-src 'self' {_DOCS_HOSTS} {scripts}; "
        f"style-src 'self' 'unsafe-inline' {_DOCS_HOSTS} https://fonts.googleapis.com; "
        "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: "
        "https://fastapi.tiangolo.com https://cdn.redoc.ly; worker-src 'self' blob:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )


class SecurityHeadersMiddleware:
    """Adds the headers above to every HTTP answer (streamed ones too, without buffering)."""

    def __init__(self, app: ASGIApp, *, docs_paths: Iterable[str] = ()) -> None:
        self.app = app
        self.docs_paths = frozenset(p for p in docs_paths if p)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path in self.docs_paths:
            await self._docs(scope, receive, send)
            return
        credentials = _carries_credentials(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                _add(message, PAGE_CSP, no_store=credentials and not path.startswith("/static/"))
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Docs pages are small: hold the answer to hash its inline scripts."""
        start: Message | None = None
        body = bytearray()

        async def hold(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] == "http.response.body" and start is not None:
                body.extend(message.get("body", b""))
                if message.get("more_body", False):
                    return
                _add(start, docs_csp(bytes(body)), no_store=True)
                await send(start)
                await send({"type": "http.response.body", "body": bytes(body)})
                return
            await send(message)

        await self.app(scope, receive, hold)


def _carries_credentials(scope: Scope) -> bool:
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
