"""The bounded store of statements kept per shape."""

from __future__ import annotations

import threading

from skyarchive.kept import Kept


def test_a_shape_is_built_once_and_the_oldest_makes_room() -> None:
    kept: Kept[str] = Kept(2)
    built: list[str] = []

    def build(name: str) -> str:
        built.append(name)
        return name.upper()

    assert kept.get("a", lambda: build("a")) == "A"
    assert kept.get("a", lambda: build("a")) == "A"
    kept.get("b", lambda: build("b"))
    kept.get("c", lambda: build("c"))  # "a" goes
    assert len(kept) == 2
    kept.get("b", lambda: build("b"))
    kept.get("a", lambda: build("a"))
    assert built == ["a", "b", "c", "a"]


def test_threads_adding_shapes_at_once_keep_the_bound() -> None:
    kept: Kept[int] = Kept(8)
    start = threading.Barrier(4)
    failures: list[BaseException] = []

    def add(offset: int) -> None:
        start.wait()
        try:
            for n in range(2000):
                value = n % 50
                assert kept.get((offset, value), lambda: value) == value  # noqa: B023
        except BaseException as error:  # noqa: BLE001  (reported below)
            failures.append(error)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures and len(kept) <= 8
