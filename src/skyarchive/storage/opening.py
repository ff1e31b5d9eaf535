"""Choose the storage backend from a URL: ``file:///dir`` or ``s3://bucket/prefix``."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from skyarchive.config import Settings
from skyarchive.errors import BadQuery
from skyarchive.storage.base import Storage
from skyarchive.storage.local import LocalStorage


def storage_at(url: str, *, s3_endpoint_url: str | None = None) -> Storage:
    """The storage that ``url`` names (a local directory is created if missing).

    Raises
    ------
    BadQuery
        A URL of another scheme.
    """
    scheme = urlsplit(url).scheme
    if scheme == "file":
        return LocalStorage(Path(url2pathname(urlsplit(url).path)))
    if scheme == "s3":
        from skyarchive.storage.s3 import S3Storage  # boto3 is imported only when used

        return S3Storage(url, endpoint_url=s3_endpoint_url)
    raise BadQuery(f"Storage URL {url!r} is neither file:///path/to/dir nor s3://bucket/prefix.")


def open_storage(settings: Settings) -> Storage:
    """The archive's storage as ``settings`` configure it (``storage_url``, else the local
    ``storage_path``, else ``files/`` in the home)."""
    return storage_at(settings.resolved_storage_url, s3_endpoint_url=settings.s3_endpoint_url)
