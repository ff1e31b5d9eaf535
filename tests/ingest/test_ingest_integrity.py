"""Ingest never loses or mixes data (issue 14, section 2), through the real ``skyarchive ingest``.

Each test ingests a small part of the demo output, then runs the CLI in a subprocess on files
that must be refused, replaced, skipped or stopped, and checks the catalogue, the storage
directory and (where the issue is about what is served) a download from the real server.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.tables import product_versions, products
from skyarchive.ingest.run import NOT_A_FILE, ingest_paths
from tests.e2e.conftest import LiveServer
from tests.ingest.integrity import (
    assert_no_orphans,
    catalogue,
    cli,
    cli_env,
    copy_program,
    manifest,
    stored_objects,
    with_date,
)

# among the slowest files: handed out first (tests/suite.py)
pytestmark = pytest.mark.slow

PROGRAM = "jw01366"  # ERS, public: 50 files


@pytest.fixture
def small(tmp_path: Path, demo_output) -> Iterator[tuple[Archive, Path]]:  # type: ignore[no-untyped-def]
    """A SQLite archive holding one public program of the demo (ingested in-process)."""
    out, _ = demo_output
    folder = copy_program(Path(out), PROGRAM, tmp_path / "pipeline" / PROGRAM)
    archive = Archive.open(Settings(home=tmp_path / "home"))
    report = ingest_paths(
        [folder], engine=archive.engine, storage=archive.storage, default_eap_months=12, workers=1
    )
    assert report.ok and report.added == 50, report.failed
    yield archive, folder
    archive.engine.dispose()


def science_file(folder: Path) -> Path:
    return sorted(folder.glob("*_00001-seg001_nis_rate.fits"))[0]


def renamed(source: Path, exposure: str) -> str:
    """``source``'s name with another exposure number: a name the archive does not hold."""
    return source.name.replace("_00001-", f"_{exposure}-")


def lines(stderr: str, label: str) -> list[str]:
    """The report lines with ``label`` (rich may wrap a long line: joined back by label)."""
    text = " ".join(stderr.split())
    return [(label + part).strip() for part in text.split(label)[1:]]


def row(archive: Archive, name: str):  # type: ignore[no-untyped-def]
    with archive.engine.connect() as conn:
        return conn.execute(select(products).where(products.c.productFilename == name)).one()


# 2.1 A file name belongs to one observation ------------------------------------------------


def test_a_name_held_by_another_collection_or_observation_is_refused(small, demo_output,
                                                                     tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
    archive, folder = small
    home = archive.settings.home
    held = science_file(folder)
    hst_file = Path(demo_output[0]) / "hst" / "idxx01010_drz.fits"

    # A manifest of another collection describing a file under an archived JWST name
    clash = tmp_path / "clash"
    with_date(held, clash / "hst" / held.name, "2099-01-01T00:00:00.000")
    manifest(clash, [{"obs_id": "ib9901010", "obs_collection": "HST",
                      "products": [{"file": f"hst/{held.name}"}]}])  # fmt: skip
    before = catalogue(archive)
    result = cli(home, "ingest", str(clash))
    assert result.returncode == 1, result.stderr
    [failed] = lines(result.stderr, "failed:")
    assert held.name in failed and "collection JWST, not HST" in failed
    assert catalogue(archive) == before
    assert_no_orphans(archive)

    # Same collection, another observation: the first holder keeps the name
    first, second = tmp_path / "first", tmp_path / "second"
    shutil.copy(hst_file, (first / "hst").mkdir(parents=True) or first / "hst" / "ib_x_drz.fits")
    manifest(first, [{"obs_id": "ib9902010", "obs_collection": "HST",
                      "products": [{"file": "hst/ib_x_drz.fits"}]}])  # fmt: skip
    assert cli(home, "ingest", str(first)).returncode == 0
    with_date(hst_file, second / "hst" / "ib_x_drz.fits", "2099-01-01T00:00:00.000")
    manifest(second, [{"obs_id": "ib9903010", "obs_collection": "HST",
                       "products": [{"file": "hst/ib_x_drz.fits"}]}])  # fmt: skip
    before = catalogue(archive)
    result = cli(home, "ingest", str(second))
    assert result.returncode == 1
    [failed] = lines(result.stderr, "failed:")
    assert "observation ib9902010, not ib9903010" in failed
    assert catalogue(archive) == before
    assert_no_orphans(archive)


def test_reprocessed_file_replaces_the_old_one_everywhere(small, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    archive, folder = small
    home = archive.settings.home
    source = science_file(folder)
    old = row(archive, source.name)
    newer = with_date(source, tmp_path / "newer" / source.name, "2099-01-01T00:00:00.000",
                      CAL_VER="9.9.9")  # fmt: skip
    new_bytes = newer.read_bytes()

    with LiveServer(archive) as server:
        url = f"{server.url}/api/v0.1/Download/file"
        params = {"uri": f"mast:JWST/product/{source.name}"}
        assert httpx.get(url, params=params, timeout=30).content == source.read_bytes()

        result = cli(home, "ingest", str(newer.parent))
        assert result.returncode == 0, result.stderr
        assert "1 replaced by a newer version" in " ".join(result.stderr.split())

        served = httpx.get(url, params=params, timeout=30)
        assert served.status_code == 200
        assert hashlib.sha256(served.content).hexdigest() == hashlib.sha256(new_bytes).hexdigest()

    new = row(archive, source.name)
    assert new.product_id == old.product_id and new.prvversion == "9.9.9"
    with archive.engine.connect() as conn:
        [history] = conn.execute(select(product_versions)).all()
    assert (history.product_id, history.productFilename) == (old.product_id, source.name)
    assert (history.old_sha256, history.new_sha256) == (
        old.sha256, hashlib.sha256(new_bytes).hexdigest()
    )  # fmt: skip
    assert (history.old_file_date, history.new_file_date) == (
        old.file_date, "2099-01-01T00:00:00.000"
    )  # fmt: skip
    assert history.replaced_at[:2] == "20"
    assert old.storage_key not in stored_objects(archive)  # the old object is removed
    assert_no_orphans(archive)

    # An older DATE, and the same DATE with other bytes: stale, reported, skipped
    for date, label in (("1999-01-01T00:00:00.000", "older"), ("2099-01-01T00:00:00.000", "same")):
        stale = with_date(source, tmp_path / label / source.name, date, CAL_VER=f"0-{label}")
        result = cli(home, "ingest", str(stale.parent))
        assert result.returncode == 0, result.stderr
        [line] = lines(result.stderr, "stale:")
        assert source.name in line and "not newer" in line and date in line
        assert "1 stale" in " ".join(result.stderr.split())
        assert row(archive, source.name) == new
    with archive.engine.connect() as conn:
        assert len(conn.execute(select(product_versions)).all()) == 1
    assert_no_orphans(archive)


def test_manifest_reprocessing_follows_the_same_rule(small, demo_output, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    archive, _ = small
    home = archive.settings.home
    hst = Path(demo_output[0]) / "hst" / "idxx01010_drz.fits"
    one = [{"obs_id": "ib9904010", "obs_collection": "HST", "products": [{"file": hst.name}]}]
    first = tmp_path / "first"
    first.mkdir()
    shutil.copy(hst, first / hst.name)
    manifest(first, one)
    assert cli(home, "ingest", str(first)).returncode == 0
    old = row(archive, hst.name)

    newer = tmp_path / "newer"
    with_date(hst, newer / hst.name, "2099-01-01T00:00:00.000")
    manifest(newer, one)
    result = cli(home, "ingest", str(newer))
    assert result.returncode == 0, result.stderr
    assert "1 replaced" in " ".join(result.stderr.split())
    new = row(archive, hst.name)
    assert new.sha256 == hashlib.sha256((newer / hst.name).read_bytes()).hexdigest()
    assert new.file_date == "2099-01-01T00:00:00.000"
    with archive.engine.connect() as conn:
        [history] = conn.execute(select(product_versions)).all()
    assert (history.old_sha256, history.new_sha256) == (old.sha256, new.sha256)
    assert old.storage_key not in stored_objects(archive)
    assert_no_orphans(archive)

    older = tmp_path / "older"
    with_date(hst, older / hst.name, "2000-01-01T00:00:00.000")
    manifest(older, one)
    result = cli(home, "ingest", str(older))
    assert result.returncode == 0, result.stderr
    [line] = lines(result.stderr, "stale:")
    assert hst.name in line and "2000-01-01" in line
    assert row(archive, hst.name) == new
    assert_no_orphans(archive)


# 2.2 Two files with the same name in one ingest ----------------------------------------------


def test_same_name_with_different_content_in_one_ingest(small, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    archive, folder = small
    home = archive.settings.home
    source = science_file(folder)
    name, twin = renamed(source, "00071"), renamed(source, "00072")
    run = tmp_path / "run"
    a = with_date(source, run / "a" / name, "2030-01-01T00:00:00.000")
    b = with_date(source, run / "b" / name, "2031-01-01T00:00:00.000")
    # the same bytes twice under one name is one file: archived once
    copy_a = with_date(source, run / "a" / twin, "2030-01-01T00:00:00.000")
    shutil.copy(copy_a, run / "b" / twin)
    before = catalogue(archive)

    result = cli(home, "ingest", str(run))
    assert result.returncode == 1, result.stderr
    failed = lines(result.stderr, "failed:")
    assert len(failed) == 2
    assert {str(a), str(b)} == {line.removeprefix("failed: ").split(": ")[0] for line in failed}
    assert all("different content" in line for line in failed)
    after = catalogue(archive)
    assert name not in after
    assert set(after) == set(before) | {twin}
    assert_no_orphans(archive)


def test_a_failed_batch_leaves_no_object_in_storage(tmp_path: Path, demo_output) -> None:  # type: ignore[no-untyped-def]
    """The product writer's transaction removes what it stored when the catalogue refuses."""
    from skyarchive.errors import IngestError
    from skyarchive.ingest.writer import product_transaction

    archive = Archive.open(Settings(home=tmp_path / "home"))
    source = next((Path(demo_output[0]) / "hst").glob("*.fits"))
    with pytest.raises(IngestError), product_transaction(archive.engine, archive.storage) as (
        conn, objects
    ):  # fmt: skip
        objects.put("HST/product/x/a.fits", source)
        row_values = {"productFilename": "a.fits", "dataURI": "mast:HST/product/a.fits",
                      "obs_collection": "HST", "productType": "SCIENCE", "size": 1,
                      "sha256": "0" * 64, "storage_key": "HST/product/x/a.fits"}  # fmt: skip
        conn.execute(products.insert(), [row_values, {**row_values, "storage_key": "b"}])
    assert stored_objects(archive) == set()
    archive.engine.dispose()


# 2.3 Names with control characters, separators, NUL ------------------------------------------


def test_names_with_control_characters_are_refused(small, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    archive, folder = small
    home = archive.settings.home
    source = science_file(folder)
    bad = tmp_path / "bad"
    bad.mkdir()
    names = {
        "newline": source.name.replace("_rate", "_c\nal"),
        "escape": source.name.replace("_rate", "_\x1b[31mcal"),
        "bidi": source.name.replace("_rate", "_\u202ecal"),
        "backslash": source.name.replace("_rate", "_c\\al"),
        "delete": source.name.replace("_rate", "_c\x7fal"),
    }
    for name in names.values():
        shutil.copy(source, bad / name)
    raw = os.fsencode(bad) + b"/" + source.name.replace("_rate", "_c\xffal").encode("latin-1")
    shutil.copy(source, raw)  # a name that is not UTF-8
    hst = tmp_path / "hst-bad"
    hst.mkdir()
    manifest(hst, [{"obs_id": "ib9905010", "obs_collection": "HST",
                    "products": [{"file": "x\u0000y.fits"}]}])  # fmt: skip
    os.mkfifo(tmp_path / "pipe.fits")  # would block a reader for ever
    before = catalogue(archive)

    result = cli(home, "ingest", str(bad), str(hst), str(tmp_path / "pipe.fits"), timeout=120)
    assert result.returncode == 1
    failed = lines(result.stderr, "failed:")
    assert len(failed) == len(names) + 3, result.stderr
    assert [line for line in failed if "not a regular file" in line] == [
        f"failed: {tmp_path / 'pipe.fits'}: {NOT_A_FILE}"
    ]  # fmt: skip
    failed = [line for line in failed if "pipe.fits" not in line]
    assert all("refused in file names" in line for line in failed)
    shown = " ".join(failed)
    for escaped in ("\\x0a", "\\x1b", "\\u202e", "c\\al", "\\x7f", "\\xff", "\\x00"):
        assert escaped in shown
    # none of those characters reaches the operator's terminal
    assert not re.search("[\x00\x1b\x7f\u202e]", result.stderr)
    assert catalogue(archive) == before
    assert_no_orphans(archive)


# 2.4 A killed ingest and a full disk ----------------------------------------------------------


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "SIGKILL"])
def test_a_killed_ingest_leaves_no_reader_process(tmp_path: Path, demo_output, how: str) -> None:  # type: ignore[no-untyped-def]
    out = Path(demo_output[0])
    # every JWST demo file (879): a reader pool, and an ingest long enough to be caught
    folder = Path(shutil.copytree(out / "jwst", tmp_path / "jwst"))
    home = tmp_path / "home"
    process = subprocess.Popen(
        [sys.executable, "-m", "skyarchive", "--home", str(home), "ingest", str(folder),
         "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(home),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        readers: set[int] = set()
        while len(readers) < 2 and time.monotonic() < deadline and process.poll() is None:
            readers = {c for c in _children(process.pid) if _alive(c)}
            time.sleep(0.02)
        assert len(readers) >= 2, "the reader processes never started"
        # the ingest is held where it is while the signal is sent, so on a loaded machine it
        # cannot finish between the readers being seen and the signal arriving
        os.kill(process.pid, signal.SIGSTOP)
        assert process.poll() is None, "the ingest ended before it could be interrupted"
        if how == "SIGKILL":  # one reader busy (stopped): it cannot notice the parent is gone
            os.kill(min(readers), signal.SIGSTOP)
        process.send_signal(getattr(signal, how))
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGCONT)  # the pending signal is taken on waking
        _, stderr = process.communicate(timeout=60)
        if how != "SIGKILL":
            assert process.returncode == 130, stderr
            assert "ingest interrupted" in stderr and "Traceback" not in stderr
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in readers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [p for p in readers if _alive(p)], f"readers left behind after {how}"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for reader in readers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(reader, signal.SIGKILL)
    if how != "SIGKILL":  # a handled interruption rolls its batch back, storage included
        archive = Archive.open(Settings(home=home))
        assert_no_orphans(archive)
        archive.engine.dispose()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs (needs root and mount rights; skipped with the reason otherwise)."""
    mount = tmp_path / f"tiny-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a 1 MiB tmpfs needs root; the full-disk path is covered in-process below")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_ends_with_one_line_and_changes_nothing(small, demo_output, tiny_disk,
                                                            tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
    archive, _ = small
    home = archive.settings.home
    storage = archive.settings.resolved_storage_path
    # the archive's files move to the tiny disk (what is there fits; new files do not)
    shutil.copytree(storage, tiny_disk, dirs_exist_ok=True)
    env = {"SKYARCHIVE_STORAGE_PATH": str(tiny_disk)}
    moved = Archive.open(Settings(home=home, storage_path=tiny_disk))
    before, objects = catalogue(moved), stored_objects(moved)
    folder = copy_program(Path(demo_output[0]), "jw01073", tmp_path / "jw01073")  # 2.5 MB

    result = cli(home, "ingest", str(folder), env=env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "storage is full" in " ".join(result.stderr.split())
    assert catalogue(moved) == before
    assert stored_objects(moved) == objects
    moved.engine.dispose()


def test_a_storage_write_error_stops_the_run_in_process(small, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Portable twin of the tmpfs test: a storage whose writes fail with ENOSPC."""
    import errno

    from skyarchive.errors import StorageUnavailable

    archive, folder = small

    class FullStorage:
        def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
            self.inner, self.writes = inner, 0

        def put_file(self, key: str, source: Path):  # type: ignore[no-untyped-def]
            self.writes += 1
            if self.writes > 3:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.inner.put_file(key, source)

        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(self.inner, name)

    new = tmp_path / "new"
    for index, source in enumerate(sorted(folder.glob("*_00001-*.fits"))[:6]):
        with_date(source, new / renamed(source, f"0008{index}"), "2030-01-01T00:00:00.000")
    before = catalogue(archive)
    with pytest.raises(StorageUnavailable, match="storage is full"):
        ingest_paths([new], engine=archive.engine, storage=FullStorage(archive.storage),
                     default_eap_months=12, workers=1)  # fmt: skip
    assert catalogue(archive) == before
    assert_no_orphans(archive)
