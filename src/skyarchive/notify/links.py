"""Where links in e-mails point: the worker writes them outside any request.

The rule: the ``base_url`` setting when set; else the public URL the server last saw itself
reached by, which the server records (:class:`SeenUrl`) when a signed-in portal session makes
a request; with neither, no link at all, and the sender says that ``base_url`` must be set
(``http://127.0.0.1:8000`` would be wrong whenever the server runs elsewhere).

Only signed-in sessions record the URL: the Host of a request is the client's to choose, and an
anonymous stranger must not be able to aim the links of everyone's e-mails at another server.
Everyone who has subscriptions has signed in to make them, so the URL is known by then. A
public server sets ``base_url`` all the same (docs/subscriptions.md).
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import Connection, Engine

from skyarchive.config import Settings
from skyarchive.db.state import read_state, write_state

SEEN_URL = "public_url"
#: A process writes the URL again after this long even when unchanged, so the value in the
#: database is one a server really answered recently; otherwise only when it changes.
REFRESH_SECONDS = 600.0
NO_BASE_URL = (
    "base_url is not set and no signed-in visit has shown the server's public address yet, so "
    "subscription e-mails go out without links (no unsubscribe link either); set base_url "
    "(SKYARCHIVE_BASE_URL) to the archive's public URL."
)


def mail_base_url(conn: Connection, settings: Settings) -> str | None:
    """The base URL for links in e-mails (no trailing slash), or None when none is known."""
    if settings.base_url:
        return str(settings.base_url).rstrip("/")
    seen = read_state(conn, SEEN_URL)
    return seen.rstrip("/") if seen else None


class SeenUrl:
    """Records the URL the server is reached by, at most one write per ``REFRESH_SECONDS`` per
    process unless it changes (so not a write per request)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: tuple[str, float] | None = None

    def remember(self, engine: Engine, url: str, *, now: float | None = None) -> bool:
        """Store ``url`` unless this process stored the same one recently; True if written."""
        now = time.time() if now is None else now
        url = url.rstrip("/")
        with self._lock:
            last = self._last
            if last is not None and last[0] == url and now - last[1] < REFRESH_SECONDS:
                return False
            self._last = (url, now)
        with engine.begin() as conn:
            write_state(conn, SEEN_URL, url[:400], now=now)
        return True
