"""An idle keep-alive connection outlives a client's own expiry of it.

httpx gives up an idle connection after 5 s, as uvicorn closed one by default: a request sent
on it as the server closed it met "connection reset" instead of an answer. The server keeps
one open longer (``web.KEEP_ALIVE_SECONDS``), as a proxy's pool needs too; this sends two
requests on one connection, idle longer than the old timeout between them.
"""

from __future__ import annotations

import socket
import time

import pytest

from skyarchive.web import KEEP_ALIVE_SECONDS
from tests.e2e.conftest import LiveServer

IDLE_SECONDS = 6.0  # past uvicorn's default of 5 s


def _answer_status(conn: socket.socket, port: int) -> bytes:
    """The status line of one GET of the home page on ``conn``, its whole answer read."""
    conn.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("closed before an answer")
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))  # fmt: skip
    while len(body) < length:
        body += conn.recv(65536)
    return head.split(b"\r\n", 1)[0]


@pytest.mark.slow
def test_an_idle_connection_is_kept_past_a_clients_expiry(live_server: LiveServer) -> None:
    assert KEEP_ALIVE_SECONDS > IDLE_SECONDS
    port = int(live_server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        assert _answer_status(conn, port) == b"HTTP/1.1 200 OK"
        time.sleep(IDLE_SECONDS)
        assert _answer_status(conn, port) == b"HTTP/1.1 200 OK"  # the same connection
