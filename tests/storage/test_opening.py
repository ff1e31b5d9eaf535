"""Which storage an archive opens: ``storage_url``, else ``storage_path``, else ``files/``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from skyarchive.config import Settings
from skyarchive.errors import BadQuery
from skyarchive.storage import LocalStorage, open_storage, storage_at
from skyarchive.storage.s3 import S3Storage, parse_s3_url


def test_the_default_is_files_in_the_home(tmp_path: Path) -> None:
    storage = open_storage(Settings(home=tmp_path))
    assert isinstance(storage, LocalStorage) and storage.root == (tmp_path / "files").resolve()


def test_storage_path_still_works(tmp_path: Path) -> None:
    storage = open_storage(Settings(home=tmp_path, storage_path=tmp_path / "older"))
    assert isinstance(storage, LocalStorage) and storage.root == (tmp_path / "older").resolve()


def test_a_file_url_names_the_directory_and_wins(tmp_path: Path) -> None:
    folder = tmp_path / "data archive"  # a space: the URL is percent-encoded
    settings = Settings(home=tmp_path, storage_path=tmp_path / "older",
                        storage_url=folder.as_uri())  # fmt: skip
    storage = open_storage(settings)
    assert isinstance(storage, LocalStorage) and storage.root == folder.resolve()
    assert settings.resolved_storage_path == folder.resolve()


def test_an_s3_url_opens_the_bucket_and_prefix(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, storage_url="s3://my-bucket/some/prefix/",
                        s3_endpoint_url="http://127.0.0.1:8333")  # fmt: skip
    storage = open_storage(settings)
    assert isinstance(storage, S3Storage)
    assert (storage.bucket, storage.prefix) == ("my-bucket", "some/prefix/")
    assert storage.client.meta.endpoint_url == "http://127.0.0.1:8333"
    assert parse_s3_url("s3://only-bucket") == ("only-bucket", "")


@pytest.mark.parametrize("url", ["s3://bucket/../up", "s3:///no-bucket", "ftp://host/dir"])
def test_unusable_urls_are_refused(url: str) -> None:
    with pytest.raises(BadQuery, match="s3://bucket/prefix|Invalid storage key"):
        storage_at(url)


def test_a_bad_setting_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="neither file:///path/to/dir nor s3://"):
        Settings(home=tmp_path, storage_url="/just/a/path")
    with pytest.raises(ValidationError):
        Settings(home=tmp_path, download_mode="teleport")  # type: ignore[arg-type]


def test_the_cli_says_which_setting_is_wrong(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "skyarchive", "--home", str(tmp_path), "migrate"],
        env={"SKYARCHIVE_STORAGE_URL": "bucket/prefix", "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "SKYARCHIVE_STORAGE_URL" in done.stderr and "s3://bucket/prefix" in done.stderr
