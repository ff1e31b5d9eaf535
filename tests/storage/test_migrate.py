"""``skyarchive storage migrate``: every file copied to S3 (a real SeaweedFS) and verified;
an interrupted run resumes; the catalogue's data URIs keep working on the new storage."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from skyarchive.access.policy import Caller
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.tables import products
from skyarchive.delivery.service import file_answer, file_bytes
from skyarchive.ingest.run import ingest_paths
from skyarchive.storage import Storage, StoredFile
from skyarchive.storage.migrate import catalogue_files, migrate_files
from skyarchive.storage.s3 import S3Storage


class Interrupted(Exception):
    """Stands for Ctrl-C or a lost connection in the middle of a run."""


class FailsAfter:
    """A target storage that breaks down after ``puts`` uploads (and otherwise is ``inner``)."""

    def __init__(self, inner: Storage, puts: int) -> None:
        self.inner, self.left = inner, puts

    def put_file(self, key: str, source: Path) -> StoredFile:
        if not self.left:
            raise Interrupted(key)
        self.left -= 1
        return self.inner.put_file(key, source)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.inner, name)


def _ingested(home: Path, files: Path) -> Archive:
    archive = Archive.open(Settings(home=home))
    report = ingest_paths([files], engine=archive.engine, storage=archive.storage,
                          default_eap_months=12)  # fmt: skip
    assert report.ok, report.failed
    return archive


def _originals(folder: Path) -> dict[str, str]:
    """SHA-256 of every file the demo wrote, by file name (computed here, from the files)."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in folder.rglob("*") if path.is_file()
    }  # fmt: skip


@pytest.fixture
def small_archive(tmp_path: Path, demo_output) -> Iterator[tuple[Archive, Path]]:  # type: ignore[no-untyped-def]
    folder = Path(demo_output[0]) / "jwst" / "jw04567"
    archive = _ingested(tmp_path / "home", folder)
    yield archive, folder
    archive.engine.dispose()


def test_an_interrupted_migration_resumes_and_every_uri_still_works(
    small_archive,
    seaweed_s3,  # type: ignore[no-untyped-def]
) -> None:
    archive, folder = small_archive
    url = seaweed_s3.new_location()
    target = S3Storage(url, endpoint_url=seaweed_s3.endpoint)
    files = list(catalogue_files(archive.engine))
    assert len(files) > 10

    with pytest.raises(Interrupted):
        migrate_files(files, source=archive.storage, target=FailsAfter(target, 4))  # type: ignore[arg-type]
    assert len(set(target.list_keys())) == 4

    seen: list[str] = []
    report = migrate_files(catalogue_files(archive.engine), source=archive.storage, target=target,
                           on_file=lambda found, outcome: seen.append(outcome))  # fmt: skip
    assert report.ok, report.failed
    assert (report.already_there, report.copied) == (4, len(files) - 4)
    assert len(seen) == len(files)
    assert set(target.list_keys()) == {found.key for found in files}

    # The archive switched to S3 answers every data URI with the bytes the demo wrote.
    moved = Archive.open(
        Settings(home=archive.settings.home, storage_url=url, s3_endpoint_url=seaweed_s3.endpoint)
    )
    originals = _originals(folder)
    operator = Caller(user_id=1, is_admin=True)  # may read exclusive data too
    with moved.engine.connect() as conn:
        uris = conn.execute(select(products.c.dataURI, products.c.productFilename)).all()
    for uri, name in uris:
        answer = file_answer(moved, caller=operator, uri=uri, range_header=None)
        digest = hashlib.sha256(b"".join(file_bytes(moved, answer))).hexdigest()
        assert digest == originals[name], uri
    moved.engine.dispose()


def test_a_resumed_migration_costs_heads_not_reads(small_archive, seaweed_s3) -> None:  # type: ignore[no-untyped-def]
    """Files already in the store are checked by the size and SHA-256 it recorded at upload;
    ``reread`` reads each back (an audit)."""
    archive, _folder = small_archive
    target = S3Storage(seaweed_s3.new_location(), endpoint_url=seaweed_s3.endpoint)
    files = list(catalogue_files(archive.engine))
    assert migrate_files(files, source=archive.storage, target=target).ok
    calls: dict[str, int] = {}

    def count(model, **_):  # type: ignore[no-untyped-def]
        calls[model.name] = calls.get(model.name, 0) + 1

    target.client.meta.events.register("before-call.s3", count)
    again = migrate_files(files, source=archive.storage, target=target)
    assert again.ok and again.already_there == len(files) and again.copied == 0
    assert calls == {"HeadObject": len(files)}

    calls.clear()
    audited = migrate_files(files, source=archive.storage, target=target, reread=True)
    assert audited.ok and audited.already_there == len(files)
    assert calls == {"HeadObject": len(files), "GetObject": len(files)}


def test_damaged_copies_are_replaced_and_damaged_sources_reported(
    small_archive,
    seaweed_s3,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    archive, _folder = small_archive
    target = S3Storage(seaweed_s3.new_location(), endpoint_url=seaweed_s3.endpoint)
    files = list(catalogue_files(archive.engine))
    assert migrate_files(files, source=archive.storage, target=target).ok

    broken = tmp_path / "broken"
    broken.write_bytes(b"not the archived bytes")
    target.put_file(files[0].key, broken)  # a copy damaged after the run
    target.delete(files[1].key)  # and one lost
    source_path = archive.storage.local_path(files[2].key)
    assert source_path is not None
    source_path.write_bytes(b"rotten")  # the source itself no longer matches the catalogue
    target.delete(files[2].key)

    report = migrate_files(files, source=archive.storage, target=target)
    assert report.copied == 2 and report.already_there == len(files) - 3
    assert [key for key, _ in report.failed] == [files[2].key]
    assert "catalogue" in report.failed[0][1]
    assert target.checksum(files[0].key) == files[0].sha256
    assert not target.exists(files[2].key)  # nothing unverified is left in the target


def test_the_cli_killed_midway_resumes(tmp_path: Path, demo_output, seaweed_s3) -> None:  # type: ignore[no-untyped-def]
    archive = _ingested(tmp_path / "home", Path(demo_output[0]) / "jwst" / "jw01539")
    wanted = {found.key for found in catalogue_files(archive.engine)}
    archive.engine.dispose()
    url = seaweed_s3.new_location()
    target = S3Storage(url, endpoint_url=seaweed_s3.endpoint)
    command = [sys.executable, "-m", "skyarchive", "--home", str(tmp_path / "home"),
               "storage", "migrate", "--to", url]  # fmt: skip
    env = {**os.environ, "SKYARCHIVE_S3_ENDPOINT_URL": seaweed_s3.endpoint}

    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(set(target.list_keys())) < 10:  # some files are over: kill it without warning
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=10)
    assert 10 <= len(set(target.list_keys())) < len(wanted)

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert f"{len(wanted)} of {len(wanted)} files verified" in second.stdout
    assert "already there" in second.stdout
    assert f"SKYARCHIVE_STORAGE_URL={url}" in second.stdout
    assert set(target.list_keys()) == wanted


def test_the_cli_refuses_the_storage_it_already_uses(tmp_path: Path) -> None:
    home = tmp_path / "home"
    Archive.open(Settings(home=home)).engine.dispose()
    same = Settings(home=home).resolved_storage_path.as_uri()
    done = subprocess.run(
        [sys.executable, "-m", "skyarchive", "--home", str(home), "storage", "migrate",
         "--to", same],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "already this archive's storage" in done.stderr
