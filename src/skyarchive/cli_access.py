"""Operator commands for accounts, tokens, program PIs, grants and release periods."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from skyarchive.config import Settings

user_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
token_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)
program_app = typer.Typer(
    help="Manage programs: PI and exclusive-access period.", no_args_is_help=True
)


def _archive(ctx: typer.Context):  # type: ignore[no-untyped-def]
    from skyarchive.archive import Archive

    settings: Settings = ctx.find_root().obj
    return Archive.open(settings)


def _echo(text: str) -> None:
    typer.echo(text)


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    email: str,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Make the user an admin.")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Add a user (without --password-stdin the user can only use API tokens)."""
    from skyarchive.access.users import create_user

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    with _archive(ctx).engine.begin() as conn:
        user = create_user(conn, email=email, display_name=name, password=password, is_admin=admin)
    _echo(f"Added {user.email}{' (admin)' if user.is_admin else ''}.")


@user_app.command("list")
def user_list(ctx: typer.Context) -> None:
    """List users."""
    from skyarchive.access.users import list_users

    with _archive(ctx).engine.connect() as conn:
        for user in list_users(conn):
            flags = ", ".join(f for f, on in (("admin", user.is_admin),
                                               ("disabled", user.disabled)) if on)  # fmt: skip
            _echo(f"{user.email}\t{user.display_name}\t{flags}")


@user_app.command("disable")
def user_disable(ctx: typer.Context, email: str) -> None:
    """Disable a user: they can no longer log in, and their tokens stop working."""
    from skyarchive.access.sessions import end_all_sessions
    from skyarchive.access.users import set_disabled

    with _archive(ctx).engine.begin() as conn:
        user = set_disabled(conn, email, True)
        end_all_sessions(conn, user.user_id)
    _echo(f"Disabled {user.email}.")


@user_app.command("set-password")
def user_set_password(
    ctx: typer.Context,
    email: str,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Set a user's password (asked for, or read from stdin); every session of the user ends."""
    from skyarchive.access.users import find_user, set_password

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    with _archive(ctx).engine.begin() as conn:
        user = find_user(conn, email)
        ended = set_password(conn, user.user_id, password)
    _echo(f"Password of {user.email} set; {ended} session(s) ended.")


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    email: str,
    name: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
    days: Annotated[int | None, typer.Option(help="Lifetime in days.")] = None,
) -> None:
    """Create an API token for a user and print it (it is shown only once)."""
    from skyarchive.access.tokens import create_token
    from skyarchive.access.users import find_user

    archive = _archive(ctx)
    settings = archive.settings
    with archive.engine.begin() as conn:
        user = find_user(conn, email)
        token, info = create_token(
            conn, user_id=user.user_id, name=name,
            days=days or settings.token_default_days, max_days=settings.token_max_days,
        )  # fmt: skip
    print(token)
    typer.echo(f"Token '{info.name}' for {user.email}; keep it secret.", err=True)


def grant(ctx: typer.Context, proposal_id: str, email: str) -> None:
    """Authorise a user for a program's exclusive-access data."""
    from skyarchive.access.grants import grant as grant_access
    from skyarchive.access.users import find_user

    with _archive(ctx).engine.begin() as conn:
        grant_access(conn, proposal_id, user_id=find_user(conn, email).user_id, granted_by=None)
    _echo(f"{email} may now retrieve the exclusive-access data of program {proposal_id}.")


def revoke(ctx: typer.Context, proposal_id: str, email: str) -> None:
    """Remove a user's authorisation for a program."""
    from skyarchive.access.grants import revoke as revoke_access
    from skyarchive.access.users import find_user

    with _archive(ctx).engine.begin() as conn:
        revoke_access(conn, proposal_id, user_id=find_user(conn, email).user_id)
    _echo(f"Removed {email} from program {proposal_id}.")


@program_app.command("set-pi")
def program_set_pi(ctx: typer.Context, proposal_id: str, email: str) -> None:
    """Make a user the PI of a program."""
    from skyarchive.access.grants import set_pi
    from skyarchive.access.users import find_user

    with _archive(ctx).engine.begin() as conn:
        set_pi(conn, proposal_id, user_id=find_user(conn, email).user_id)
    _echo(f"{email} is now the PI of program {proposal_id}.")


@program_app.command("set-eap")
def program_set_eap(
    ctx: typer.Context,
    proposal_id: str,
    months: Annotated[
        int | None, typer.Argument(help="Months of exclusive access; omit for the default rule.")
    ] = None,
) -> None:
    """Change a program's exclusive-access period; release dates follow at once."""
    from skyarchive.ingest.release import opened_sentence, set_eap_months

    archive = _archive(ctx)
    with archive.engine.begin() as conn:
        opened = set_eap_months(conn, proposal_id, months,
                                default_months=archive.settings.default_eap_months)  # fmt: skip
    period = f"{months} months" if months is not None else "by rule"
    _echo(f"Program {proposal_id}: exclusive access {period}; {opened_sentence(opened)}.")
    from skyarchive.ingest.hips import build_hips
    from skyarchive.ingest.hips_store import stale_reason

    if stale_reason(archive.engine):  # the sky showed images that are exclusive again
        sky = build_hips(engine=archive.engine, storage=archive.storage)
        _echo(f"The sky (HiPS) was built again without them: {sky.images} images.")
