"""The X-Forwarded-* parsing rules, in process (the real server's behaviour: tests/e2e)."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from skyarchive.api.forwarded import (
    ForwardedHeadersMiddleware,
    forwarded_client,
    forwarded_elements,
    forwarded_hop,
    forwarded_host,
    forwarded_scheme,
)
from skyarchive.config import Settings

PROXIES = (ip_network("10.0.0.0/8"), ip_network("2001:db8::/32"))


@pytest.mark.parametrize(
    ("header", "client"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("198.51.100.7, 203.0.113.9", "203.0.113.9"),  # the left entry may be forged
        ("203.0.113.9, 10.1.2.3", "203.0.113.9"),  # walk past our own proxies
        ("10.9.9.9, 10.1.2.3", "10.9.9.9"),  # all proxies: the leftmost
        ("203.0.113.9:4711", "203.0.113.9"),
        ("[2001:db9::1]:4711", "2001:db9::1"),
        (" 2001:db9::1 ,2001:db8::5", "2001:db9::1"),
        ("garbage", None),
        ("203.0.113.9, garbage", None),
        ("garbage, 203.0.113.9", "203.0.113.9"),  # left of the client is never read
        ("", None),
        ("203.0.113.9,", None),
        ("203.0.113.9, ::ffff:10.1.2.3", "203.0.113.9"),  # a proxy seen through a v6 socket
        ("::ffff:203.0.113.9", "203.0.113.9"),  # one client, one form, one rate-limit key
    ],
)
def test_forwarded_client(header: str, client: str | None) -> None:
    assert forwarded_client(header, PROXIES) == client


@pytest.mark.parametrize(
    ("header", "scheme"),
    [("https", "https"), ("HTTP", "http"), ("http, https", "https"), ("ftp", None), ("", None)],
)
def test_forwarded_scheme(header: str, scheme: str | None) -> None:
    assert forwarded_scheme(header) == scheme


@pytest.mark.parametrize(
    ("header", "host"),
    [
        ("archive.example.org", "archive.example.org"),
        ("archive.example.org:8443", "archive.example.org:8443"),
        ("[2001:db8::1]:8443", "[2001:db8::1]:8443"),
        ("inner.example, archive.example.org", "archive.example.org"),
        ("evil.example.org/path", None),
        ("evil example.org", None),
        ("user@evil.example.org", None),
        ("-evil.example.org", None),
        ("", None),
    ],
)
def test_forwarded_host(header: str, host: str | None) -> None:
    assert forwarded_host(header) == host


def scope_from(peer: str, headers: dict[str, str]) -> dict:  # type: ignore[type-arg]
    return {
        "type": "http",
        "scheme": "http",
        "client": (peer, 5555),
        "headers": [(b"host", b"127.0.0.1:8123")]
        + [(k.lower().encode(), v.encode("latin-1")) for k, v in headers.items()],
    }


def test_control_characters_void_a_header() -> None:
    middleware = ForwardedHeadersMiddleware(lambda *a: None, trusted=PROXIES)  # type: ignore[arg-type,return-value]
    scope = scope_from(
        "10.0.0.1", {"X-Forwarded-Host": "a.example\x00b", "X-Forwarded-For": "1.2.3.4\x7f"}
    )
    middleware.apply(scope)
    assert scope["client"] == ("10.0.0.1", 5555)
    assert dict(scope["headers"])[b"host"] == b"127.0.0.1:8123"


def test_only_a_trusted_peer_rewrites_the_scope() -> None:
    middleware = ForwardedHeadersMiddleware(lambda *a: None, trusted=PROXIES)  # type: ignore[arg-type,return-value]
    sent = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "archive.example.org"}  # fmt: skip
    outside = scope_from("192.0.2.1", sent)
    middleware.apply(outside)
    assert outside == scope_from("192.0.2.1", sent)
    inside = scope_from("10.0.0.1", sent)
    middleware.apply(inside)
    assert inside["client"][0] == "203.0.113.9" and inside["scheme"] == "https"
    assert dict(inside["headers"])[b"host"] == b"archive.example.org"


@pytest.mark.parametrize(
    ("trusted", "peer"),
    [
        ("10.0.0.0/8", "::ffff:10.0.0.1"),  # a dual-stack socket's IPv4 peer, IPv4 entry
        ("10.0.0.1", "::ffff:10.0.0.1"),
        ("::ffff:10.0.0.1", "10.0.0.1"),  # and an operator who wrote the mapped form
    ],
)
def test_ipv4_mapped_peers_match_ipv4_entries(trusted: str, peer: str) -> None:
    middleware = ForwardedHeadersMiddleware(lambda *a: None, trusted=(ip_network(trusted),))  # type: ignore[arg-type,return-value]
    scope = scope_from(peer, {"X-Forwarded-For": "203.0.113.9"})
    middleware.apply(scope)
    assert scope["client"][0] == "203.0.113.9"
    stranger = scope_from("::ffff:192.0.2.1", {"X-Forwarded-For": "203.0.113.9"})
    middleware.apply(stranger)
    assert stranger["client"][0] == "::ffff:192.0.2.1"


def test_trusted_proxies_setting_accepts_addresses_and_networks_and_refuses_garbage() -> None:
    settings = Settings(trusted_proxies="127.0.0.1, 10.0.0.0/8,::1")
    assert [str(n) for n in settings.trusted_proxy_networks] == [
        "127.0.0.1/32", "10.0.0.0/8", "::1/128"
    ]  # fmt: skip
    assert Settings().trusted_proxy_networks == ()
    with pytest.raises(ValueError, match="'example.org' is not an IP address"):
        Settings(trusted_proxies="example.org")


def test_cli_refuses_a_bad_trusted_proxies_setting_in_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    env = {**os.environ, "SKYARCHIVE_TRUSTED_PROXIES": "10.0.0.1,bogus", "COLUMNS": "60"}
    done = subprocess.run(
        [sys.executable, "-m", "skyarchive", "--home", str(tmp_path), "migrate"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "SKYARCHIVE_TRUSTED_PROXIES" in lines[0] and "'bogus'" in lines[0]


@pytest.mark.parametrize(
    ("header", "elements"),
    [
        ("for=192.0.2.60;proto=http;by=203.0.113.43",
         [{"for": "192.0.2.60", "proto": "http", "by": "203.0.113.43"}]),
        ('For="[2001:db8:cafe::17]:4711"', [{"for": "[2001:db8:cafe::17]:4711"}]),
        ("for=192.0.2.43, for=198.51.100.17", [{"for": "192.0.2.43"}, {"for": "198.51.100.17"}]),
        ('host="a\\"b";for=unknown', [{"host": 'a"b', "for": "unknown"}]),
        ('for="a,b"', [{"for": "a,b"}]),  # a comma inside quotes does not split hops
        ("for=[2001:db8::1]", None),
        ("for=1.2.3.4;for=5.6.7.8", None),
        ("for=1.2.3.4,,for=5.6.7.8", None),
        ('for="1.2.3.4', None),
        ("for 1.2.3.4", None),
        ("", None),
    ],
)  # fmt: skip
def test_forwarded_elements(header: str, elements: list[dict[str, str]] | None) -> None:
    assert forwarded_elements(header) == elements


@pytest.mark.parametrize(
    ("header", "client_for"),
    [
        ("for=203.0.113.9", "203.0.113.9"),
        ("for=198.51.100.7, for=203.0.113.9", "203.0.113.9"),  # the left hop may be forged
        ('for=203.0.113.9, for="[2001:db8::5]:80", for=10.1.2.3', "203.0.113.9"),
        ("for=10.9.9.9, for=10.1.2.3", "10.9.9.9"),  # all proxies: the leftmost
        ("for=203.0.113.9, for=unknown", "unknown"),  # a proxy that would not say
        ("for=203.0.113.9, proto=https", None),  # a hop without "for" ends the walk too
    ],
)
def test_forwarded_hop_walks_past_trusted_proxies(header: str, client_for: str | None) -> None:
    hop = forwarded_hop(header, PROXIES)
    assert hop is not None and hop.get("for") == client_for


def test_the_kind_of_proxy_headers_decides_which_are_read() -> None:
    sent = {"X-Forwarded-For": "203.0.113.9", "Forwarded": 'for="[2001:db9::1]";proto=https'}
    standard = ForwardedHeadersMiddleware(lambda *a: None, trusted=PROXIES, kind="forwarded")  # type: ignore[arg-type,return-value]
    scope = scope_from("10.0.0.1", sent)
    standard.apply(scope)
    assert scope["client"][0] == "2001:db9::1" and scope["scheme"] == "https"
    legacy = ForwardedHeadersMiddleware(lambda *a: None, trusted=PROXIES)  # type: ignore[arg-type,return-value]
    scope = scope_from("10.0.0.1", sent)
    legacy.apply(scope)
    assert scope["client"][0] == "203.0.113.9" and scope["scheme"] == "http"
    with pytest.raises(ValueError, match="proxy headers"):
        ForwardedHeadersMiddleware(lambda *a: None, trusted=PROXIES, kind="both")  # type: ignore[arg-type,return-value]
