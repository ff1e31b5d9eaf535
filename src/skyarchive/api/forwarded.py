"""Believe ``X-Forwarded-*`` (or RFC 7239 ``Forwarded``) only from the proxies the operator named.

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

Proxies that write the standard ``Forwarded`` header instead (``for=...;proto=...;host=...``,
one element per hop) are read the same way when the ``proxy_headers`` setting says so: the
walk from the right past trusted proxies picks the element the outermost trusted proxy wrote,
whose ``for`` is the client and whose ``proto`` and ``host`` are what the client asked for. Only
the kind the operator names is read: a proxy passes the other kind through untouched, so a
client could write it.
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
#: RFC 7230 token characters, and an RFC 7239 ``name=value`` pair whose value is a token or a
#: quoted string (where a backslash escapes the next character).
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_PAIR = re.compile(rf'[ \t]*({_TOKEN})=({_TOKEN}|"(?:[^"\\]|\\.)*")[ \t]*')
_UNQUOTE = re.compile(r"\\(.)")
HEADER_KINDS = ("x-forwarded", "forwarded")
_WS_SCHEMES = {"http": "ws", "https": "wss"}
_X_FORWARDED = (b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host")


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


def forwarded_elements(header: str) -> list[dict[str, str]] | None:
    """The hops of an RFC 7239 ``Forwarded`` value, left to right, or None if it is malformed.

    Each hop is a dict of its parameters (names in lower case, quoted values unquoted). A
    parameter named twice in one hop, a pair that is not ``name=token`` or ``name="quoted"``,
    or an empty hop makes the whole header malformed.
    """
    elements: list[dict[str, str]] = []
    element: dict[str, str] = {}
    position = 0
    while True:
        pair = _PAIR.match(header, position)
        if pair is None:
            return None
        name, value = pair.group(1).lower(), pair.group(2)
        if name in element:
            return None
        if value.startswith('"'):
            value = _UNQUOTE.sub(r"\1", value[1:-1])
        element[name] = value
        position = pair.end()
        if position == len(header):
            elements.append(element)
            return elements
        if header[position] == ",":
            elements.append(element)
            element = {}
        elif header[position] != ";":
            return None
        position += 1


def forwarded_hop(header: str, networks: Sequence[Network]) -> dict[str, str] | None:
    """The hop of a ``Forwarded`` value that the outermost trusted proxy wrote, or None.

    The same walk as :func:`forwarded_client`: from the right, past hops whose ``for`` is a
    trusted proxy; the first other hop (its ``for`` another address, ``unknown``, an obfuscated
    name, or absent) is the client's. When every hop is a trusted proxy, the leftmost is.
    """
    elements = forwarded_elements(header)
    if elements is None:
        return None
    for element in reversed(elements):
        node = _parse_ip(element.get("for", ""))
        if node is None or not _in_networks(node, networks):
            return element
    return elements[0]


class ForwardedHeadersMiddleware:
    """Apply trusted proxies' forwarding headers to the scope; ignore everyone else's.

    ``kind`` is which headers the proxies write: ``x-forwarded`` (``X-Forwarded-For``,
    ``-Proto``, ``-Host``) or ``forwarded`` (RFC 7239); the other kind is never read.
    """

    def __init__(
        self, app: ASGIApp, *, trusted: Sequence[Network], kind: str = "x-forwarded"
    ) -> None:
        if kind not in HEADER_KINDS:
            raise ValueError(f"proxy headers are one of {HEADER_KINDS}, not {kind!r}")
        self.app = app
        self.trusted = tuple(trusted)
        self.kind = kind

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
        read = (b"forwarded",) if self.kind == "forwarded" else _X_FORWARDED
        for name, value in scope.get("headers", []):
            if name in read:
                text = value.decode("latin-1")
                if any(ord(char) < 0x20 or ord(char) == 0x7F for char in text):
                    continue  # control characters: not a header a proxy of ours wrote
                # Repeated headers count as one comma-separated list, in order.
                headers[name] = f"{headers[name]},{text}" if name in headers else text
        if self.kind == "forwarded":
            hop = forwarded_hop(headers[b"forwarded"], self.trusted) if headers else None
            node = _parse_ip(hop.get("for", "")) if hop else None
            client = str(node) if node is not None else None
            scheme = hop.get("proto") if hop else None
            host = hop.get("host") if hop else None
        else:
            sent = headers.get(b"x-forwarded-for")
            client = forwarded_client(sent, self.trusted) if sent is not None else None
            scheme = headers.get(b"x-forwarded-proto")
            host = headers.get(b"x-forwarded-host")
        self._rewrite(scope, client=client, scheme=scheme, host=host)

    def _rewrite(
        self, scope: Scope, *, client: str | None, scheme: str | None, host: str | None
    ) -> None:
        """Apply what the proxies said (the client's address already found), each part only if
        it is well formed."""
        if client is not None:
            scope["client"] = (client, 0)
        if scheme is not None and (checked := forwarded_scheme(scheme)):
            websocket = scope["type"] == "websocket"
            scope["scheme"] = _WS_SCHEMES[checked] if websocket else checked
        if host is not None and (well_formed := forwarded_host(host)):
            kept = [(k, v) for k, v in scope.get("headers", []) if k != b"host"]
            scope["headers"] = [(b"host", well_formed.encode("latin-1")), *kept]
