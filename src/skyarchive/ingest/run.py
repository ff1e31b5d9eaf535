"""The ingest service: walk paths, read files, write batches, link, report.

One bad file never stops a run and never touches what is already archived: it is reported with
its reason and skipped. Reading (checksums, FITS headers) runs in worker processes; writing runs
in this process, one transaction per batch.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from skyarchive.errors import IngestError, SkyArchiveError
from skyarchive.ingest.catalog import BatchOutcome, apply_jwst_batch
from skyarchive.ingest.linking import link_programs
from skyarchive.ingest.manifest import (
    apply_manifest,
    is_manifest,
    load_manifest,
    referenced_files,
)
from skyarchive.ingest.reader import FileRecord, read_file
from skyarchive.notify.events import record_arrivals, record_batch_events
from skyarchive.storage import Storage

BATCH_SIZE = 400


@dataclass
class IngestReport:
    files: int = 0
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    older: int = 0
    observations: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


ProgressCallback = Callable[[int, int], None]  # (files done, errors so far)


def collect_files(paths: Iterable[Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Every regular file under ``paths`` (hidden files skipped), and paths that do not exist."""
    found: list[Path] = []
    missing: list[tuple[str, str]] = []
    for path in paths:
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found += [Path(root, f) for f in sorted(files) if not f.startswith(".")]
        else:
            missing.append((str(path), "no such file or directory"))
    return found, missing


def ingest_paths(
    paths: Sequence[Path],
    *,
    engine: Engine,
    storage: Storage,
    default_eap_months: int,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> IngestReport:
    """Archive every file under ``paths``.

    Returns
    -------
    IngestReport
        Counts of added, replaced (newer version), unchanged and older-version files, and the
        files that failed with their reasons.
    """
    files, missing = collect_files(paths)
    report = IngestReport(files=len(files), failed=list(missing))
    manifests = [f for f in files if is_manifest(f)]
    described = {p.resolve() for m in manifests for p in referenced_files(m)}
    pipeline_files = [f for f in files if not is_manifest(f) and f.resolve() not in described]
    touched_programs: set[str] = set()
    written = 0
    unreadable_paths = len(missing)

    def tick(count: int) -> None:
        """Report files done: written ones plus those that failed while being read."""
        nonlocal written
        written += count
        if progress:
            failed = len(report.failed)
            progress(min(len(files), written + failed - unreadable_paths), failed)

    for batch in _read_batches(pipeline_files, report, workers):
        for outcome in _write_batch(engine, storage, batch, report):
            report.added += len(outcome.added)
            report.replaced += len(outcome.replaced)
            report.unchanged += len(outcome.unchanged)
            report.older += len(outcome.older)
            report.observations += len(outcome.obsids)
            touched_programs |= outcome.programs
            for key in outcome.superseded_keys:
                storage.delete(key)  # the new row is committed; the old bytes are unreachable
        tick(len(batch))
    tick(0)

    if touched_programs:
        with engine.begin() as conn:
            link_programs(conn, storage, touched_programs, default_eap_months=default_eap_months)
            record_arrivals(conn, touched_programs)  # new files public on arrival (subscriptions)

    for manifest in manifests:
        try:
            content = load_manifest(manifest)
            with engine.begin() as conn:
                applied = apply_manifest(
                    conn, storage, manifest, content, default_eap=default_eap_months
                )
                # release dates are set by the manifest itself: Public on arrival at once
                record_batch_events(conn, applied.changes)
                record_arrivals(conn, applied.changes.programs)
        except SkyArchiveError as exc:
            report.failed.append((str(manifest), str(exc)))
        else:
            report.added += applied.added
            report.replaced += applied.replaced
            report.unchanged += applied.unchanged
            report.observations += applied.observations
        tick(1)
    if report.added or report.replaced or report.observations:
        refresh_statistics(engine)
    return report


def refresh_statistics(engine: Engine) -> None:
    """Update the planner's statistics of the observations table so that searches keep
    choosing the selective index (e.g. proposal_id over instrument) as the catalog grows.

    SQLite's sampled ANALYZE (analysis_limit) makes every index look alike, so the table is
    analysed in full; it is one table, seconds even for a million observations.
    """
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE observations")


def _write_batch(
    engine: Engine, storage: Storage, batch: list[FileRecord], report: IngestReport
) -> list[BatchOutcome]:
    """Write a batch in one transaction; if it fails, retry file by file to isolate the culprit."""
    try:
        with engine.begin() as conn:
            outcome = apply_jwst_batch(conn, storage, batch)
            record_batch_events(conn, outcome)  # subscription events commit with the batch
            return [outcome]
    except SkyArchiveError as exc:
        if len(batch) == 1:
            report.failed.append((str(batch[0].path), str(exc)))
            return []
    outcomes: list[BatchOutcome] = []
    for record in batch:
        outcomes += _write_batch(engine, storage, [record], report)
    return outcomes


def _read_batches(
    files: list[Path], report: IngestReport, workers: int | None
) -> Iterator[list[FileRecord]]:
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    if workers <= 1 or len(files) < 50:
        yield from _batches(_read_all(map(_safe_read, files), report))
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from _batches(_read_all(pool.map(_safe_read, files, chunksize=32), report))


def _read_all(
    results: Iterable[FileRecord | tuple[str, str]], report: IngestReport
) -> Iterator[FileRecord]:
    for result in results:
        if isinstance(result, FileRecord):
            yield result
        else:
            report.failed.append(result)


def _safe_read(path: Path) -> FileRecord | tuple[str, str]:
    try:
        return read_file(path)
    except IngestError as exc:
        return (str(path), str(exc))
    except OSError as exc:
        return (str(path), f"{path.name}: cannot read ({exc.strerror or exc}).")


def _batches(records: Iterator[FileRecord]) -> Iterator[list[FileRecord]]:
    batch: list[FileRecord] = []
    for record in records:
        batch.append(record)
        if len(batch) >= BATCH_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch
