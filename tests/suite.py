"""How the whole suite runs: temporary files in memory, the slowest test files first.

Loaded by tests/conftest.py as a plugin.

Temporary files: pytest's temporary directories go under /dev/shm when it has room (unless
``--basetemp`` or PYTEST_DEBUG_TEMPROOT says where). A run makes hundreds of thousands of
files; on disk, under load, deleting them (the passed tests' at once, as
``tmp_path_retention_policy = "failed"`` in pyproject.toml asks, and older runs' when pytest
exits) took minutes after the summary.

Order: pytest-xdist (``--dist loadfile``) hands out one file at a time. A slow file handed out
last keeps one process busy for minutes after the other has finished, so files marked slow
at module level (``pytestmark = pytest.mark.slow``) come first; the Makefile passes
``--no-loadscope-reorder`` so that xdist keeps this order.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

MEMORY = Path("/dev/shm")
MEMORY_NEEDED = 2 * 1024**3


def memory_temproot() -> Path | None:
    """/dev/shm if it has at least 2 GiB free, else None."""
    try:
        free = shutil.disk_usage(MEMORY).free
    except OSError:
        return None
    return MEMORY if free >= MEMORY_NEEDED and os.access(MEMORY, os.W_OK) else None


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # Read when the first temporary directory is made (the xdist controller makes the base
    # directory its workers' directories go in, after this); workers get --basetemp.
    if config.option.basetemp or os.environ.get("PYTEST_DEBUG_TEMPROOT"):
        return
    if (root := memory_temproot()) is not None:
        os.environ["PYTEST_DEBUG_TEMPROOT"] = str(root)


def _marked_slow(item: pytest.Item) -> bool:
    module = item.getparent(pytest.Module)
    return module is not None and any(m.name == "slow" for m in module.own_markers)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files marked slow at module level first (each file's tests stay together, in order)."""
    items.sort(key=lambda item: not _marked_slow(item))
