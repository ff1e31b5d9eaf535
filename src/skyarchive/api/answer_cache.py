"""Recent search answers kept by each server process, as the bytes that were sent: the MAST
API's cached services (``api/mast/routes.py``) and the portal's search
(``api/portal/search.py``). One cache per app, made by :func:`open_answer_cache` in
``web.create_app`` and kept on ``app.state`` (:func:`answer_cache_of`).

An answer is served again only while it is certainly still the answer:

* its key is the request as its route parsed it, and whatever else of the caller the answer
  depends on: nothing for the MAST searches (every caller sees the same rows, exclusive ones
  included, with ``dataRights`` from the release date alone; services that depend on the
  caller, the EDB's, are not registered ``cached``); for the portal's search, which tells each
  row's ``mayRetrieve``, the caller's :func:`skyarchive.access.policy.retrieval_scope`;
* every entry belongs to an *epoch* (:mod:`skyarchive.search.catalogue_epoch`): the
  catalogue's generation (bumped by every write, in the database, so all processes see it;
  learned without a query where a watch allows, :mod:`skyarchive.db.generation_watch`: the
  archive's one watch, ``Archive.generation_watch``, shared by every cache over it)
  and the next release date after the time the epoch began. A request whose epoch differs,
  because a write happened or an observation reached its release date, empties the cache;
* an answer computed from a copy of the catalogue kept in memory (the archive's target names,
  which a search by name resolves the name in) is kept only if that copy was read at the
  epoch's generation or later: the copy is refreshed in the background after a write (as soon
  as the archive's watch tells of it; without one, within a minute), and an answer built on
  the older copy would otherwise be sent again, under the new generation, until the next
  write. The route computes the answer within :meth:`KeptAnswer.computing`, which notes the
  copies read (:class:`~skyarchive.search.catalogue_epoch.CopiesRead`).

Memory is bounded by bytes (least recently used answers go first); an answer larger than an
eighth of the budget is not kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from fastapi import Request, Response
from sqlalchemy import Connection

from skyarchive.archive import Archive
from skyarchive.search.catalogue_epoch import (
    CopiesRead,
    Epoch,
    EpochClock,
    GenerationWatch,
    noting_copies_read,
)

_LARGEST_SHARE = 8  # an answer may take at most 1/8 of the budget
P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class CachedAnswer:
    body: bytes
    media_type: str

    def response(self) -> Response:
        """The answer sent again, as it was sent."""
        return Response(self.body, media_type=self.media_type)


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


def open_answer_cache(archive: Archive) -> AnswerCache | None:
    """An app's answer cache as ``archive``'s settings ask, learning of writes through the
    archive's one generation watch; None when ``answer_cache`` is off."""
    settings = archive.settings
    if not settings.answer_cache or settings.answer_cache_mb <= 0:
        return None
    return AnswerCache(int(settings.answer_cache_mb * 1024 * 1024), archive.generation_watch())


def answer_cache_of(request: Request) -> AnswerCache | None:
    """The answer cache of the app serving ``request`` (None: every answer is computed)."""
    return getattr(request.app.state, "answer_cache", None)


@dataclass
class KeptAnswer:
    """A request's place in the answer cache: the answer kept, or where to keep a new one."""

    cache: AnswerCache | None = None
    epoch: Epoch | None = None
    key: bytes = b""
    answer: CachedAnswer | None = None
    #: The catalogue's in-memory copies the answer was computed from (:meth:`computing`).
    copies_read: CopiesRead | None = None

    @contextmanager
    def computing(self) -> Iterator[None]:
        """Compute the answer to keep within this block (in the thread that computes it):
        the copies of the catalogue it reads are noted, and :meth:`keep` keeps nothing that
        rests on a copy older than the epoch (nor anything computed outside it)."""
        if self.cache is None or self.epoch is None:
            yield  # nothing will be kept: nothing to note
            return
        read = self.copies_read = CopiesRead(under=self.epoch[0])
        with noting_copies_read(read):
            yield

    def computed(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``function(*args, **kwargs)`` within :meth:`computing` (to hand to a thread)."""
        with self.computing():
            return function(*args, **kwargs)

    def keep(self, answer: CachedAnswer) -> None:
        if self.cache is None or self.epoch is None:
            return
        read = self.copies_read
        # Not computed within computing(): what it read is unknown, so it is not kept. Else
        # e.g. a name resolved on target names read before the write that began the epoch.
        if read is None or not read.as_new_as(self.epoch[0]):
            return
        self.cache.put(self.epoch, self.key, answer)


def kept_answer(
    cache: AnswerCache | None,
    connect: Callable[[], AbstractContextManager[Connection]],
    now: float,
    key: bytes,
) -> KeptAnswer:
    """The answer kept under ``key``, looked up in the epoch learned (or read on the
    connection ``connect`` gives, of the search's database) before the search itself runs, so
    an answer kept is never older than the generation it is kept under."""
    if cache is None:
        return KeptAnswer()
    epoch = cache.epoch(connect, now)
    if epoch is None:
        return KeptAnswer()
    return KeptAnswer(cache, epoch, key, cache.get(epoch, key))
