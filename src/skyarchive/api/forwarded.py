"""Believe ``X-Forwarded-*`` headers only from the reverse proxies the operator named.

Behind a reverse proxy every connection comes from the proxy, which tells who the client was
(``X-Forwarded-For``), which scheme it used (``X-Forwarded-Proto``) and which host it asked for
(``X-Forwarded-Host``). Anyone can send those headers, so they count only when the direct peer is
in the ``trusted_proxies`` setting. Then this middleware rewrites the ASGI scope in place, before
any route runs, so ``request.client.host`` (login delays, rate limits), ``request.base_url``
(every URL handed out, see :mod:`skyarchive.api.urls`) and uvicorn's access log all agree.

The client is the rightmost ``X-Forwarded-For`` address that is not itself a trusted proxy (each
proxy appends the peer it saw, so entries left of it may be forged). A malformed header (an entry
that is not an IP address, a scheme other than http/https, a host with characters a host cannot
have) is ignored as a whole: the request keeps what the connection itself says.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from starlette.types import ASGIApp, Receive, Scope, Send

Network = IPv4Network | IPv6Network

#: A host name or IPv4 address, or a bracketed IPv6 address, with an optional port.
_HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?"
)
_SCHEMES = {"http": "http", "https": "https"}
_WS_SCHEMES = {"http": "ws", "https": "wss"}


def is_trusted(address: str, networks: Sequence[Network]) -> bool:
    """Whether ``address`` (an IP address as text) lies in one of the trusted networks."""
    try:
        parsed = ip_address(address)
    except ValueError:
        return False
    return _in_networks(_unmapped(parsed), networks)


def _unmapped(address: IPv4Address | IPv6Address) -> IPv4Address | IPv6Address:
    """An IPv4-mapped IPv6 address (``::ffff:10.0.0.1``) as the IPv4 address it carries.

    A server listening on a dual-stack IPv6 socket (``--host ::``) sees IPv4 peers in that form;
    they are the same hosts as the IPv4 entries of ``trusted_proxies``.
    """
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _in_networks(address: IPv4Address | IPv6Address, networks: Sequence[Network]) -> bool:
    """Membership that also holds for an IPv4 address in an IPv4-mapped IPv6 entry."""
    forms: list[IPv4Address | IPv6Address] = [address]
    if isinstance(address, IPv4Address):
        forms.append(IPv6Address(f"::ffff:{address}"))
    return any(form in network for form in forms for network in networks)


def _parse_ip(entry: str) -> IPv4Address | IPv6Address | None:
    text = entry.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:4711"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "192.0.2.1:4711"
        text = text.split(":", 1)[0]
    try:
        return _unmapped(ip_address(text))
    except ValueError:
        return None


def forwarded_client(header: str, networks: Sequence[Network]) -> str | None:
    """The client address an ``X-Forwarded-For`` value names, or None if it is malformed.

    Walks from the right past trusted proxies; the first other address is the client. When every
    entry is a trusted proxy, the leftmost one is.
    """
    found: str | None = None
    for entry in reversed(header.split(",")):
        parsed = _parse_ip(entry)
        if parsed is None:
            return None
        found = str(parsed)
        if not _in_networks(parsed, networks):
            return found
    return found


def forwarded_scheme(header: str) -> str | None:
    """``http`` or ``https`` from the rightmost ``X-Forwarded-Proto`` entry, else None."""
    return _SCHEMES.get(header.rsplit(",", 1)[-1].strip().lower())


def forwarded_host(header: str) -> str | None:
    """The rightmost ``X-Forwarded-Host`` entry if it is a well-formed host[:port], else None."""
    host = header.rsplit(",", 1)[-1].strip()
    return host if _HOST.fullmatch(host) else None


class ForwardedHeadersMiddleware:
    """Apply trusted proxies' ``X-Forwarded-*`` headers to the scope; ignore everyone else's."""

    def __init__(self, app: ASGIApp, *, trusted: Sequence[Network]) -> None:
        self.app = app
        self.trusted = tuple(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.trusted:
            self.apply(scope)
        await self.app(scope, receive, send)

    def apply(self, scope: Scope) -> None:
        """Rewrite ``scope`` in place (uvicorn logs from the same dict) when the peer is trusted."""
        peer = scope.get("client")
        if not peer or not is_trusted(peer[0], self.trusted):
            return
        headers: dict[bytes, str] = {}
        for name, value in scope.get("headers", []):
            if name in (b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host"):
                text = value.decode("latin-1")
                if any(ord(char) < 0x20 or ord(char) == 0x7F for char in text):
                    continue  # control characters: not a header a proxy of ours wrote
                # Repeated headers count as one comma-separated list, in order.
                headers[name] = f"{headers[name]},{text}" if name in headers else text
        if (sent := headers.get(b"x-forwarded-for")) is not None:
            client = forwarded_client(sent, self.trusted)
            if client is not None:
                scope["client"] = (client, 0)
        if (sent := headers.get(b"x-forwarded-proto")) is not None:
            scheme = forwarded_scheme(sent)
            if scheme is not None:
                websocket = scope["type"] == "websocket"
                scope["scheme"] = _WS_SCHEMES[scheme] if websocket else scheme
        if (sent := headers.get(b"x-forwarded-host")) is not None:
            host = forwarded_host(sent)
            if host is not None:
                kept = [(k, v) for k, v in scope.get("headers", []) if k != b"host"]
                scope["headers"] = [(b"host", host.encode("latin-1")), *kept]
