"""Point an unmodified astroquery.mast at a skyarchive server.

astroquery fixes its MAST URLs when ``astroquery.mast`` is imported, from the ``[mast] server``
line of ``astroquery.cfg`` in astropy's config directory; setting ``conf.server`` at run time is
too late. Its name resolver uses a fixed plain-HTTP host, reached through ``HTTP_PROXY``.
"""

from __future__ import annotations

import configparser
from pathlib import Path
from urllib.parse import urlsplit


def config_lines(url: str) -> str:
    return f"[mast]\nserver = {url.rstrip('/')}\ntimeout = 600\n"


def proxy_lines(url: str) -> str:
    host = urlsplit(url).hostname or "127.0.0.1"
    no_proxy = ",".join(dict.fromkeys(["127.0.0.1", "localhost", host]))
    return f"export HTTP_PROXY={url.rstrip('/')}\nexport NO_PROXY={no_proxy}\n"


def astropy_config_dir() -> Path:
    from astropy.config import get_config_dir

    return Path(get_config_dir())


def write_config(url: str, config_dir: Path | None = None) -> Path:
    """Set ``[mast] server`` in astroquery.cfg, keeping every other line the user has there."""
    path = (config_dir or astropy_config_dir()) / "astroquery.cfg"
    parser = configparser.ConfigParser()
    if path.exists():
        parser.read(path, encoding="utf-8")
    if not parser.has_section("mast"):
        parser.add_section("mast")
    parser.set("mast", "server", url.rstrip("/"))
    if not parser.has_option("mast", "timeout"):
        parser.set("mast", "timeout", "600")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        parser.write(handle)
    return path
