"""Operator commands for data-set DOIs: list them, export a DataCite record, record a
registration made by hand (docs/dois.md)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from skyarchive.config import Settings

doi_app = typer.Typer(help="Data-set DOIs: list, export, record a manual registration.",
                      no_args_is_help=True)  # fmt: skip


def _archive(ctx: typer.Context):  # type: ignore[no-untyped-def]
    from skyarchive.archive import Archive

    settings: Settings = ctx.find_root().obj
    return Archive.open(settings)


@doi_app.command("list")
def doi_list(ctx: typer.Context) -> None:
    """List every data set: DOI, state, agency, observations, owner, title."""
    from skyarchive.doi.service import all_datasets

    for d in all_datasets(_archive(ctx).engine):
        typer.echo(f"{d.doi}\t{d.state}\t{d.agency}\t{d.observation_count}\t{d.owner_name}\t"
                   f"{d.title}")  # fmt: skip


@doi_app.command("export")
def doi_export(ctx: typer.Context, doi: str) -> None:
    """Print a DOI's DataCite JSON (the body of DataCite's POST /dois), for registration by
    hand; the landing page URL starts with `base_url`."""
    from skyarchive.doi.service import datacite_export

    archive = _archive(ctx)
    document = datacite_export(archive.engine, archive.settings, doi=doi,
                               base_url=archive.settings.offline_base_url)  # fmt: skip
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False))


@doi_app.command("set-state")
def doi_set_state(
    ctx: typer.Context,
    doi: str,
    state: Annotated[str, typer.Argument(help="draft, registered or findable")],
) -> None:
    """Record the state of a local DOI after registering it by hand with the agency."""
    from skyarchive.doi.service import record_manual_registration

    found = record_manual_registration(_archive(ctx).engine, doi=doi, state=state)
    typer.echo(f"{found.doi} is {found.state}.")
