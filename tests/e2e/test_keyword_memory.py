"""A long keyword answer streams from a server process whose memory stays flat.

Issue 15 asks that a keyword answer of many rows be streamed page by page with flat memory.
The property is held against the answer itself, not against a figure measured once: the
server's peak resident memory is read (``/proc/<pid>/status``, peak reset before each answer)
while it streams a long answer and one two and a half times as long. Were rows held until
the end, memory would grow with the answer (a row is ~3.5 kB of JSON, ~15 kB as a dict); it
must grow by a small part of the answer, and not more for the longer one.

The archive is the synthetic keyword catalogue behind ``skyarchive synthesize`` and the server
is ``skyarchive serve`` in its own process, as an operator runs it.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import httpx
import pytest

from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.demo.synthetic_catalog import build_synthetic_catalog
from tests.delivery.helpers import cli, free_port, peak_rss_mb, wait_for_port

# among the slowest files: handed out first (tests/suite.py)
pytestmark = pytest.mark.slow

FILES = 130_000  # about 21,000 files listed in the NIRCAM table
SHORT, LONG = 8_000, 20_000  # rows; both above the size the server sends whole
ROW_START = b'{"ArchiveFileID":'  # each row's first key (the field list names it without "{")
MB = 1024 * 1024


def _resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _streamed(url: str, pid: int, rows: int) -> tuple[int, int, float]:
    """Rows and bytes of a ``rows``-row NIRCAM answer, and how far the server's peak resident
    memory rose above what it held before the answer."""
    with contextlib.suppress(OSError):  # resets the peak to the present (Linux >= 4.0)
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    before = _resident_mb(pid)
    body = {"service": "Mast.Jwst.Filtered.Nircam", "format": "json", "page": 1,
            "pagesize": rows, "params": {"columns": "*", "filters": []}}  # fmt: skip
    counted = received = 0
    carried = b""  # a row start may straddle two chunks
    with httpx.stream("POST", url, data={"request": json.dumps(body)}, timeout=600) as answer:
        assert answer.status_code == 200
        for chunk in answer.iter_bytes():
            received += len(chunk)
            joined = carried + chunk
            counted += joined.count(ROW_START)
            carried = joined[-(len(ROW_START) - 1) :]
    return counted, received, peak_rss_mb(pid) - before


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_long_keyword_answer_streams_in_flat_memory(tmp_path: Path) -> None:
    home = tmp_path / "home"
    archive = Archive.open(Settings(home=home))
    build_synthetic_catalog(archive.engine, observations=FILES // 20, products_per_obs=0,
                            seed=1, keyword_files=FILES)  # fmt: skip
    archive.engine.dispose()
    port = free_port()
    server = cli(home, "serve", "--port", str(port), "--no-access-log")
    try:
        wait_for_port(port, server)
        url = f"http://127.0.0.1:{port}/api/v0/invoke"
        _streamed(url, server.pid, SHORT)  # warm: imports, caches, the allocator's arenas
        short_rows, short_bytes, short_growth = _streamed(url, server.pid, SHORT)
        long_rows, long_bytes, long_growth = _streamed(url, server.pid, LONG)
    finally:
        server.terminate()
        server.wait(timeout=20)
    print(f"\n{short_rows:,} rows, {short_bytes / MB:.0f} MB: peak +{short_growth:.1f} MB; "
          f"{long_rows:,} rows, {long_bytes / MB:.0f} MB: peak +{long_growth:.1f} MB")  # fmt: skip
    assert (short_rows, long_rows) == (SHORT, LONG)
    # Memory is not the answer: a small part of it, even for the longer answer ...
    assert long_growth < long_bytes / MB / 4
    # ... and the 12,000 more rows (some 40 MB of JSON) cost no more than a tenth of their size.
    assert long_growth - short_growth < (long_bytes - short_bytes) / MB / 10
