"""The ingest service: walk paths, read files, write batches, link, report.

One bad file never stops a run and never touches what is already archived: it is reported with
its reason and skipped. Reading (checksums, FITS headers) runs in reader processes that die with
this one; writing runs in this process, one transaction per batch, through the one product
writer (:mod:`skyarchive.ingest.writer`). A storage that cannot take a write (a full disk) stops
the run with :class:`~skyarchive.errors.StorageUnavailable`; what committed before is kept.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import defaultdict
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from skyarchive.errors import IngestError, SkyArchiveError, StorageUnavailable
from skyarchive.ingest.catalog import BatchOutcome, apply_jwst_batch
from skyarchive.ingest.linking import link_programs
from skyarchive.ingest.manifest import (
    apply_manifest,
    is_manifest,
    load_manifest,
    programs_touched,
    referenced_files,
)
from skyarchive.ingest.reader import (
    FileRecord,
    printable,
    read_file,
    reader_process_init,
    sha256_of,
)
from skyarchive.ingest.writer import product_transaction
from skyarchive.notify.events import record_arrivals, record_batch_events
from skyarchive.search.summary import refresh_summary
from skyarchive.storage import Storage

BATCH_SIZE = 400
NOT_A_FILE = "not a regular file (a pipe, socket, device or broken link); skipped"


@dataclass
class IngestReport:
    files: int = 0
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    observations: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    # other content under an archived name without a newer FITS DATE: skipped, not a failure
    stale: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def older(self) -> int:
        return len(self.stale)

    def count(self, outcome: BatchOutcome) -> None:
        self.added += len(outcome.added)
        self.replaced += len(outcome.replaced)
        self.unchanged += len(outcome.unchanged)
        self.stale += outcome.stale
        self.failed += outcome.refused


ProgressCallback = Callable[[int, int], None]  # (files done, errors so far)


def collect_files(paths: Iterable[Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Every regular file under ``paths`` (hidden files skipped), and the paths that are
    missing or not regular files, with the reason."""
    found: list[Path] = []
    missing: list[tuple[str, str]] = []
    for path in paths:
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(f for f in files if not f.startswith(".")):
                    if Path(root, name).is_file():
                        found.append(Path(root, name))
                    else:  # a FIFO would stall a reader for ever; sockets, devices, dead links
                        missing.append((str(Path(root, name)), NOT_A_FILE))
        elif path.exists():
            missing.append((str(path), NOT_A_FILE))
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
    described = {_resolved(p) for m in manifests for p in referenced_files(m)}
    pipeline_files = [f for f in files if not is_manifest(f) and _resolved(f) not in described]
    pipeline_files, clashes, duplicates = _one_file_per_name(pipeline_files, described, report)
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

    report.unchanged += duplicates
    tick(duplicates)
    with closing(_read_batches(pipeline_files, report, workers)) as batches:
        for batch in batches:
            for outcome in _write_batch(engine, storage, batch, report):
                report.count(outcome)
                report.observations += len(outcome.obsids)
                touched_programs |= outcome.programs
            tick(len(batch))
    tick(0)

    if touched_programs:
        with engine.begin() as conn:
            link_programs(conn, storage, touched_programs, default_eap_months=default_eap_months)
            record_arrivals(conn, touched_programs)  # new files public on arrival (subscriptions)

    for manifest in manifests:
        try:
            clash = sorted(clashes.keys() & {p.name for p in referenced_files(manifest)})
            if clash:
                raise IngestError(f"{manifest.name}: {clashes[clash[0]]}")
            content = load_manifest(manifest)
            with product_transaction(engine, storage) as (conn, objects):
                touched = programs_touched(conn, content)
                result = apply_manifest(
                    conn, objects, manifest, content, default_eap=default_eap_months
                )
                refresh_summary(conn, touched)  # the home page's figures commit with the rows
                # release dates are set by the manifest itself: Public on arrival at once
                record_batch_events(conn, result.changes)
                record_arrivals(conn, result.changes.programs)
        except StorageUnavailable:
            raise
        except SkyArchiveError as exc:
            report.failed.append((str(manifest), str(exc)))
        else:
            report.count(result.changes)
            report.observations += result.observations
        tick(1)
    if report.added or report.replaced or report.observations:
        refresh_statistics(engine)
    return report


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, ValueError):  # a NUL or a loop in a described path: the manifest says why
        return path


def _one_file_per_name(
    files: list[Path], described: set[Path], report: IngestReport
) -> tuple[list[Path], dict[str, str], int]:
    """One file per name in a run: the same name with other content anywhere in it is refused.

    Copies of one file (the same bytes) go in once. Names given to different content are
    reported for every copy and none of them is archived, nor a manifest that describes one.
    Returns the files to read, {name: reason} of the refused names, and the copies left out.
    """
    paths: dict[str, list[Path]] = defaultdict(list)
    for path in [*files, *sorted(described)]:
        paths[path.name].append(path)
    clashes: dict[str, str] = {}
    left_out: set[Path] = set()
    for name, same_name in paths.items():
        if len(same_name) < 2:
            continue
        contents = {path: _checksum(path) for path in same_name}
        if len(set(contents.values())) == 1:
            left_out.update(p for p in same_name[1:] if p not in described)
            continue
        shown = ", ".join(printable(str(p)) for p in same_name)
        clashes[name] = (
            f"{printable(name)}: {len(same_name)} files of this name with different content "
            f"in one ingest ({shown}); none of them was archived. Ingest one version."
        )
        left_out.update(same_name)
        report.failed += [(str(p), clashes[name]) for p in same_name if p not in described]
    copies = sum(1 for f in files if f in left_out and f.name not in clashes)
    return [f for f in files if f not in left_out], clashes, copies


def _checksum(path: Path) -> str:
    try:
        return sha256_of(path)[1]
    except (OSError, ValueError) as exc:  # ValueError: a NUL in a manifest's path
        return f"unreadable: {exc}"


def refresh_statistics(engine: Engine) -> None:
    """Update the planner's statistics of the observations and keyword tables so that
    searches keep choosing the selective index (e.g. proposal_id over instrument, exp_type
    over the keyword table alone) as the catalog grows.

    SQLite's sampled ANALYZE (analysis_limit) makes every index look alike, so the tables are
    analysed in full; without statistics SQLite takes ``listed_in`` (six values) for a
    selective column and walks a whole keyword table to avoid sorting a few rows.
    """
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE observations")
        conn.exec_driver_sql("ANALYZE product_keywords")


def _write_batch(
    engine: Engine, storage: Storage, batch: list[FileRecord], report: IngestReport
) -> list[BatchOutcome]:
    """Write a batch in one transaction; if it fails, retry file by file to isolate the culprit.

    A full storage (:class:`StorageUnavailable`) is not a bad file: it stops the run.
    """
    try:
        with product_transaction(engine, storage) as (conn, objects):
            outcome = apply_jwst_batch(conn, objects, batch)
            record_batch_events(conn, outcome)  # subscription events commit with the batch
            if outcome.added or outcome.replaced:
                refresh_summary(conn, outcome.programs)  # so do the home page's figures
        return [outcome]
    except StorageUnavailable:
        raise
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
) -> Generator[list[FileRecord]]:
    """Read files in batches; reader processes (for 50 files or more) end with this generator
    and, through :func:`reader_process_init`, with this process however it ends."""
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    if workers <= 1 or len(files) < 50:
        yield from _batches(_read_all(map(_safe_read, files), report))
        return
    pool = multiprocessing.get_context().Pool(
        workers, initializer=reader_process_init, initargs=(os.getpid(),)
    )
    try:
        yield from _batches(_read_all(pool.imap(_safe_read, files, chunksize=32), report))
    finally:
        pool.terminate()
        pool.join()


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
