"""Shared fixtures of the VO tests: one real server per module over the session's demo archive,
and the STILTS validators run on a saved answer."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from skyarchive.archive import Archive
from tests.e2e.conftest import LiveServer


@pytest.fixture(scope="module")
def vo_server(demo_archive: Archive) -> Iterator[LiveServer]:
    """The real server (uvicorn on a free port) over the demo archive, for one module."""
    with LiveServer(demo_archive) as live:
        yield live


def stilts(*arguments: str) -> str:
    """Run a STILTS command; its report (stdout and stderr) when it exits cleanly."""
    done = subprocess.run(
        ["stilts", *arguments], capture_output=True, text=True, timeout=300, check=False
    )
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    return report


def votlint(document: bytes, folder: Path, name: str = "answer.xml") -> str:
    """``stilts votlint`` on a saved VOTable; its report (empty when nothing is wrong)."""
    path = folder / name
    path.write_bytes(document)
    return stilts("votlint", f"votable={path}").strip()
