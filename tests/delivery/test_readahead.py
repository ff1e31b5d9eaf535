"""The read-ahead stream: same chunks in order, the source closed however the stream ends."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from skyarchive.delivery.readahead import read_ahead
from skyarchive.errors import StreamInterrupted


class Source:
    def __init__(self, count: int, fail_at: int | None = None) -> None:
        self.count, self.fail_at = count, fail_at
        self.read = 0
        self.closed = threading.Event()

    def chunks(self) -> Iterator[bytes]:
        try:
            for i in range(self.count):
                if i == self.fail_at:
                    raise OSError("disk gone")
                self.read += 1
                yield bytes([i]) * 1000
        finally:
            self.closed.set()


def test_all_chunks_in_order() -> None:
    source = Source(50)

    async def collect() -> list[bytes]:
        return [chunk async for chunk in read_ahead(source.chunks())]

    got = asyncio.run(collect())
    assert got == [bytes([i]) * 1000 for i in range(50)]
    assert source.closed.is_set()


def test_the_next_chunk_is_read_while_the_current_is_handed_on() -> None:
    source = Source(10)

    async def first_then_wait() -> int:
        stream = read_ahead(source.chunks())
        await anext(stream)
        await asyncio.sleep(0.2)  # the consumer is busy sending
        ahead = source.read
        await stream.aclose()
        return ahead

    assert asyncio.run(first_then_wait()) == 2


def test_stopping_early_closes_the_source() -> None:
    source = Source(1000)

    async def two_then_stop() -> None:
        stream = read_ahead(source.chunks())
        await anext(stream)
        await anext(stream)
        await stream.aclose()
        await asyncio.sleep(0)  # let the read in flight finish and the callback run
        await asyncio.get_running_loop().run_in_executor(None, source.closed.wait, 5)

    asyncio.run(two_then_stop())
    assert source.closed.is_set()
    assert source.read < 10


def test_a_failed_read_reaches_the_consumer_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    source = Source(10, fail_at=3)

    async def collect() -> list[bytes]:
        return [chunk async for chunk in read_ahead(source.chunks(), name="f.fits")]

    with pytest.raises(StreamInterrupted, match="disk gone") as raised:
        asyncio.run(collect())
    assert isinstance(raised.value.__cause__, OSError)
    assert source.closed.is_set()
    lines = [r.getMessage() for r in caplog.records if r.name == "skyarchive.delivery"]
    assert len(lines) == 1 and "f.fits failed after" in lines[0] and "disk gone" in lines[0]
    assert not any(r.exc_info for r in caplog.records)
