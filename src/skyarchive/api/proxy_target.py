"""Accept absolute-form request targets for the hosts we stand in for.

astroquery's name resolver calls ``http://mastresolver.stsci.edu/Santa-war/query`` on a fixed host.
With ``HTTP_PROXY`` pointed at skyarchive, the request arrives as ``GET http://mastresolver...``.
We answer such requests ourselves for the resolver host only; skyarchive is not an open proxy.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

STAND_IN_HOSTS = frozenset({"mastresolver.stsci.edu"})


class AbsoluteTargetMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "") if scope["type"] == "http" else ""
        if path.startswith(("http://", "https://")):
            target = urlsplit(path)
            if target.hostname not in STAND_IN_HOSTS:
                await _refuse(send, target.hostname or "?")
                return
            scope = {**scope, "path": target.path or "/", "raw_path": target.path.encode()}
        await self.app(scope, receive, send)


async def _refuse(send: Send, host: str) -> None:
    body = f"skyarchive is not a proxy for {host}; only its name resolver is answered here.\n"
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")]})  # fmt: skip
    await send({"type": "http.response.body", "body": body.encode()})
