"""The real server in its own process, so the benchmark can read its memory use.

``python -m benchmarks.serve --home DIR [--database-url URL] --port N``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn

from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.web import server_config


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    settings = Settings(home=args.home, database_url=args.database_url)
    archive = Archive.open(settings, migrate=False)
    config = server_config(
        archive, host="127.0.0.1", port=args.port, log_level="warning", lifespan="off"
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
