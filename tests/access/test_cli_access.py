"""Operator commands for users, tokens, grants and programs."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import insert
from typer.testing import CliRunner

from skyarchive.access import grants, tokens, users
from skyarchive.archive import Archive
from skyarchive.cli import app
from skyarchive.config import Settings
from skyarchive.db.tables import programs


@pytest.fixture
def home(tmp_path: Path) -> Path:
    archive = Archive.open(Settings(home=tmp_path / "home"))
    with archive.engine.begin() as conn:
        conn.execute(insert(programs).values(proposal_id="4567", obs_collection="JWST",
                                             category="GO"))  # fmt: skip
    archive.engine.dispose()
    return tmp_path / "home"


def run(home: Path, *args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["--home", str(home), *args], input=stdin)


def test_user_token_grant_and_program_commands(home: Path) -> None:
    added = run(home, "user", "add", "pi@example.org", "--name", "Ada Lovelace",
                "--password-stdin", stdin="a long enough password\n")  # fmt: skip
    assert added.exit_code == 0, added.output
    assert run(home, "user", "add", "coi@example.org").exit_code == 0
    listing = run(home, "user", "list")
    assert "pi@example.org\tAda Lovelace" in listing.output

    created = run(home, "token", "create", "coi@example.org", "--name", "laptop", "--days", "3")
    assert created.exit_code == 0
    token = created.stdout.strip().splitlines()[0]
    assert run(home, "program", "set-pi", "4567", "pi@example.org").exit_code == 0
    assert run(home, "grant", "4567", "coi@example.org").exit_code == 0

    archive = Archive.open(Settings(home=home))
    with archive.engine.begin() as conn:
        coi = users.find_user(conn, "coi@example.org")
        assert tokens.user_for_token(conn, token) == coi.user_id
        assert grants.programs_readable_by(conn, coi.user_id) == {"4567"}
        assert users.authenticate(conn, "pi@example.org", "a long enough password") is not None

    assert run(home, "revoke", "4567", "coi@example.org").exit_code == 0
    assert run(home, "user", "disable", "coi@example.org").exit_code == 0
    with archive.engine.begin() as conn:
        assert grants.programs_readable_by(conn, coi.user_id) == frozenset()
        with pytest.raises(Exception, match="disabled"):
            tokens.user_for_token(conn, token)
    assert run(home, "program", "set-eap", "4567", "0").exit_code == 0
    archive.engine.dispose()


def test_command_errors_are_one_line(home: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "skyarchive", "--home", str(home), "grant", "9999", "x@example.org"],
        capture_output=True, text=True, timeout=60, env={"HOME": str(home), "PATH": "/usr/bin"},
    )  # fmt: skip
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "No account for x@example.org" in lines[0], result.stderr


def test_token_checks_compare_in_constant_time(archive: Archive, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import hmac

    calls = []
    original = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: calls.append(1) or original(a, b))
    with archive.engine.begin() as conn:
        user = users.create_user(conn, email="t@example.org")
        token, _ = tokens.create_token(conn, user_id=user.user_id, name="t", days=1, max_days=9)
        assert tokens.user_for_token(conn, token) == user.user_id
    assert calls, "token verification must use hmac.compare_digest"
