"""Recent MAST search answers kept by each server process, as the bytes that were sent.

An answer is served again only while it is certainly still the answer:

* its key is the request as parsed and normalised (service, params with sorted keys, format,
  page, page size), so two spellings of one request share an entry;
* the caller is not in the key because none of the cached services answers differently by
  caller: every caller sees the same rows, exclusive-access ones included, with ``dataRights``
  from the release date alone (the access rule applies to files, not to searches). Services
  that do depend on the caller (the EDB's) are not registered ``cached``;
* every entry belongs to an *epoch* (:mod:`skyarchive.search.catalogue_epoch`): the
  catalogue's generation (bumped by every write, in the database, so all processes see it;
  learned without a query where a watch allows, :mod:`skyarchive.db.generation_watch`)
  and the next release date after the time the epoch began. A request whose epoch differs,
  because a write happened or an observation reached its release date, empties the cache.

Memory is bounded by bytes (least recently used answers go first); an answer larger than an
eighth of the budget is not kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

import orjson
from sqlalchemy import Connection

from skyarchive.api.mast.registry import MastRequest
from skyarchive.search.catalogue_epoch import Epoch, EpochClock, GenerationWatch

_LARGEST_SHARE = 8  # an answer may take at most 1/8 of the budget


@dataclass(frozen=True)
class CachedAnswer:
    body: bytes
    media_type: str


def request_key(request: MastRequest) -> bytes:
    """The request, normalised: services by lower-cased name, params with keys sorted."""
    return orjson.dumps(
        [request.service.lower(), request.params, request.format, request.page,
         request.pagesize, request.page_given],
        option=orjson.OPT_SORT_KEYS,
    )  # fmt: skip


class AnswerCache:
    """Answers by request key within one epoch, least recently used dropped beyond
    ``max_bytes``. Shared by the threads of one process."""

    def __init__(self, max_bytes: int, watch: GenerationWatch | None = None) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[bytes, CachedAnswer] = OrderedDict()
        self._bytes = 0
        self._epoch: Epoch | None = None
        self._clock = EpochClock(watch)
        self._lock = threading.Lock()

    def epoch(
        self, connect: Callable[[], AbstractContextManager[Connection]], now: float
    ) -> Epoch | None:
        """The epoch of an answer computed at ``now`` on the connection ``connect`` gives
        (opened only when the generation's watch cannot tell; None: keep nothing)."""
        return self._clock.current(connect, now)

    def get(self, epoch: Epoch, key: bytes) -> CachedAnswer | None:
        with self._lock:
            if epoch != self._epoch:
                self._start(epoch)
                return None
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, epoch: Epoch, key: bytes, answer: CachedAnswer) -> None:
        size = len(key) + len(answer.body)
        if size > self.max_bytes // _LARGEST_SHARE:
            return
        with self._lock:
            if epoch != self._epoch:  # computed before a write or a release: not kept
                return
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(key) + len(old.body)
            self._entries[key] = answer
            self._bytes += size
            while self._bytes > self.max_bytes:
                dropped_key, dropped = self._entries.popitem(last=False)
                self._bytes -= len(dropped_key) + len(dropped.body)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def _start(self, epoch: Epoch) -> None:
        self._entries.clear()
        self._bytes = 0
        self._epoch = epoch
