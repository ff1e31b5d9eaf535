"""An object store that fails is handled like a failing disk: ingest stops with one reason and
changes nothing; a vanished object is a 404 (or a manifest line), never a 500."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from skyarchive.access.policy import Caller
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.tables import products
from skyarchive.delivery.service import file_answer, file_bytes
from skyarchive.errors import NotFound, StorageUnavailable
from skyarchive.ingest.run import ingest_paths


def _archive_on(tmp_path: Path, url: str, endpoint: str) -> Archive:
    return Archive.open(Settings(home=tmp_path / "home", storage_url=url, s3_endpoint_url=endpoint))


def test_ingest_into_a_missing_bucket_stops_and_archives_nothing(
    tmp_path: Path,
    demo_output,
    seaweed_s3,  # type: ignore[no-untyped-def]
) -> None:
    archive = _archive_on(tmp_path, "s3://no-such-bucket-here/archive", seaweed_s3.endpoint)
    folder = Path(demo_output[0]) / "jwst" / "jw04567"
    with pytest.raises(StorageUnavailable, match="cannot be written"):
        ingest_paths([folder], engine=archive.engine, storage=archive.storage,
                     default_eap_months=12, workers=1)  # fmt: skip
    with archive.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(products)) == 0
    archive.engine.dispose()


def test_an_object_gone_from_the_store_is_not_found_before_any_byte(
    tmp_path: Path,
    demo_output,
    seaweed_s3,  # type: ignore[no-untyped-def]
) -> None:
    archive = _archive_on(tmp_path, seaweed_s3.new_location(), seaweed_s3.endpoint)
    folder = Path(demo_output[0]) / "jwst" / "jw04567"
    report = ingest_paths([folder], engine=archive.engine, storage=archive.storage,
                          default_eap_months=12, workers=1)  # fmt: skip
    assert report.ok, report.failed
    with archive.engine.connect() as conn:
        uri, key = conn.execute(select(products.c.dataURI, products.c.storage_key).limit(1)).one()
    archive.storage.delete(key)
    answer = file_answer(archive, caller=Caller(user_id=1, is_admin=True), uri=uri,
                         range_header=None)  # fmt: skip
    with pytest.raises(NotFound):
        file_bytes(archive, answer)
    archive.engine.dispose()


def test_a_test_store_whose_port_is_taken_before_it_starts_starts_on_others(
    tmp_path: Path,
    seaweed_s3,  # type: ignore[no-untyped-def]
) -> None:
    """Free ports are chosen before weed binds them; another process (a parallel test's
    server) may take one in between. The store then starts again on freshly chosen ports
    instead of failing the test that asked for it."""
    import socket
    from urllib.parse import urlsplit

    from skyarchive.storage.seaweed import SeaweedS3, weed_binary

    binary = weed_binary()
    assert binary is not None  # the seaweed_s3 fixture required it
    store = SeaweedS3(binary, tmp_path / "weed")
    chosen = urlsplit(store.endpoint).port
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", chosen or 0))
        squatter.listen()
        try:
            store.start()
            assert urlsplit(store.endpoint).port != chosen
            store.client().put_object(Bucket="skyarchive-tests", Key="probe", Body=b"x")
            got = store.client().get_object(Bucket="skyarchive-tests", Key="probe")
            assert got["Body"].read() == b"x"
        finally:
            store.stop()


@pytest.mark.parametrize(("configured", "attempts"), [(None, 3), ("2", 2)])
def test_a_store_that_does_not_answer_is_tried_as_often_as_the_aws_settings_say(
    configured: str | None,
    attempts: int,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    """The number of tries is the operator's AWS setting (``AWS_MAX_ATTEMPTS``), boto3's
    standard 3 when unset: not a number of ours that overrides it and keeps every download
    waiting through long back-offs before its 503."""
    import socket

    from skyarchive.storage.s3 import S3Storage

    if configured is None:
        monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    else:
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", configured)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with socket.socket() as closed:  # a port nothing listens on once it is closed
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    store = S3Storage("s3://bucket/prefix", endpoint_url=f"http://127.0.0.1:{port}")
    sent: list[str] = []
    store.client.meta.events.register(
        "before-send.s3", lambda request, **_: sent.append(request.url)
    )
    with pytest.raises(OSError):
        store.exists("some/key")
    assert len(sent) == attempts
