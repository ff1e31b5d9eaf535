"""``skyarchive storage sweep`` after a real ``kill -9`` of an ingest, on a local directory and
on S3 (SeaweedFS): the orphaned files go, every catalogued file and every young file stays.

The ingest runs as the CLI in a subprocess and is killed the moment its storage holds a product
file that no catalogue row names yet (stored, not yet committed), the window the sweep exists
for. The sweep runs as the CLI too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.tables import products
from skyarchive.storage.base import Storage
from skyarchive.storage.sweep import is_product_key
from tests.ingest.integrity import cli_env, copy_program

# among the slowest files: handed out first (tests/suite.py)
pytestmark = pytest.mark.slow

DAY = 86_400


@pytest.fixture(params=["local", "s3"])
def storage_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The settings (as environment variables) of the archive's storage."""
    if request.param == "local":
        yield {}
        return
    seaweed = request.getfixturevalue("seaweed_s3")
    yield {
        "SKYARCHIVE_STORAGE_URL": seaweed.new_location(),
        "SKYARCHIVE_S3_ENDPOINT_URL": seaweed.endpoint,
        **{name: value for name, value in os.environ.items() if name.startswith("AWS_")},
    }


def _settings(home: Path, env: dict[str, str]) -> Settings:
    return Settings(home=home, storage_url=env.get("SKYARCHIVE_STORAGE_URL"),
                    s3_endpoint_url=env.get("SKYARCHIVE_S3_ENDPOINT_URL"))  # fmt: skip


def _stored(storage: Storage) -> set[str]:
    return {found.key for found in storage.list_objects() if is_product_key(found.key)}


def _named(archive: Archive) -> set[str]:
    with archive.engine.connect() as conn:
        return set(conn.scalars(select(products.c.storage_key)))


def _cli(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "skyarchive", "--home", str(home), *args]


def _kill_ingest_between_storage_and_catalogue(
    home: Path, env: dict[str, str], folder: Path, archive: Archive
) -> set[str]:
    """Run an ingest and SIGKILL it while a stored file is not yet catalogued; the orphans."""
    for _attempt in range(5):  # the kill may land just after a commit: then try again
        process = subprocess.Popen(_cli(home, "ingest", str(folder)), env=cli_env(home, env),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while process.poll() is None and time.monotonic() < deadline:
                if _stored(archive.storage) - _named(archive):
                    process.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.01)
            process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        assert process.returncode == -signal.SIGKILL, "the ingest ended before it could be killed"
        orphans = _stored(archive.storage) - _named(archive)
        if orphans:
            return orphans
    raise AssertionError("no kill landed between storing and cataloguing")


def _age(storage: Storage, keys: set[str], seconds: float) -> None:
    """Make local files look ``seconds`` old (an object store's dates cannot be set)."""
    for key in keys:
        path = storage.local_path(key)
        assert path is not None
        then = time.time() - seconds
        os.utime(path, (then, then))


def test_a_sweep_removes_what_a_killed_ingest_left_and_nothing_else(  # type: ignore[no-untyped-def]
    tmp_path: Path, demo_output, storage_env: dict[str, str]
) -> None:
    home = tmp_path / "home"
    folder = copy_program(Path(demo_output[0]), "jw01558", tmp_path / "jw01558")
    archive = Archive.open(_settings(home, storage_env))
    try:
        orphans = _kill_ingest_between_storage_and_catalogue(home, storage_env, folder, archive)
        named = _named(archive)
        assert named <= _stored(archive.storage)  # every catalogued file is there
        env = cli_env(home, storage_env)

        # within the grace period (a running ingest's files): listed as young, left alone
        young = subprocess.run(_cli(home, "storage", "sweep"), env=env,
                               capture_output=True, text=True, timeout=300)  # fmt: skip
        assert young.returncode == 0, young.stderr
        assert "0 orphaned files (0 bytes) removed" in young.stdout
        assert f"{len(orphans)} unnamed but younger than 24h left alone" in young.stdout
        assert _stored(archive.storage) - named == orphans

        if storage_env:  # S3: the objects cannot be aged, so the grace is made shorter
            time.sleep(2)
            grace = "1s"
        else:
            _age(archive.storage, orphans, 2 * DAY)
            grace = "24h"
        dry = subprocess.run(_cli(home, "storage", "sweep", "--dry-run",
                                  "--older-than", grace), env=env,
                             capture_output=True, text=True, timeout=300)  # fmt: skip
        assert dry.returncode == 0, dry.stderr
        assert {line.split()[2] for line in dry.stdout.splitlines()
                if line.startswith("would remove ")} == orphans  # fmt: skip
        assert _stored(archive.storage) - named == orphans  # a dry run removes nothing

        swept = subprocess.run(_cli(home, "storage", "sweep", "--older-than",
                                    grace), env=env, capture_output=True, text=True,
                               timeout=300)  # fmt: skip
        assert swept.returncode == 0, swept.stderr
        assert f"{len(orphans)} orphaned files" in swept.stdout
        assert _stored(archive.storage) == named  # orphans gone, every catalogued file kept
        assert not archive.storage.missing(named)

        # the interrupted ingest, run again, completes over the swept storage
        again = subprocess.run(_cli(home, "ingest", str(folder)), env=env,
                               capture_output=True, text=True, timeout=600)  # fmt: skip
        assert again.returncode == 0, again.stderr
        assert _stored(archive.storage) == _named(archive)
        assert len(_named(archive)) > len(named)
    finally:
        archive.engine.dispose()


def test_a_bad_grace_period_is_refused_in_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    command = _cli(home, "storage", "sweep", "--older-than", "soon")
    done = subprocess.run(command, env=cli_env(home), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "'soon' is not a duration" in done.stderr
