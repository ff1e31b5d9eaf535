"""Helpers of the ingest integrity tests: the real CLI in a subprocess, catalogue and storage."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from astropy.io import fits
from sqlalchemy import select

from skyarchive.archive import Archive
from skyarchive.db.tables import products


def cli(home: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300):  # type: ignore[no-untyped-def]
    """Run ``python -m skyarchive --home HOME ARGS`` and wait for it."""
    return subprocess.run(
        [sys.executable, "-m", "skyarchive", "--home", str(home), *args],
        capture_output=True, text=True, timeout=timeout, env=cli_env(home, env),
    )  # fmt: skip


def cli_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home.parent),
            "COLUMNS": "200", **(extra or {})}  # fmt: skip


def catalogue(archive: Archive) -> dict[str, tuple]:
    """Every product row, by file name."""
    with archive.engine.connect() as conn:
        rows = conn.execute(select(products)).all()
    return {row.productFilename: tuple(row) for row in rows}


def stored_objects(archive: Archive) -> set[str]:
    """Keys of every object in the local storage directory (temporary files included)."""
    root = archive.settings.resolved_storage_path
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def catalogued_keys(archive: Archive) -> set[str]:
    with archive.engine.connect() as conn:
        return set(conn.scalars(select(products.c.storage_key)))


def assert_no_orphans(archive: Archive) -> None:
    """Storage holds exactly the objects the catalogue points at: none lost, none orphaned."""
    assert stored_objects(archive) == catalogued_keys(archive)


def copy_program(out: Path, program: str, target: Path) -> Path:
    """A copy of one JWST program's demo files (e.g. ``jw01366``)."""
    return Path(shutil.copytree(out / "jwst" / program, target))


def with_date(source: Path, target: Path, date: str, **keywords: str) -> Path:
    """A copy of FITS ``source`` at ``target`` with primary-header DATE (and more) changed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with fits.open(source) as hdul:
        hdul[0].header["DATE"] = date
        for key, value in keywords.items():
            hdul[0].header[key] = value
        hdul.writeto(target, overwrite=True)
    return target


def manifest(folder: Path, observations: list[dict], name: str = "extra") -> Path:
    path = folder / f"{name}.skyarchive.json"
    path.write_text(json.dumps({"skyarchive_manifest": 1, "observations": observations}))
    return path
