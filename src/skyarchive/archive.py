"""The archive as one object: settings, catalog engine and storage, opened once per process."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import Engine

from skyarchive.config import Settings
from skyarchive.db.engine import make_engine, upgrade
from skyarchive.storage import Storage, open_storage


@dataclass
class Archive:
    settings: Settings
    engine: Engine
    storage: Storage

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> Archive:
        """Open (and by default create or upgrade) the archive that ``settings`` describe."""
        settings.ensure_home()
        engine = make_engine(settings.resolved_database_url)
        if migrate:
            upgrade(engine)
        return cls(settings, engine, open_storage(settings))

    @cached_property
    def resolver(self):  # type: ignore[no-untyped-def]
        from skyarchive.sky.targets import archive_resolver_chain

        return archive_resolver_chain(self.engine, online=self.settings.online_resolver)
