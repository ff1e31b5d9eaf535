"""A real skyarchive server (uvicorn on a free port) over the ingested demo archive."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from skyarchive.archive import Archive
from skyarchive.cli import DEMO_HIPS_ORDER
from skyarchive.config import Settings
from skyarchive.ingest.hips import build_hips
from skyarchive.ingest.run import ingest_paths
from skyarchive.web import server_config


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def dual_stack_socket(port: int) -> socket.socket:
    """A listening IPv6 socket on ``port`` (0: one the kernel picks) that takes IPv4
    connections too (mapped addresses)."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind(("::", port))
    sock.listen(128)
    return sock


class LiveServer:
    """The server in a thread. ``dual_stack``: it listens on an IPv6 socket that also takes IPv4
    connections, so a client of 127.0.0.1 reaches it as ``::ffff:127.0.0.1``. ``lifespan``:
    "on" runs the app's startup (reading the name indexes in the background) as a deployed
    server does; off by default, so a test's archive is read only by what the test asks."""

    def __init__(
        self, archive: Archive, *, log_level: str = "warning", dual_stack: bool = False,
        lifespan: str = "off",
    ) -> None:  # fmt: skip
        # A dual-stack socket takes its port from the kernel as it binds: a port found free on
        # 127.0.0.1 and bound again on "::" could be taken in between (a CI run failed so).
        listening = dual_stack_socket(0) if dual_stack else None
        self.port = free_port() if listening is None else listening.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = server_config(
            archive, host="127.0.0.1", port=self.port, log_level=log_level, lifespan=lifespan
        )
        self.app = config.app  # the app served (its state holds the answer cache)
        self.server = uvicorn.Server(config)
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        sockets = None if listening is None else [listening]
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": sockets}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 90  # a busy machine (a full parallel test run) is slow
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def demo_archive(tmp_path_factory: pytest.TempPathFactory, demo_output) -> Iterator[Archive]:  # type: ignore[no-untyped-def]
    """The demo pipeline output ingested into a fresh SQLite archive (once per session)."""
    out, _summary = demo_output
    home = tmp_path_factory.mktemp("e2e-home")
    archive = Archive.open(Settings(home=home))
    report = ingest_paths(
        [Path(out)], engine=archive.engine, storage=archive.storage, default_eap_months=12
    )
    assert report.ok, report.failed
    # the sky view's image, as `skyarchive demo` builds it (a modest order keeps it quick)
    build_hips(engine=archive.engine, storage=archive.storage, max_order=DEMO_HIPS_ORDER)
    yield archive
    archive.close()


@pytest.fixture(scope="session")
def live_server(demo_archive: Archive) -> Iterator[LiveServer]:
    with LiveServer(demo_archive) as server:
        yield server


@pytest.fixture(scope="session")
def mast(live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """astroquery.mast, unmodified, pointed at the live server the way its config file does.

    The in-memory config is what an ``astroquery.cfg`` with ``[mast] server = ...`` produces;
    it has to be set before astroquery.mast is first imported (the client fixes its URLs then).
    """
    import os

    cache = tmp_path_factory.mktemp("astropy-cache")
    os.environ["XDG_CACHE_HOME"] = str(cache)
    from astropy.config.configuration import get_config

    get_config("astroquery.mast")["server"] = live_server.url
    import astroquery.mast as mast_module

    assert mast_module.Observations._portal_api_connection.MAST_REQUEST_URL.startswith(
        live_server.url
    ), "astroquery.mast was imported before the server URL was configured"
    return mast_module


class Inbox:
    """Messages a test SMTP server received (raw bytes)."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        self.messages.append(envelope.content)
        return "250 Message accepted"


@pytest.fixture
def smtp():  # type: ignore[no-untyped-def]
    """A real SMTP server (aiosmtpd) on a free port: yields (port, inbox)."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()
