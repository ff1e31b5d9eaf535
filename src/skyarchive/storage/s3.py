"""Files in an S3-compatible object store (AWS S3, SeaweedFS, MinIO, Ceph ...), on boto3.

Keys are stored under an optional prefix of one bucket. Credentials come from boto3's standard
chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, profiles, instance roles); only the
endpoint of a store other than AWS is a setting of ours (``s3_endpoint_url``). Retries are
boto3's standard mode, as many attempts as the operator's AWS settings say (3 by default).

* Uploads stream from the file; above :data:`MULTIPART_THRESHOLD` boto3 sends parts, so a file
  of any size never sits in memory. The SHA-256 is kept beside the object (user metadata
  ``sha256``) so the store itself says which bytes it was given.
* Reads are ranged ``GetObject`` calls whose body is passed on in chunks: memory stays flat
  however large the file or bundle.
* boto3's exceptions are translated here: a missing object is :class:`NotFound`, anything else
  (unreachable store, refused credentials) an :class:`S3Error`, an ``OSError`` like a failing
  disk, so callers handle both backends alike, and a
  :class:`~skyarchive.errors.ServiceUnavailable`, so a download it stops is answered 503 with
  ``Retry-After`` rather than as an unexpected failure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from skyarchive.errors import BadQuery, NotFound, ServiceUnavailable
from skyarchive.storage.base import CHUNK, StoredFile, StoredObject, digest_of, safe_key

#: Files above this size are uploaded in parts of :data:`MULTIPART_CHUNK` (S3 allows 10,000
#: parts, so parts of 64 MiB carry files up to 625 GiB).
MULTIPART_THRESHOLD = 64 << 20
MULTIPART_CHUNK = 64 << 20
_MISSING = {"404", "NoSuchKey", "NotFound"}
_PARALLEL_HEADS = 16  # below the client's connection pool (32), so streams still get one
_HEADER_PARAMS = {
    "content-type": "ResponseContentType",
    "content-disposition": "ResponseContentDisposition",
    "cache-control": "ResponseCacheControl",
}


class S3Error(ServiceUnavailable, OSError):
    """The object store failed or refused a request (not: the object is missing)."""


def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, key prefix) of ``s3://bucket/prefix``; the prefix is '' or ends with '/'."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise BadQuery(f"Storage URL {url!r} is not of the form s3://bucket/prefix.")
    prefix = parts.path.strip("/")
    if prefix:
        safe_key(prefix)
    return parts.netloc, f"{prefix}/" if prefix else ""


class S3Storage:
    """One bucket (and key prefix) of an S3-compatible store."""

    def __init__(
        self,
        url: str,
        *,
        endpoint_url: str | None = None,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        multipart_chunk: int = MULTIPART_CHUNK,
    ) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.url = url
        self.bucket, self.prefix = parse_s3_url(url)
        # Stores other than AWS are addressed by path (http://host:port/bucket/key): their
        # buckets have no DNS names of their own.
        addressing = "path" if endpoint_url else "auto"
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": addressing},
            # How many times boto3 tries is the operator's, as for any AWS client
            # (AWS_MAX_ATTEMPTS, or max_attempts in ~/.aws/config): standard mode tries 3
            # times by default. A number set here would override both; the 5 retries once set
            # here kept a download waiting up to half a minute for its 503 when the store was
            # down (exponential back-off, 1 s doubling), each request on its own.
            retries={"mode": "standard"},
            max_pool_connections=32,  # one per concurrent download stream
        )
        self.client: Any = boto3.client("s3", endpoint_url=endpoint_url, config=config)
        self.transfer = TransferConfig(
            multipart_threshold=multipart_threshold, multipart_chunksize=multipart_chunk
        )

    def __str__(self) -> str:
        return self.url

    def _object(self, key: str) -> str:
        return self.prefix + safe_key(key)

    def put_file(self, key: str, source: Path) -> StoredFile:
        name = self._object(key)
        size, sha = _file_digest(Path(source))
        metadata = {"sha256": sha}
        with _translated(key):
            # A single PUT and a completed multipart upload both appear at once and whole.
            if size < self.transfer.multipart_threshold:  # one request, no transfer threads
                with open(source, "rb") as body:
                    self.client.put_object(
                        Bucket=self.bucket, Key=name, Body=body, Metadata=metadata
                    )
            else:
                self.client.upload_file(
                    str(source), self.bucket, name, ExtraArgs={"Metadata": metadata},
                    Config=self.transfer,
                )  # fmt: skip
        return StoredFile(key=key, size=size, sha256=sha)

    def exists(self, key: str) -> bool:
        try:
            self._head(key)
        except NotFound:
            return False
        return True

    def missing(self, keys: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(keys))
        if len(wanted) <= 1:
            return {key for key in wanted if not self.exists(key)}
        # HEADs in parallel: a bundle of thousands of files would otherwise wait for thousands
        # of round trips before its first byte.
        with ThreadPoolExecutor(max_workers=min(_PARALLEL_HEADS, len(wanted))) as pool:
            present = list(pool.map(self.exists, wanted))
        return {key for key, there in zip(wanted, present, strict=True) if not there}

    def size(self, key: str) -> int:
        return int(self._head(key)["ContentLength"])

    def recorded_checksum(self, key: str) -> str | None:
        """The SHA-256 given at upload (user metadata), without reading the object."""
        return self.recorded(key).sha256 or None

    def recorded(self, key: str) -> StoredFile:
        head = self._head(key)
        sha = str(head.get("Metadata", {}).get("sha256") or "")
        return StoredFile(key=key, size=int(head["ContentLength"]), sha256=sha)

    def _head(self, key: str) -> dict[str, Any]:
        with _translated(key):
            return dict(self.client.head_object(Bucket=self.bucket, Key=self._object(key)))

    def open_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        name = self._object(key)
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Key": name}
        if start or end is not None:  # no Range for a whole file: an empty one has no byte 0
            arguments["Range"] = f"bytes={start}-{'' if end is None else end}"
        from botocore.exceptions import ClientError

        with _translated(key):
            try:
                answer = self.client.get_object(**arguments)
            except ClientError as exc:
                if _code(exc) != "InvalidRange":
                    raise
                self._head(key)  # past the end of an existing file: no bytes, as on disk
                return iter(())
        return _body_chunks(answer["Body"], key)

    def checksum(self, key: str) -> str:
        return digest_of(self.open_range(key))

    def delete(self, key: str) -> None:
        with _translated(key):
            self.client.delete_object(Bucket=self.bucket, Key=self._object(key))

    def local_path(self, key: str) -> None:
        return None

    def url_for(
        self, key: str, seconds: int, *, response_headers: Mapping[str, str] | None = None
    ) -> str:
        params = {"Bucket": self.bucket, "Key": self._object(key)}
        for header, value in (response_headers or {}).items():
            param = _HEADER_PARAMS.get(header.lower())
            if param is not None:
                params[param] = value
        with _translated(key):
            url: str = self.client.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=int(seconds)
            )
        return url

    def list_keys(self) -> Iterator[str]:
        """Every key under the prefix (for tests and the operator's checks)."""
        return (found.key for found in self.list_objects())

    def list_objects(self, prefix: str = "") -> Iterator[StoredObject]:
        paginator = self.client.get_paginator("list_objects_v2")
        with _translated(self.prefix + prefix or "/"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for entry in page.get("Contents", []):
                    yield StoredObject(
                        key=entry["Key"][len(self.prefix) :], size=int(entry["Size"]),
                        modified=entry["LastModified"].timestamp(),
                    )  # fmt: skip


def _file_digest(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _body_chunks(body: Any, key: str) -> Iterator[bytes]:
    """The object's bytes in chunks; closing the iterator closes the connection's stream."""
    from botocore.exceptions import BotoCoreError

    try:
        yield from body.iter_chunks(CHUNK)
    except BotoCoreError as exc:  # a connection lost mid-body: the download fails as a short one
        raise S3Error(f"reading {key!r} from the object store failed: {exc}") from exc
    finally:
        body.close()


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {})
    return str(error.get("Code") or response.get("ResponseMetadata", {}).get("HTTPStatusCode"))


@contextmanager
def _translated(key: str) -> Iterator[None]:
    """Turn boto3's exceptions into ours: NotFound for a missing object, S3Error otherwise."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        if _code(exc) in _MISSING:
            raise NotFound(f"No file stored under {key!r}.") from exc
        raise S3Error(f"the object store refused a request for {key!r}: {exc}") from exc
    except (BotoCoreError, Boto3Error) as exc:
        raise S3Error(f"the object store failed on {key!r}: {exc}") from exc
