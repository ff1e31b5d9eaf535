"""The operator's command line: ``skyarchive [--home DIR] COMMAND``.

Errors end the command with a non-zero exit and a one-line reason.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from skyarchive.config import Settings
from skyarchive.errors import BadQuery, SkyArchiveError

app = typer.Typer(
    help="skyarchive: a self-hostable, MAST-compatible archive for telescope observations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
#: The demo's HiPS stops here (pixels of ~3 arcsec): a real sky behind M57 in a few seconds.
DEMO_HIPS_ORDER = 7


@app.callback()
def main(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home", envvar="SKYARCHIVE_HOME", help="Archive home directory.", show_default=False
        ),
    ] = None,
) -> None:
    """Options common to every command."""
    from pydantic import ValidationError

    try:
        ctx.obj = Settings(home=home) if home is not None else Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"SKYARCHIVE_{'_'.join(map(str, e['loc'])).upper()}: "
            f"{e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise fail(f"bad setting: {problems}") from None


def _archive(ctx: typer.Context):  # type: ignore[no-untyped-def]
    from skyarchive.archive import Archive

    return Archive.open(ctx.obj)


def fail(message: str, *, code: int = 1) -> typer.Exit:
    console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code=code)


@app.command("demo-data")
def demo_data(
    out_dir: Path,
    seed: Annotated[
        int, typer.Option(help="Random seed; same seed on the same day, same files.")
    ] = 1,
    scale: Annotated[int, typer.Option(help="Multiply the programs (for benchmarks).")] = 1,
) -> None:
    """Write synthetic JWST pipeline output (and other missions' manifests) to OUT_DIR."""
    from skyarchive.demo import generate

    started = time.perf_counter()
    summary = generate(out_dir, seed=seed, scale=scale)
    console.print(
        f"Wrote {len(summary.files)} files to {out_dir} in {time.perf_counter() - started:.1f} s."
    )


@app.command()
def synthesize(
    ctx: typer.Context,
    observations: Annotated[int, typer.Option(min=1, help="Synthetic observations.")],
    files: Annotated[
        int, typer.Option(min=0, help="JWST science files with header keywords, in all.")
    ],
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same catalogue.")] = 1,
) -> None:
    """Fill an EMPTY archive with a synthetic catalogue for load tests and benchmarks.

    Observations with footprints, JWST science files spread evenly over them (exposures of
    uncal / rate / cal files, level-3 products) and their header keywords, loaded in bulk
    into the archive's database (SQLite in the home, or PostgreSQL when database_url is
    set). Metadata only: the files have no bytes, so downloads of them fail.
    """
    from skyarchive.demo.synthetic_catalog import build_synthetic_catalog, check_empty

    archive = _archive(ctx)
    try:
        check_empty(archive.engine)
    except ValueError as exc:
        raise fail(f"{exc}. Give an empty --home (or database_url).") from None
    console.print(f"Loading {observations:,} observations and {files:,} files ...")
    summary = build_synthetic_catalog(
        archive.engine, observations=observations, products_per_obs=0, seed=seed,
        keyword_files=files,
    )  # fmt: skip
    archive.engine.dispose()
    parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in summary.seconds.items())
    console.print(
        f"Loaded {summary.observations:,} observations, {summary.programs:,} programs and "
        f"{summary.products:,} files with keywords in {summary.total_seconds:.1f} s ({parts})."
    )


@app.command()
def ingest(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders of pipeline output.")],
    workers: Annotated[int | None, typer.Option(help="Reader processes (default: CPUs).")] = None,
    hips: Annotated[
        bool, typer.Option("--hips", help="Then rebuild the sky view's HiPS (`hips build`).")
    ] = False,
) -> None:
    """Archive pipeline files and manifests; bad files are reported and skipped.

    Exit status 1 when a file failed or the storage is full; an interrupted ingest (Ctrl-C,
    SIGTERM) rolls back its current batch, keeps what committed and exits with 130.
    """
    archive = _archive(ctx)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        report = run_ingest(archive, paths, workers=workers)
    except KeyboardInterrupt:
        raise fail(
            "ingest interrupted; the batch in progress was rolled back and what was archived "
            "before is kept. Run the same ingest again to finish.",
            code=130,
        ) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    if hips:  # what did ingest is in the catalogue: the sky shows it, failures or not
        sky = _build_hips(archive, max_order=None)
        typer.echo(f"HiPS of {sky.images} images: {sky.tiles} tiles, orders 0-{sky.max_order}")
    if not report.ok:
        raise typer.Exit(code=1)


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM ends an ingest the way Ctrl-C does: cleanly, reader processes included."""
    raise KeyboardInterrupt


def run_ingest(archive, paths: list[Path], *, workers: int | None = None):  # type: ignore[no-untyped-def]
    from skyarchive.ingest.reader import printable
    from skyarchive.ingest.run import collect_files, ingest_paths

    total = len(collect_files(paths)[0])
    columns = (
        TextColumn("[bold]ingest"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} files"),
        TextColumn("{task.fields[rate]:.0f} files/s"),
        TextColumn("[red]{task.fields[errors]} errors"),
        TimeElapsedColumn(),
    )
    started = time.perf_counter()
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("ingest", total=total, rate=0.0, errors=0)

        def progress(done: int, errors: int) -> None:
            elapsed = max(time.perf_counter() - started, 1e-6)
            bar.update(task, completed=done, rate=done / elapsed, errors=errors)

        report = ingest_paths(
            paths,
            engine=archive.engine,
            storage=archive.storage,
            default_eap_months=archive.settings.default_eap_months,
            progress=progress,
            workers=workers,
        )
    for label, lines in (
        ("[yellow]stale:[/yellow]", report.stale),
        ("[red]failed:[/red]", report.failed),
    ):
        for path, reason in lines:  # file names are data: no markup, no control characters
            line = f"{label} {escape(printable(path))}: {escape(printable(reason))}"
            console.print(line, soft_wrap=True)
    console.print(
        f"{report.files} files: {report.added} added, {report.replaced} replaced by a newer "
        f"version, {report.unchanged} unchanged, {report.older} stale (not newer than the "
        f"archived version, kept the archived one), {len(report.failed)} failed."
    )
    return report


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Server processes sharing the port (default: the number of CPU cores).",
            show_default=False,
        ),
    ] = None,
    access_log: Annotated[
        bool, typer.Option(help="Log one line per request (off when the proxy logs them).")
    ] = True,
) -> None:
    """Serve the portal and the MAST-compatible API."""
    _serve(_archive(ctx), host, port, workers=workers or _cores(), access_log=access_log)


def _cores() -> int:
    import os

    # The cores this process may run on (a container's or taskset's share), not the machine's.
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _serve(  # type: ignore[no-untyped-def]
    archive,
    host: str,
    port: int,
    *,
    workers: int = 1,
    busy_hint: str | None = None,
    access_log: bool = True,
) -> None:
    from skyarchive.web import run_server

    _require_free_port(host, port, busy_hint or f"choose another with --port {port + 10}")
    processes = f"{workers} worker processes" if workers > 1 else "one process"
    console.print(
        f"Serving {archive.settings.home} on http://{host}:{port} with {processes} (Ctrl-C stops)"
    )
    archive.engine.dispose()  # the workers open their own connections; keep none across fork
    archive.read_engine.dispose()
    run_server(archive, host=host, port=port, workers=workers, log_level="info",
               access_log=access_log)  # fmt: skip


def _require_free_port(host: str, port: int, hint: str) -> None:
    """Stop with one line naming the port when something else already listens there."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise fail(f"cannot listen on {host}: {exc.strerror}") from None
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            raise fail(f"port {port} on {host} is not free ({exc.strerror}); {hint}.") from None


@app.command()
def demo(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Build the demo archive in the home (once), print its demo accounts and serve it."""
    from skyarchive.demo import generate
    from skyarchive.demo.accounts import ensure_demo_accounts, exclusive_access_ended
    from skyarchive.search.summary import archive_is_empty

    hint = f"run `make demo PORT={port + 10}` (or `skyarchive demo --port {port + 10}`)"
    _require_free_port(host, port, hint)
    archive = _archive(ctx)
    if archive_is_empty(archive.engine):
        pipeline_dir = archive.settings.home / "pipeline-output"
        console.print(f"Generating demo pipeline output in {pipeline_dir} ...")
        generate(pipeline_dir, seed=1, scale=1)
        report = run_ingest(archive, [pipeline_dir])
        if not report.ok:
            raise fail("the demo data did not ingest cleanly")
        from skyarchive.demo.telemetry import write_demo_telemetry
        from skyarchive.demo.wss import write_demo_wss
        from skyarchive.ingest.edb import ingest_edb_files

        wss_dir = archive.settings.home / "wss-demo"
        write_demo_wss(wss_dir)
        if not run_ingest(archive, [wss_dir]).ok:
            raise fail("the demo's wavefront sensing products did not ingest cleanly")
        telemetry_dir = archive.settings.home / "edb-demo"
        console.print(f"Generating demo telemetry in {telemetry_dir} ...")
        ingest_edb_files(archive.engine, write_demo_telemetry(telemetry_dir))
    from skyarchive.ingest.hips_store import served_build

    if served_build(archive.engine) is None:
        sky = _build_hips(archive, max_order=DEMO_HIPS_ORDER)
        console.print(f"Built the demo's sky (HiPS): {sky.tiles} tiles of {sky.images} images")
    accounts = ensure_demo_accounts(archive.engine, archive.settings.home)
    console.print("Demo accounts (log in at /login; passwords kept in the home):")
    for account in accounts:
        console.print(
            f"  {account.role:<16} {account.email:<24} password {account.password}  "
            f"sees {account.sees}",
            markup=False, highlight=False, soft_wrap=True,
        )  # fmt: skip
    if (ended := exclusive_access_ended(archive.engine, archive.settings.home)) is not None:
        console.print(ended, markup=False, highlight=False, soft_wrap=True)
    _serve(archive, host, port, busy_hint=hint)


@app.command("client-config")
def client_config(
    ctx: typer.Context,
    url: Annotated[
        str | None, typer.Option(help="Server URL (default: the base_url setting, else local).")
    ] = None,
    write: Annotated[
        bool, typer.Option("--write", help="Write astroquery.cfg instead of printing it.")
    ] = False,
) -> None:
    """Configure astroquery.mast to use this archive (astroquery.cfg and HTTP_PROXY)."""
    from skyarchive.client_config import config_lines, proxy_lines, write_config

    server = url or ctx.obj.offline_base_url
    if write:
        path = write_config(server)
        console.print(f"Wrote [mast] server = {server} to {path}")
    else:
        print(f"# astroquery.cfg (in astropy's config directory):\n{config_lines(server)}")
    print(f"# For query_object and other name lookups, in your shell:\n{proxy_lines(server)}")


@app.command()
def migrate(ctx: typer.Context) -> None:
    """Create the catalog or upgrade it to this version's schema, keeping every row."""
    archive = _archive(ctx)
    console.print(f"Catalog schema at revision {archive.schema_revision()}.")


@app.command("catalogue-changed")
def catalogue_changed(ctx: typer.Context) -> None:
    """Tell every server process that the catalogue's rows were edited by hand (sqlite3, psql):
    they drop the answers they kept and read the target names again. Writes through
    skyarchive do this themselves."""
    generation = _archive(ctx).note_catalogue_changed()
    if generation is None:
        raise fail("This catalogue's schema keeps no generation: run `skyarchive migrate`.")
    console.print(f"Catalogue generation now {generation}: every server answers afresh.")


@app.command("keyword-columns")
def keyword_columns(ctx: typer.Context) -> None:
    """Store the keyword tables' columns (schema 0043, their set 0044) and a file's archive
    columns (0045) of files ingested before these or by older code, so their keyword searches
    read them ready instead of shaping each file per search (same answers, less work). Safe
    to stop and run again; servers may run."""
    from skyarchive.search.keyword_store import write_keyword_columns

    written = write_keyword_columns(_archive(ctx).engine)
    console.print(f"Stored the keyword columns of {written:,} files.")


@app.command()
def worker(
    ctx: typer.Context,
    threads: Annotated[int | None, typer.Option(help="Job threads (default: setting).")] = None,
) -> None:
    """Run background jobs (staging, clean-up, subscription e-mails) until Ctrl-C."""
    import logging

    from skyarchive.jobs.queue import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    console.print(f"Worker for {ctx.obj.home} (Ctrl-C stops)")
    if ctx.obj.base_url is None:
        console.print(
            "note: base_url is not set, so links in subscription e-mails follow the URL "
            "signed-in users last reached the server by (none yet: no links), and links in "
            f"other e-mails point at {ctx.obj.offline_base_url}; set SKYARCHIVE_BASE_URL to "
            "the archive's public URL.",
            soft_wrap=True,
        )
    run_worker(ctx.obj, threads=threads)


@app.command("staging-cleanup")
def staging_cleanup(ctx: typer.Context) -> None:
    """Remove staging areas whose time is up (the worker also does this every 10 minutes)."""
    from skyarchive.delivery.staging import remove_expired

    console.print(f"Removed {remove_expired(_archive(ctx))} expired staging areas.")


@app.command("basket-cleanup")
def basket_cleanup(ctx: typer.Context) -> None:
    """Remove anonymous baskets unchanged for `anonymous_basket_days` (the worker also does
    this every hour); users' baskets are kept."""
    from skyarchive.delivery.basket import purge_expired_baskets

    days = ctx.obj.anonymous_basket_days
    removed = purge_expired_baskets(_archive(ctx).engine, days=days)
    console.print(f"Removed {removed} anonymous baskets unchanged for more than {days:g} days.")


@app.command("notify-send")
def notify_send(
    ctx: typer.Context,
    force: Annotated[
        bool, typer.Option("--force", help="Send all pending events now, whatever the frequency.")
    ] = False,
) -> None:
    """Send the subscription e-mails that are due (the worker also does this every 5 minutes)."""
    from skyarchive.notify.digest import run_notifications
    from skyarchive.notify.digest_text import counted

    report = run_notifications(_archive(ctx), force=force)
    console.print(
        f"{counted(report.files_released, 'file')} became public since the last check "
        f"({counted(report.public_events, 'Public event')} for subscribers); sent "
        f"{counted(report.emails, 'e-mail')} with {counted(report.events_sent, 'event')}; "
        f"{len(report.failed)} failed."
    )
    if report.missing_links:
        console.print(f"[yellow]warning:[/yellow] {report.missing_links}", markup=True)
    for subscription_id, reason in report.failed:
        console.print(f"[red]failed:[/red] subscription {subscription_id}: {reason}")
    if report.failed:
        raise typer.Exit(code=1)


hips_app = typer.Typer(help="The archive's own sky (HiPS) behind the portal's sky view.",
                       no_args_is_help=True)  # fmt: skip
app.add_typer(hips_app, name="hips")


@hips_app.command("build")
def hips_build(
    ctx: typer.Context,
    max_order: Annotated[
        int | None,
        typer.Option(help="Deepest tile order (default: matched to the finest image, at most 9)."),
    ] = None,
) -> None:
    """Build the HiPS of the archive's public calibrated images (I2D, else CAL files).

    Files still in their exclusive-access period are left out: the HiPS is served to everyone
    under /hips/. Run it again after an ingest or when data become public; the new HiPS
    replaces the old one whole.
    """
    report = _build_hips(_archive(ctx), max_order=max_order)
    for name, reason in report.skipped:
        console.print(f"[yellow]skipped:[/yellow] {escape(name)}: {escape(reason)}", soft_wrap=True)
    typer.echo(
        f"HiPS of {report.images} images: {report.tiles} tiles, orders 0-{report.max_order}, "
        f"in {report.seconds:.1f} s (served under /hips/)"
    )


def _build_hips(archive, *, max_order: int | None):  # type: ignore[no-untyped-def]
    from skyarchive.ingest.hips import build_hips

    with Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), console=console, transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task("sky (HiPS)", total=None)
        return build_hips(
            engine=archive.engine, storage=archive.storage, max_order=max_order,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
            authority=archive.settings.vo_authority,
        )  # fmt: skip


storage_app = typer.Typer(help="Manage where the archived files are stored.", no_args_is_help=True)
app.add_typer(storage_app, name="storage")


@storage_app.command("migrate")
def storage_migrate(
    ctx: typer.Context,
    to: Annotated[
        str,
        typer.Option("--to", help="Target storage URL: s3://bucket/prefix or file:///path/to/dir."),
    ],
    reread: Annotated[
        bool,
        typer.Option(
            "--reread",
            help="Read back every file already in the target (an audit), rather than trust "
            "the SHA-256 the store recorded when it was uploaded.",
        ),
    ] = False,
) -> None:
    """Copy every archived file to another storage and verify its SHA-256 there.

    Keys, data URIs and checksums stay as they are; run it again after an interruption and it
    carries on where it stopped: a file already in an object store is checked by the size and
    SHA-256 recorded with it (one HEAD), not read back, unless --reread. Then set
    SKYARCHIVE_STORAGE_URL to the target (the endpoint of a store other than AWS:
    SKYARCHIVE_S3_ENDPOINT_URL; credentials: the AWS_* variables).
    Exit status 1 when a file could not be verified.
    """
    try:
        migration = _archive(ctx).storage_migration(to)
    except BadQuery as exc:
        raise fail(str(exc)) from None
    target, total = migration.target, migration.total()
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), console=console, transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task("migrating", total=total)
        report = migration.run(
            on_file=lambda _found, _outcome: progress.advance(task), reread=reread
        )
    for key, reason in report.failed:
        console.print(f"[red]not verified:[/red] {escape(key)}: {escape(reason)}", soft_wrap=True)
    typer.echo(
        f"{report.verified} of {total} files verified in {target} "
        f"({report.copied} copied, {report.already_there} already there)"
        + (f", {len(report.failed)} failed" if report.failed else "")
    )
    if not report.ok:
        raise typer.Exit(code=1)
    typer.echo(f"To use it: SKYARCHIVE_STORAGE_URL={to}")


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def _seconds(duration: str) -> float:
    """``90s``, ``30m``, ``24h`` or ``7d`` in seconds; BadParameter otherwise."""
    text = duration.strip().lower()
    try:
        value = float(text[:-1]) if text[-1:] in _DURATION_UNITS else None
    except ValueError:
        value = None
    if value is None or value < 0:
        raise typer.BadParameter(f"{duration!r} is not a duration such as 90s, 30m, 24h or 7d.")
    return value * _DURATION_UNITS[text[-1]]


@storage_app.command("sweep")
def storage_sweep(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be removed; remove nothing.")
    ] = False,
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than",
            help="Grace period: leave files changed more recently than this (90s, 30m, 24h, "
            "7d), so an ingest running now keeps the files it has stored but not yet "
            "catalogued.",
        ),
    ] = "24h",
) -> None:
    """Remove stored product files that no catalogue row names.

    An ingest stores a file and then commits the catalogue row naming it; a process killed in
    between (kill -9, a lost machine) leaves the file behind with nothing naming it. The sweep
    lists the storage's product files (local directory or S3 alike) and removes those that no
    product names and that have not changed within the grace period. Files the catalogue
    names, and everything outside the product keys (HiPS tiles, TAP results), are never
    touched. Prints one line per file removed (or, with --dry-run, that would be).
    """
    grace = _seconds(older_than)
    verb = "would remove" if dry_run else "removed"
    report = _archive(ctx).sweep_storage(
        older_than=grace, dry_run=dry_run,
        on_orphan=lambda found: typer.echo(f"{verb} {found.key} ({found.size} bytes)"),
    )  # fmt: skip
    typer.echo(
        f"{len(report.orphans)} orphaned files ({report.bytes} bytes) {verb}; "
        f"{report.examined} product files examined, {report.kept_young} unnamed but younger "
        f"than {older_than} left alone"
    )


edb_app = typer.Typer(help="Engineering telemetry (JWST EDB mnemonics).", no_args_is_help=True)
app.add_typer(edb_app, name="edb")


@edb_app.command("ingest")
def edb_ingest(
    ctx: typer.Context,
    files: Annotated[
        list[Path], typer.Argument(help="CSV or Parquet files of samples or an inventory.")
    ],
) -> None:
    """Ingest telemetry samples (CSV as MAST's EDB writes it, or Parquet) or an inventory.

    Samples: columns theTime (ISO UTC) or MJD, euvalue (or value), optional sqldataType and
    mnemonic (else the file is named after its mnemonic). Inventory: columns mnemonic,
    description, unit, sqlDataType. Each file replaces the samples of the span it covers.
    """
    from skyarchive.ingest.edb import ingest_edb_files

    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise fail(f"no such file: {', '.join(missing)}")
    try:
        report = ingest_edb_files(_archive(ctx).engine, files)
    except SkyArchiveError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"ingested {report.summary()}")


@edb_app.command("mnemonics")
def edb_mnemonics(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="Name prefix or words of the description.")] = "",
) -> None:
    """List the mnemonics the archive holds, with units, sample counts and time spans."""
    from skyarchive.search.edb_store import list_mnemonics

    with _archive(ctx).engine.connect() as conn:
        found = list_mnemonics(conn, text=text)
    for m in found:
        row = m.as_row()
        typer.echo(
            f"{m.mnemonic:<28} {m.unit or '-':<8} {m.sample_count:>12} "
            f"{row['firstTime'] or '-'} .. {row['lastTime'] or '-'}  {m.description or ''}"
        )


def _add_access_commands() -> None:
    from skyarchive import cli_access

    app.add_typer(cli_access.user_app, name="user")
    app.add_typer(cli_access.token_app, name="token")
    app.add_typer(cli_access.program_app, name="program")
    app.command("grant")(cli_access.grant)
    app.command("revoke")(cli_access.revoke)
    from skyarchive import cli_doi

    app.add_typer(cli_doi.doi_app, name="doi")


_add_access_commands()


def run() -> None:
    """Entry point that turns our errors into a one-line message and exit code 1."""
    try:
        app()
    except SkyArchiveError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        sys.exit(1)
