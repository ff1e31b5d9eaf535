"""Find and remove stored product files that no catalogue row names (``storage sweep``).

Ingest stores a file's bytes first and then commits the catalogue row that names them; a
failed transaction removes what it stored. A process killed between the two (``kill -9``, a
lost machine, a full disk) leaves objects nobody names: wasted space, and on an object store
a monthly cost. So does a kill after a replacement committed but before the replaced version's
object was removed, and, on a local directory, the temporary file of a copy cut off half-way.

The sweep lists the product files the storage holds (keys ``<collection>/product/...``, the only
ones ingest writes) and removes those that

* no ``products.storage_key`` names, and
* have not changed for ``older_than`` seconds: a running ingest stores a file moments before it
  commits the row naming it, so a grace period far longer than one file's ingest (a day by
  default) never takes an object from under it.

Just before each removal the object's age is read again and the catalogue asked again, so an
ingest that stored the same file anew after the listing keeps it. HiPS tiles, UWS results and
everything else outside the product keys are never looked at.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from sqlalchemy import Engine, select

from skyarchive.db.tables import products
from skyarchive.storage.base import Storage, StoredObject

DEFAULT_GRACE_SECONDS = 86_400.0
_BATCH = 500  # keys asked about per catalogue query


@dataclass
class SweepReport:
    """What a sweep found (and, unless a dry run, removed)."""

    orphans: list[StoredObject] = field(default_factory=list)
    kept_young: int = 0  # unnamed, but inside the grace period
    examined: int = 0

    @property
    def bytes(self) -> int:
        return sum(found.size for found in self.orphans)


def is_product_key(key: str) -> bool:
    """Whether ``key`` lies where ingest stores product files (``<collection>/product/...``)."""
    parts = key.split("/")
    return len(parts) > 2 and parts[1] == "product"


def sweep_orphans(
    engine: Engine,
    storage: Storage,
    *,
    older_than: float = DEFAULT_GRACE_SECONDS,
    dry_run: bool = False,
    on_orphan: Callable[[StoredObject], None] = lambda _found: None,
) -> SweepReport:
    """Remove (or with ``dry_run`` only list) the product files no catalogue row names."""
    if older_than < 0:
        raise ValueError("the grace period cannot be negative")
    report = SweepReport()
    listing = (found for found in storage.list_objects() if is_product_key(found.key))
    for batch in _batches(listing):
        report.examined += len(batch)
        named = _named(engine, [found.key for found in batch])
        for found in batch:
            if found.key in named:
                continue
            if found.modified > time.time() - older_than:
                report.kept_young += 1
                continue
            if dry_run or _remove_if_still_orphaned(engine, storage, found, older_than):
                report.orphans.append(found)
                on_orphan(found)
    return report


def _remove_if_still_orphaned(
    engine: Engine, storage: Storage, found: StoredObject, older_than: float
) -> bool:
    """Remove ``found`` unless it was stored anew or became catalogued since the listing."""
    now = next((o for o in storage.list_objects(found.key) if o.key == found.key), None)
    if now is None:
        return False  # gone already
    if now.modified > time.time() - older_than or _named(engine, [found.key]):
        return False
    storage.delete(found.key)
    return True


def _named(engine: Engine, keys: list[str]) -> set[str]:
    """The ``keys`` that a product row names."""
    with engine.connect() as conn:
        query = select(products.c.storage_key).where(products.c.storage_key.in_(keys))
        return set(conn.scalars(query))


def _batches(objects: Iterable[StoredObject]) -> Iterator[list[StoredObject]]:
    iterator = iter(objects)
    while batch := list(islice(iterator, _BATCH)):
        yield batch
