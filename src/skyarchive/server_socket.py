"""The listening socket of each ``serve --workers N`` process.

Kept apart from :mod:`skyarchive.web` and light to import on purpose: uvicorn's supervisor
sends the listener to each worker process it spawns, which unpickles it (and imports this
module) before it can answer the supervisor's health checks; a worker that needed the whole
web application for that could miss them on a busy machine and be killed and started again
and again.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

#: Whether this system lets several sockets listen on one port (Linux, the BSDs, macOS).
REUSE_PORT = hasattr(socket, "SO_REUSEPORT")


class ListenerPerProcess:
    """The listening socket handed to uvicorn's supervisor, which sends it to every worker
    process it starts: there it becomes a socket of that process's own, bound to the same
    address with ``SO_REUSEPORT``.

    Why not one socket shared by all workers, as uvicorn does: every worker then waits on
    it, and the first to wake accepts every pending connection at once (asyncio accepts up
    to the backlog in one go). A client that opens its keep-alive connections together (a
    load generator, a proxy's pool) found nearly all of them in one process, which ran at
    full load while the other idled. With a socket per process the kernel picks the socket
    of each new connection by a hash of its addresses, so connections spread evenly.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    def __reduce__(self) -> tuple[Any, tuple[str, int]]:
        return (reuse_port_socket, (self.host, self.port))


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port`` beside the other workers' (in a worker process,
    as uvicorn's supervisor passes it the listener); a worker that cannot bind stops the
    server rather than be restarted over and over."""
    from uvicorn.config import STARTUP_FAILURE  # imported already: it unpickled the config

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        print(f"cannot listen on {host}:{port}: {exc}", file=sys.stderr)  # noqa: T201
        sys.exit(STARTUP_FAILURE)  # uvicorn's supervisor then stops instead of restarting
    sock.set_inheritable(True)
    return sock
