"""One contract for every storage backend: memory (the fake), local disk and a real S3 server.

The S3 case runs against SeaweedFS started by the ``seaweed_s3`` fixture
(:mod:`skyarchive.storage.seaweed`), never a mock. Expected bytes and digests come from the
test's own data and ``hashlib``.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from skyarchive.errors import BadQuery, NotFound
from skyarchive.storage import LocalStorage, MemoryStorage, Storage
from skyarchive.storage.base import CHUNK

KEY = "JWST/product/0123456789abcdef/jw01073001001_02101_00001_nrca1_uncal.fits"
BAD_KEYS = ["", "/etc/passwd", "../outside", "a/../../b", "a//b", "a\\b", "a/./b", "nul\x00l"]


@pytest.fixture(params=["memory", "local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "memory":
        return MemoryStorage()
    if request.param == "local":
        return LocalStorage(tmp_path / "store")
    from skyarchive.storage.s3 import S3Storage

    server = request.getfixturevalue("seaweed_s3")
    return S3Storage(server.new_location(), endpoint_url=server.endpoint)


def source_file(tmp_path: Path, data: bytes, name: str = "source.fits") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def joined(chunks: Iterator[bytes]) -> bytes:
    return b"".join(chunks)


DATA = os.urandom(3 * CHUNK + 12345)  # several chunks and a ragged end


def test_put_reports_size_and_digest_and_reads_back(storage: Storage, tmp_path: Path) -> None:
    stored = storage.put_file(KEY, source_file(tmp_path, DATA))
    assert (stored.key, stored.size) == (KEY, len(DATA))
    assert stored.sha256 == hashlib.sha256(DATA).hexdigest()
    assert storage.exists(KEY)
    assert storage.size(KEY) == len(DATA)
    assert joined(storage.open_range(KEY)) == DATA
    assert storage.checksum(KEY) == hashlib.sha256(DATA).hexdigest()


def test_recorded_tells_the_size_and_any_recorded_digest_without_a_read(
    storage: Storage, tmp_path: Path
) -> None:
    storage.put_file(KEY, source_file(tmp_path, DATA))
    recorded = storage.recorded(KEY)
    assert (recorded.key, recorded.size) == (KEY, len(DATA))
    assert recorded.sha256 in ("", hashlib.sha256(DATA).hexdigest())  # '': the backend keeps none
    with pytest.raises(NotFound):
        storage.recorded(KEY + ".missing")


@pytest.mark.parametrize(
    ("start", "end"),
    [(0, 0), (0, 99), (CHUNK - 1, CHUNK + 1), (len(DATA) - 10, None), (5, len(DATA) + 1000)],
)
def test_ranges_give_exactly_the_bytes_asked(
    storage: Storage, tmp_path: Path, start: int, end: int | None
) -> None:
    storage.put_file(KEY, source_file(tmp_path, DATA))
    expected = DATA[start : None if end is None else end + 1]
    assert joined(storage.open_range(KEY, start, end)) == expected


def test_chunks_are_bounded_so_memory_stays_flat(storage: Storage, tmp_path: Path) -> None:
    storage.put_file(KEY, source_file(tmp_path, DATA))
    sizes = [len(chunk) for chunk in storage.open_range(KEY)]
    assert sum(sizes) == len(DATA)
    assert max(sizes) <= 2 * CHUNK


def test_a_range_past_the_end_gives_no_bytes(storage: Storage, tmp_path: Path) -> None:
    storage.put_file(KEY, source_file(tmp_path, b"0123456789"))
    assert joined(storage.open_range(KEY, 10, None)) == b""


def test_an_empty_file(storage: Storage, tmp_path: Path) -> None:
    stored = storage.put_file(KEY, source_file(tmp_path, b""))
    assert stored.size == 0 and stored.sha256 == hashlib.sha256(b"").hexdigest()
    assert storage.size(KEY) == 0
    assert joined(storage.open_range(KEY)) == b""
    assert storage.checksum(KEY) == hashlib.sha256(b"").hexdigest()


def test_missing_keys_are_not_found_before_any_byte(storage: Storage) -> None:
    assert not storage.exists(KEY)
    with pytest.raises(NotFound):
        storage.size(KEY)
    with pytest.raises(NotFound):
        storage.open_range(KEY)  # raised by the call itself, not on the first chunk
    with pytest.raises(NotFound):
        storage.checksum(KEY)
    storage.delete(KEY)  # deleting what is not there is no error


def test_missing_names_the_absent_keys_of_a_whole_selection(
    storage: Storage, tmp_path: Path
) -> None:
    present = [f"JWST/product/{index:016x}/file{index}.fits" for index in range(0, 40, 2)]
    absent = [f"JWST/product/{index:016x}/file{index}.fits" for index in range(1, 40, 2)]
    for key in present:
        storage.put_file(key, source_file(tmp_path, key.encode()))
    asked = [key for pair in zip(present, absent, strict=True) for key in pair] + present[:3]
    assert storage.missing(asked) == set(absent)
    assert storage.missing([]) == set()
    assert storage.missing(absent[:1]) == set(absent[:1])


def test_put_replaces_and_delete_removes(storage: Storage, tmp_path: Path) -> None:
    storage.put_file(KEY, source_file(tmp_path, b"first version"))
    storage.put_file(KEY, source_file(tmp_path, b"second", "other.fits"))
    assert joined(storage.open_range(KEY)) == b"second"
    storage.delete(KEY)
    assert not storage.exists(KEY)


def test_a_listing_gives_every_key_under_a_prefix_with_its_size_and_age(
    storage: Storage, tmp_path: Path
) -> None:
    before = time.time()
    keys = {"JWST/product/a1/one.fits": b"1", "JWST/product/b2/two.fits": b"22",
            "JWST/preview/three.png": b"333", "hips/Norder3/Npix1.png": b"4444"}  # fmt: skip
    for number, (key, data) in enumerate(keys.items()):
        storage.put_file(key, source_file(tmp_path, data, f"{number}.dat"))
    listed = {found.key: found for found in storage.list_objects()}
    assert set(listed) == set(keys)
    assert all(listed[key].size == len(data) for key, data in keys.items())
    # a store's clock may be a little off ours, and S3 keeps whole seconds
    assert all(before - 5 <= found.modified <= time.time() + 5 for found in listed.values())
    products = {found.key for found in storage.list_objects("JWST/product/")}
    assert products == {"JWST/product/a1/one.fits", "JWST/product/b2/two.fits"}
    assert [f.key for f in storage.list_objects("JWST/product/a1/one.fits")] == [
        "JWST/product/a1/one.fits"
    ]
    storage.delete("JWST/product/a1/one.fits")
    assert not list(storage.list_objects("JWST/product/a1/"))


def test_a_stream_closed_half_way_can_be_read_again(storage: Storage, tmp_path: Path) -> None:
    storage.put_file(KEY, source_file(tmp_path, DATA))
    stream = storage.open_range(KEY)
    assert next(iter(stream))
    stream.close()  # type: ignore[attr-defined]
    assert joined(storage.open_range(KEY, 0, 9)) == DATA[:10]


@pytest.mark.parametrize("bad", BAD_KEYS)
def test_keys_that_could_escape_are_refused(storage: Storage, tmp_path: Path, bad: str) -> None:
    with pytest.raises(BadQuery):
        storage.put_file(bad, source_file(tmp_path, b"x"))
    with pytest.raises(BadQuery):
        storage.open_range(bad)
    with pytest.raises(BadQuery):
        storage.exists(bad)


def test_local_path_only_where_there_is_one(storage: Storage, tmp_path: Path) -> None:
    storage.put_file(KEY, source_file(tmp_path, DATA))
    path = storage.local_path(KEY)
    if isinstance(storage, LocalStorage):
        assert path is not None and path.read_bytes() == DATA
        with pytest.raises(NotFound):
            storage.local_path("JWST/product/missing.fits")
    else:
        assert path is None


def test_url_for_reads_without_credentials_only_on_object_stores(
    storage: Storage, tmp_path: Path
) -> None:
    storage.put_file(KEY, source_file(tmp_path, DATA))
    disposition = "attachment; filename=\"uncal.fits\"; filename*=UTF-8''uncal.fits"
    url = storage.url_for(
        KEY, 60,
        response_headers={"Content-Type": "application/fits", "Content-Disposition": disposition},
    )  # fmt: skip
    if not str(storage).startswith("s3://"):
        assert url is None
        return
    assert url is not None
    with httpx.Client(trust_env=False) as client:
        whole = client.get(url)
        assert whole.status_code == 200 and whole.content == DATA
        assert whole.headers["content-disposition"] == disposition
        assert whole.headers["content-type"] == "application/fits"
        part = client.get(url, headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == DATA[100:200]
        tampered = client.get(url.replace("uncal", "rate"))
        assert tampered.status_code == 403


def test_presigned_urls_expire(seaweed_s3, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from skyarchive.storage.s3 import S3Storage

    storage = S3Storage(seaweed_s3.new_location(), endpoint_url=seaweed_s3.endpoint)
    storage.put_file(KEY, source_file(tmp_path, b"short-lived"))
    url = storage.url_for(KEY, 1)
    assert url is not None
    time.sleep(2.1)
    with httpx.Client(trust_env=False) as client:
        assert client.get(url).status_code == 403


def test_large_files_go_up_in_parts_and_keep_their_checksum(
    seaweed_s3,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    from skyarchive.storage.s3 import S3Storage

    part = 5 << 20  # S3's smallest part
    storage = S3Storage(
        seaweed_s3.new_location(), endpoint_url=seaweed_s3.endpoint,
        multipart_threshold=part, multipart_chunk=part,
    )  # fmt: skip
    data = os.urandom(2 * part + 777)
    stored = storage.put_file(KEY, source_file(tmp_path, data))
    head = seaweed_s3.client().head_object(Bucket=storage.bucket, Key=storage.prefix + KEY)
    assert head["ETag"].strip('"').endswith("-3")  # a multipart object: three parts
    assert head["Metadata"]["sha256"] == hashlib.sha256(data).hexdigest() == stored.sha256
    assert storage.recorded_checksum(KEY) == stored.sha256
    assert storage.checksum(KEY) == hashlib.sha256(data).hexdigest()
    assert joined(storage.open_range(KEY, part - 3, part + 2)) == data[part - 3 : part + 3]


def test_an_unreachable_store_is_an_os_error_not_a_crash(tmp_path: Path, seaweed_s3) -> None:  # type: ignore[no-untyped-def]
    from skyarchive.storage.s3 import S3Error, S3Storage

    gone = S3Storage("s3://nowhere", endpoint_url="http://127.0.0.1:9")  # discard port
    gone.client.meta.config.retries = {"max_attempts": 1}
    with pytest.raises(S3Error):
        gone.put_file(KEY, source_file(tmp_path, b"x"))
    assert issubclass(S3Error, OSError)  # so ingest stops with StorageUnavailable
