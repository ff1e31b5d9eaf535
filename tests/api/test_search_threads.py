"""The uncached searches' threads: off the event loop, a bounded few at once, errors raised."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from skyarchive.api.search_threads import SearchThreads


def test_a_search_runs_on_one_of_the_threads_not_the_loop() -> None:
    threads = SearchThreads(2)

    async def main() -> tuple[str, str]:
        loop_thread = threading.current_thread().name
        return loop_thread, await threads.run(lambda: threading.current_thread().name)

    loop_thread, search_thread = asyncio.run(main())
    assert search_thread != loop_thread
    assert search_thread.startswith("skyarchive-search")


def test_no_more_searches_run_at_once_than_there_are_threads() -> None:
    threads = SearchThreads(2)
    running = 0
    most = 0
    lock = threading.Lock()

    def search(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return n * n

    async def main() -> list[int]:
        return await asyncio.gather(*(threads.run(search, n) for n in range(6)))

    assert asyncio.run(main()) == [n * n for n in range(6)]
    assert most == 2


def test_a_searchs_error_reaches_the_request() -> None:
    threads = SearchThreads(1)

    def failing() -> None:
        raise ValueError("bad criteria")

    with pytest.raises(ValueError, match="bad criteria"):
        asyncio.run(threads.run(failing))


def test_the_loop_stays_free_while_a_search_runs() -> None:
    threads = SearchThreads(1)
    started = threading.Event()
    release = threading.Event()

    def slow() -> str:
        started.set()
        release.wait(5)
        return "done"

    async def main() -> tuple[str, bool]:
        search = asyncio.ensure_future(threads.run(slow))
        while not started.is_set():
            await asyncio.sleep(0.001)
        ticked = False
        for _ in range(3):  # the loop still runs other work
            await asyncio.sleep(0)
            ticked = True
        release.set()
        return await search, ticked

    assert asyncio.run(main()) == ("done", True)
