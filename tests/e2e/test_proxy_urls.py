"""Handed-out URLs follow the port and proxy the client really used; X-Forwarded-* only from
trusted proxies.

The shared ``live_server`` runs with ``base_url`` unset on a free port, so every URL it writes
must come from the request. A second server over the same catalog trusts 127.0.0.1 as a proxy.
uvicorn's access log (the one log of client addresses) is read through a handler of our own.
"""

from __future__ import annotations

import io
import logging
import re
import subprocess
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from skyarchive.access import users
from skyarchive.access.rights import now_mjd
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.tables import observations, products
from tests.e2e.conftest import LiveServer
from tests.e2e.test_access_security import portal_login

PASSWORD = "a long enough password"
SPOOFED = {
    "X-Forwarded-For": "203.0.113.9",
    "X-Forwarded-Host": "evil.example.org",
    "X-Forwarded-Proto": "https",
}


class Records(logging.Handler):
    """What uvicorn's access logger writes, from the moment :meth:`listen` is called."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.lines: list[str] = []
        self.logger = logging.getLogger("uvicorn.access")

    def listen(self) -> None:
        # After the server's start: uvicorn's logging set-up replaces the logger's handlers.
        self.logger.setLevel(logging.INFO)
        self.logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def client_of(self, marker: str) -> str:
        """The client address uvicorn logged for the one request whose path holds ``marker``."""
        found = [line for line in self.lines if marker in line]
        assert len(found) == 1, (marker, self.lines)
        return found[0].split(" - ", 1)[0].rsplit(":", 1)[0]


@pytest.fixture
def access_log() -> Iterator[Records]:
    records = Records()
    try:
        yield records
    finally:
        records.logger.removeHandler(records)


@pytest.fixture(scope="module")
def public_file(demo_archive: Archive) -> tuple[str, str]:
    """(data URI, obsid) of a file whose observation is public."""
    with demo_archive.engine.connect() as conn:
        row = conn.execute(
            select(products.c.dataURI, observations.c.obsid)
            .join(observations, observations.c.obsid == products.c.owner_obsid)
            .where(observations.c.t_obs_release < now_mjd(), products.c.productType == "SCIENCE")
            .order_by(products.c.product_id)
            .limit(1)
        ).one()
    return str(row.dataURI), str(row.obsid)


def script_urls(script: str) -> set[str]:
    """The origins (scheme://host[:port]) of every http(s) URL in a script."""
    return set(re.findall(r"https?://[^/\s'\")]+", script))


def manifest_source(bundle: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        name = next(n for n in archive.namelist() if n.endswith("MANIFEST.HTML"))
        page = archive.read(name).decode()
    return page.split("<p>From ", 1)[1].split(" for ", 1)[0]


def test_urls_follow_the_real_port_when_base_url_is_unset(live_server, public_file) -> None:  # type: ignore[no-untyped-def]
    assert live_server.url.rsplit(":", 1)[1] != "8000"
    uri, obsid = public_file
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        assert client.get("/").status_code == 200
        script = client.post("/api/v0.1/Download/bundle.sh", data={"uri": uri}).text
        bundle = client.get("/api/v0.1/Download/bundle.zip", params={"uri": uri})
        mrp = client.get("/api/v0.1/Download/mrp", params={"obsid": obsid})
    assert script_urls(script) == {live_server.url}
    assert bundle.status_code == 200 and manifest_source(bundle.content) == live_server.url
    assert mrp.status_code == 200 and manifest_source(mrp.content) == live_server.url


def test_astroquery_curl_script_downloads_from_the_real_port(
    mast, public_file, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _uri, obsid = public_file
    files = mast.Observations.get_product_list(obsid)
    files = files[files["productType"] == "SCIENCE"][:1]
    manifest = mast.Observations.download_products(
        files, download_dir=str(tmp_path), curl_flag=True
    )
    script = Path(manifest["Local Path"][0])
    text = script.read_text()
    assert script_urls(text) == {mast.conf.server}
    run = subprocess.run(
        ["bash", str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    fetched = [p for p in tmp_path.rglob(str(files["productFilename"][0])) if p.is_file()]
    assert len(fetched) == 1 and fetched[0].stat().st_size == int(files["size"][0])


def test_forwarded_headers_from_an_untrusted_peer_change_nothing(
    demo_archive: Archive, public_file: tuple[str, str], access_log: Records
) -> None:
    uri, _obsid = public_file
    with LiveServer(demo_archive, log_level="info") as server:
        access_log.listen()
        with httpx.Client(base_url=server.url, timeout=60, headers=SPOOFED) as client:
            script = client.post("/api/v0.1/Download/bundle.sh?mark=untrusted", data={"uri": uri})
            bundle = client.get("/api/v0.1/Download/bundle.zip", params={"uri": uri})
    assert script_urls(script.text) == {server.url}
    assert manifest_source(bundle.content) == server.url
    assert access_log.client_of("mark=untrusted") == "127.0.0.1"


def _behind_a_proxy(demo_archive: Archive, **settings: str) -> Iterator[LiveServer]:
    """A server over the demo catalog that trusts 127.0.0.1 as its reverse proxy."""
    archive = Archive.open(
        Settings(home=demo_archive.settings.home, trusted_proxies="127.0.0.1", **settings)
    )
    try:
        with LiveServer(archive, log_level="info") as server:
            yield server
    finally:
        archive.engine.dispose()


@pytest.fixture(scope="module")
def proxied_server(demo_archive: Archive) -> Iterator[LiveServer]:
    yield from _behind_a_proxy(demo_archive)


def test_trusted_proxy_headers_give_https_urls_and_the_client_address(
    proxied_server: LiveServer, public_file: tuple[str, str], access_log: Records
) -> None:
    uri, obsid = public_file
    access_log.listen()
    proxy = {
        # The client forged the left entry; our proxy appended the address it saw.
        "X-Forwarded-For": "198.51.100.7, 203.0.113.9",
        "X-Forwarded-Host": "archive.example.org",
        "X-Forwarded-Proto": "https",
    }
    with httpx.Client(base_url=proxied_server.url, timeout=60, headers=proxy) as client:
        script = client.post("/api/v0.1/Download/bundle.sh?mark=trusted", data={"uri": uri})
        mrp = client.get("/api/v0.1/Download/mrp", params={"obsid": obsid})
    assert script_urls(script.text) == {"https://archive.example.org"}
    assert manifest_source(mrp.content) == "https://archive.example.org"
    assert access_log.client_of("mark=trusted") == "203.0.113.9"


def test_an_ipv4_proxy_reaching_a_dual_stack_socket_is_trusted(
    demo_archive: Archive, public_file: tuple[str, str], access_log: Records
) -> None:
    """The peer is ``::ffff:127.0.0.1`` on an IPv6 socket; ``trusted_proxies`` names 127.0.0.1."""
    uri, _obsid = public_file
    settings = Settings(home=demo_archive.settings.home, trusted_proxies="127.0.0.1")
    archive = Archive.open(settings)
    proxy = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https",
             "X-Forwarded-Host": "archive.example.org"}  # fmt: skip
    try:
        with LiveServer(archive, log_level="info", dual_stack=True) as server:
            access_log.listen()
            with httpx.Client(base_url=server.url, timeout=60) as client:
                plain = client.post("/api/v0.1/Download/bundle.sh?mark=mapped-peer",
                                    data={"uri": uri})  # fmt: skip
                proxied = client.post("/api/v0.1/Download/bundle.sh?mark=mapped-proxy",
                                      data={"uri": uri}, headers=proxy)  # fmt: skip
    finally:
        archive.engine.dispose()
    # the connection really arrived IPv4-mapped, and the proxy's headers were believed
    assert access_log.client_of("mark=mapped-peer") == "::ffff:127.0.0.1"
    assert script_urls(plain.text) == {server.url}
    assert access_log.client_of("mark=mapped-proxy") == "203.0.113.9"
    assert script_urls(proxied.text) == {"https://archive.example.org"}


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Forwarded-For", "not-an-address"),
        ("X-Forwarded-For", "203.0.113.9, 999.1.1.1"),
        ("X-Forwarded-For", "203.0.113.9,"),
        ("X-Forwarded-Host", "evil.example.org/x?"),
        ("X-Forwarded-Host", "evil example.org"),
        ("X-Forwarded-Host", "evil.example.org\tx"),
        ("X-Forwarded-Host", "evil.example.org:99999999"),
        ("X-Forwarded-Proto", "javascript"),
        ("X-Forwarded-Proto", "ftp"),
    ],
)
def test_malformed_forwarded_headers_from_a_trusted_proxy_are_ignored(
    proxied_server: LiveServer,
    public_file: tuple[str, str],
    access_log: Records,
    header: str,
    value: str,
) -> None:
    uri, _obsid = public_file
    access_log.listen()
    with httpx.Client(base_url=proxied_server.url, timeout=60) as client:
        answer = client.post(
            "/api/v0.1/Download/bundle.sh?mark=malformed", data={"uri": uri},
            headers={header: value},
        )  # fmt: skip
    assert answer.status_code == 200
    assert script_urls(answer.text) == {proxied_server.url}
    assert access_log.client_of("mark=malformed") == "127.0.0.1"


@pytest.fixture(scope="module")
def rfc7239_server(demo_archive: Archive) -> Iterator[LiveServer]:
    """A server whose trusted proxy (127.0.0.1) writes RFC 7239 ``Forwarded`` headers."""
    yield from _behind_a_proxy(demo_archive, proxy_headers="forwarded")


def test_a_trusted_proxys_forwarded_header_names_the_client_scheme_and_host(
    rfc7239_server: LiveServer, public_file: tuple[str, str], access_log: Records
) -> None:
    """Three hops: a forged one, the outer proxy's (IPv6 client), and our own proxy's."""
    uri, obsid = public_file
    access_log.listen()
    hops = ('for=198.51.100.7;proto=http;host=forged.example.org, '
            'for="[2001:db8:cafe::17]:4711";proto=https;host=archive.example.org, '
            'for=127.0.0.1;proto=http;host=inner.example')  # fmt: skip
    # X-Forwarded-* is not what this proxy writes: a client could have sent it
    headers = {"Forwarded": hops, **SPOOFED}
    with httpx.Client(base_url=rfc7239_server.url, timeout=60, headers=headers) as client:
        script = client.post("/api/v0.1/Download/bundle.sh?mark=rfc7239", data={"uri": uri})
        mrp = client.get("/api/v0.1/Download/mrp", params={"obsid": obsid})
    assert script.status_code == 200, script.text
    assert script_urls(script.text) == {"https://archive.example.org"}
    assert manifest_source(mrp.content) == "https://archive.example.org"
    assert access_log.client_of("mark=rfc7239") == "2001:db8:cafe::17"


@pytest.mark.parametrize(
    "value",
    [
        "for=[2001:db8::1]",  # an IPv6 node must be quoted
        'for="[2001:db8::1"',
        'for="203.0.113.9',  # an unterminated quoted string
        "for=203.0.113.9;for=198.51.100.7",  # a parameter twice in one hop
        "for=203.0.113.9,",  # an empty hop
        "for=203.0.113.9 proto=https",
        "for",
        "",
        'for=unknown;proto=javascript;host="evil.example.org/x"',
        'for=_hidden;proto=ftp;host="evil example.org"',
        "for=999.1.1.1",
    ],
)
def test_a_malformed_forwarded_header_is_ignored(
    rfc7239_server: LiveServer, public_file: tuple[str, str], access_log: Records, value: str
) -> None:
    uri, _obsid = public_file
    access_log.listen()
    with httpx.Client(base_url=rfc7239_server.url, timeout=60) as client:
        answer = client.post("/api/v0.1/Download/bundle.sh?mark=bad7239", data={"uri": uri},
                             headers={"Forwarded": value})  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert script_urls(answer.text) == {rfc7239_server.url}
    assert access_log.client_of("mark=bad7239") == "127.0.0.1"


def test_a_proxy_of_x_forwarded_headers_does_not_pass_on_a_forged_forwarded_header(
    proxied_server: LiveServer, public_file: tuple[str, str], access_log: Records
) -> None:
    uri, _obsid = public_file
    access_log.listen()
    forged = {"Forwarded": "for=203.0.113.9;proto=https;host=evil.example.org"}
    with httpx.Client(base_url=proxied_server.url, timeout=60, headers=forged) as client:
        answer = client.post("/api/v0.1/Download/bundle.sh?mark=forged7239", data={"uri": uri})
    assert script_urls(answer.text) == {proxied_server.url}
    assert access_log.client_of("mark=forged7239") == "127.0.0.1"


def new_account(archive: Archive, name: str) -> str:
    email = f"{name}-{uuid.uuid4().hex[:8]}@example.org"
    with archive.engine.begin() as conn:
        users.create_user(conn, email=email, password=PASSWORD)
    return email


def behind_proxy(server: LiveServer, client_address: str) -> httpx.Client:
    """A browser whose requests reach ``server`` through a proxy on 127.0.0.1 that names it."""
    headers = {"X-Forwarded-For": client_address}
    return httpx.Client(base_url=server.url, timeout=60, headers=headers)


def test_login_delays_count_the_client_a_trusted_proxy_names(
    proxied_server: LiveServer, demo_archive: Archive
) -> None:
    """Behind the proxy every connection comes from 127.0.0.1; the delay is still per client."""
    email = new_account(demo_archive, "behind-proxy")
    free = demo_archive.settings.login_free_failures
    with behind_proxy(proxied_server, "198.51.100.20") as guesser:
        for _ in range(free):
            assert portal_login(guesser, email, "guess guess guess").status_code == 401
        assert portal_login(guesser, email, PASSWORD).status_code == 429
    with behind_proxy(proxied_server, "198.51.100.21") as owner:
        assert portal_login(owner, email, PASSWORD).status_code == 303  # not locked out
        sessions = owner.get("/account").text.split('<table id="sessions">')[1]
        assert "198.51.100.21" in sessions.split("</table>")[0]  # the address the proxy named


def test_an_untrusted_client_cannot_escape_its_delay_by_forging_x_forwarded_for(
    live_server: LiveServer, demo_archive: Archive
) -> None:
    email = new_account(demo_archive, "forger")
    free = demo_archive.settings.login_free_failures
    for attempt in range(free):
        with behind_proxy(live_server, f"198.51.100.{100 + attempt}") as forger:
            assert portal_login(forger, email, "guess guess guess").status_code == 401
    with behind_proxy(live_server, "198.51.100.250") as forger:
        assert portal_login(forger, email, PASSWORD).status_code == 429
