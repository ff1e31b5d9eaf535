"""The answer cache's memory bound and epochs, and requests that share an entry."""

from __future__ import annotations

from skyarchive.api.answer_cache import AnswerCache, CachedAnswer
from skyarchive.api.mast.registry import MastRequest, request_key

EPOCH = (7, 61000.5)


def answer(size: int) -> CachedAnswer:
    return CachedAnswer(b"x" * size, "application/json")


def test_least_recently_used_answers_go_first_beyond_the_budget() -> None:
    cache = AnswerCache(max_bytes=8_000)
    assert cache.get(EPOCH, b"a") is None  # the first request opens the epoch
    for key in (b"a", b"b", b"c"):
        cache.put(EPOCH, key, answer(900))
    assert cache.get(EPOCH, b"a") is not None  # a is now the most recently used
    for key in (b"d", b"e", b"f", b"g", b"h", b"i"):
        cache.put(EPOCH, key, answer(900))
    assert cache.size_bytes <= 8_000
    assert cache.get(EPOCH, b"b") is None  # the least recently used went first
    assert cache.get(EPOCH, b"a") is not None


def test_an_answer_above_an_eighth_of_the_budget_is_not_kept() -> None:
    cache = AnswerCache(max_bytes=8_000)
    cache.get(EPOCH, b"big")
    cache.put(EPOCH, b"big", answer(1_001))
    assert cache.get(EPOCH, b"big") is None


def test_a_new_epoch_empties_the_cache_and_answers_of_an_old_one_are_not_kept() -> None:
    cache = AnswerCache(max_bytes=8_000)
    cache.get(EPOCH, b"a")
    cache.put(EPOCH, b"a", answer(10))
    later = (8, EPOCH[1])
    assert cache.get(later, b"a") is None
    assert cache.size_bytes == 0
    cache.put(EPOCH, b"a", answer(10))  # computed before the write: dropped
    assert cache.get(later, b"a") is None


def test_spellings_of_one_request_share_a_key_and_different_requests_do_not() -> None:
    one = MastRequest("Mast.Caom.Cone", {"ra": 1, "dec": 2, "radius": 0.1})
    same = MastRequest("mast.caom.cone", {"radius": 0.1, "dec": 2, "ra": 1})
    assert request_key(one) == request_key(same)
    for other in (
        MastRequest("Mast.Caom.Cone", {"ra": 1, "dec": 2, "radius": 0.2}),
        MastRequest("Mast.Caom.Cone", {"ra": 1, "dec": 2, "radius": 0.1}, format="csv"),
        MastRequest("Mast.Caom.Cone", {"ra": 1, "dec": 2, "radius": 0.1}, page=2),
        MastRequest("Mast.Caom.Cone", {"ra": 1, "dec": 2, "radius": 0.1}, pagesize=10),
    ):
        assert request_key(other) != request_key(one)
