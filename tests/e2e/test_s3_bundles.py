"""Bundles from an object store (a real SeaweedFS) through the real server: each file asked
for once, the next files fetched ahead in parallel, and a store that fails before or during a
download.

* Before the first byte: the answer is 503 with ``Retry-After`` in the API's error shape,
  never a 500.
* During a bundle: the server logs one line, no traceback, and drops the connection, so the
  client sees a short download, never a complete-looking one.
"""

from __future__ import annotations

import io
import json
import logging
import os
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from benchmarks.bench_load import Served
from sqlalchemy import select

from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.tables import products
from skyarchive.delivery.bundles import AHEAD_OBJECTS
from skyarchive.ingest.run import ingest_paths
from skyarchive.storage.seaweed import SeaweedS3, weed_binary
from tests.e2e.conftest import LiveServer

# among the slowest files: handed out first (tests/suite.py)
pytestmark = pytest.mark.slow

BUNDLE = "/api/v0.1/Download/bundle.zip"
FILE = "/api/v0.1/Download/file"


def write_files(folder: Path, count: int, size: int, stem: str) -> dict[str, bytes]:
    """``count`` public files of ``size`` random bytes as one observation (a manifest)."""
    folder.mkdir(parents=True)
    files = {f"{stem}{i:03d}_drz.dat": os.urandom(size) for i in range(count)}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    manifest = {
        "skyarchive_manifest": 1,
        "observations": [{
            "obs_id": f"{stem}-obs", "obs_collection": "HST", "t_obs_release": 50000.0,
            "products": [{"file": name, "productType": "SCIENCE"} for name in files],
        }],
    }  # fmt: skip
    (folder / f"{stem}.skyarchive.json").write_text(json.dumps(manifest))
    return files


def s3_archive(home: Path, store: SeaweedS3, files: Path) -> Archive:
    archive = Archive.open(
        Settings(home=home, storage_url=store.new_location(), s3_endpoint_url=store.endpoint)
    )
    report = ingest_paths([files], engine=archive.engine, storage=archive.storage,
                          default_eap_months=12)  # fmt: skip
    assert report.ok, report.failed
    return archive


def uris(archive: Archive) -> list[str]:
    with archive.engine.connect() as conn:
        return list(conn.scalars(select(products.c.dataURI).order_by(products.c.dataURI)))


class StoreCalls:
    """The requests the server's boto3 client makes, by operation, and the most GetObjects
    open at once (from the call until its body is closed)."""

    def __init__(self, client: Any) -> None:
        self.counts: dict[str, int] = {}
        self.open_gets = 0
        self.most_open_gets = 0
        self._lock = threading.Lock()
        client.meta.events.register("before-call.s3", self._before)
        client.meta.events.register("after-call.s3.GetObject", self._after_get)

    def _before(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.counts[model.name] = self.counts.get(model.name, 0) + 1

    def _after_get(self, parsed: dict[str, Any], **_: Any) -> None:
        body = parsed.get("Body")
        if body is None:
            return
        with self._lock:
            self.open_gets += 1
            self.most_open_gets = max(self.most_open_gets, self.open_gets)
        close = body.close

        def closed() -> None:
            close()
            with self._lock:
                self.open_gets -= 1

        body.close = closed


@pytest.fixture(scope="module")
def many_small(seaweed_s3, tmp_path_factory) -> Iterator[tuple[Archive, dict[str, bytes]]]:  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("small-files")
    files = write_files(folder / "in", 40, 50_000, "small")
    archive = s3_archive(folder / "home", seaweed_s3, folder / "in")
    yield archive, files
    archive.engine.dispose()


def test_a_zip_of_many_objects_asks_for_each_once_and_fetches_ahead_in_parallel(
    many_small,  # type: ignore[no-untyped-def]
) -> None:
    archive, files = many_small
    calls = StoreCalls(archive.storage.client)  # type: ignore[attr-defined]
    with LiveServer(archive) as server:
        answer = httpx.post(server.url + BUNDLE, data={"uri": uris(archive)}, timeout=60)
    assert answer.status_code == 200, answer.text
    bundle = zipfile.ZipFile(io.BytesIO(answer.content))
    assert bundle.testzip() is None
    got = {name.rsplit("/", 1)[-1]: bundle.read(name) for name in bundle.namelist()}
    assert {name: got[name] for name in files} == files
    # presence checked once per file (no second HEAD), each object read once
    assert calls.counts.get("HeadObject") == len(files)
    assert calls.counts.get("GetObject") == len(files)
    # several objects were being read at once, and never more than the read-ahead allows
    assert 1 < calls.most_open_gets <= AHEAD_OBJECTS + 1
    assert calls.open_gets == 0  # every object's connection was given back


def test_a_tar_of_many_objects_has_every_file_intact(many_small) -> None:  # type: ignore[no-untyped-def]
    import tarfile

    archive, files = many_small
    with LiveServer(archive) as server:
        answer = httpx.post(server.url + "/api/v0.1/Download/bundle.tar",
                            data={"uri": uris(archive)}, timeout=60)  # fmt: skip
    assert answer.status_code == 200, answer.text
    with tarfile.open(fileobj=io.BytesIO(answer.content)) as tar:
        got = {
            member.name.rsplit("/", 1)[-1]: tar.extractfile(member).read()  # type: ignore[union-attr]
            for member in tar.getmembers()
        }
    assert {name: got[name] for name in files} == files


def test_an_object_removed_mid_bundle_ends_it_short_with_one_log_line(
    seaweed_s3,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
) -> None:
    files = write_files(tmp_path / "in", 40, 1 << 20, "gone")
    archive = s3_archive(tmp_path / "home", seaweed_s3, tmp_path / "in")
    with archive.engine.connect() as conn:
        keys = list(
            conn.scalars(select(products.c.storage_key).order_by(products.c.productFilename))
        )
    caplog.set_level(logging.INFO)
    with (
        LiveServer(archive) as server,
        httpx.stream("POST", server.url + BUNDLE, data={"uri": uris(archive)}, timeout=60) as got,
    ):
        assert got.status_code == 200
        received = 0
        chunks = got.iter_raw()
        received += len(next(chunks))
        for key in keys[-10:]:  # far beyond what is read ahead of the first files
            archive.storage.delete(key)
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in chunks:
                received += len(chunk)
    assert received < int(got.headers["content-length"])
    assert received < len(files) * (1 << 20)
    failures = [r for r in caplog.records if "failed after" in r.getMessage()]
    assert len(failures) == 1, [r.getMessage() for r in failures]
    assert "vanished" in failures[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info], "no traceback is logged"
    archive.engine.dispose()


def test_a_store_that_goes_away_mid_bundle_and_after(
    seaweed_s3,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    """``skyarchive serve`` over a store that is stopped while a zip streams: the zip ends
    short, the log has one line about it and no traceback; then a file and a bundle are
    answered 503 with Retry-After in the API's error shape."""
    binary = weed_binary()
    assert binary is not None  # the seaweed_s3 fixture required it
    store = SeaweedS3(binary, tmp_path / "weed").start()
    try:
        files = write_files(tmp_path / "in", 48, 1 << 20, "outage")
        archive = s3_archive(tmp_path / "home", store, tmp_path / "in")
        wanted = uris(archive)
        env = {
            "SKYARCHIVE_STORAGE_URL": archive.settings.storage_url or "",
            "SKYARCHIVE_S3_ENDPOINT_URL": store.endpoint,
        }
        archive.engine.dispose()
        log = tmp_path / "serve.log"
        with Served(archive.settings.home, None, 1, log=log, env=env) as served:
            with httpx.stream("POST", served.url + BUNDLE, data={"uri": wanted},
                              timeout=120) as got:  # fmt: skip
                assert got.status_code == 200
                chunks = got.iter_raw()
                received = len(next(chunks))
                store.stop()
                with pytest.raises(httpx.RemoteProtocolError):
                    for chunk in chunks:
                        received += len(chunk)
            assert received < len(files) * (1 << 20)
            one = httpx.get(served.url + FILE, params={"uri": wanted[0]}, timeout=120)
            some = httpx.post(served.url + BUNDLE, data={"uri": wanted[:2]}, timeout=120)
        for answer in (one, some):
            assert answer.status_code == 503, answer.text
            assert int(answer.headers["retry-after"]) > 0
            error = answer.json()["error"]
            assert error["status"] == 503 and error["type"] == "ServiceUnavailable"
            assert "object store" in error["message"]
        said = log.read_text()
        assert len([line for line in said.splitlines() if "failed after" in line]) == 1, said
        assert "Traceback" not in said, said
    finally:
        store.stop()
