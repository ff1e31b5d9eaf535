"""The real server in its own process, so the benchmark can read its memory use.

``python -m benchmarks.serve --home DIR [--database-url URL] --port N [--replay FILE]``

With ``--replay`` it serves the floor of the answers captured in FILE (benchmarks/floor.py):
the same app, with routes in front that send those answers back with no work behind them.
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
    parser.add_argument("--replay", type=Path, default=None)
    args = parser.parse_args()
    settings = Settings(home=args.home, database_url=args.database_url)
    archive = Archive.open(settings, migrate=False)
    app = None
    if args.replay is not None:
        from benchmarks.floor import floor_app, read_exchanges

        app = floor_app(archive, read_exchanges(args.replay))
    config = server_config(
        archive, host="127.0.0.1", port=args.port, app=app, log_level="warning", lifespan="off"
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
