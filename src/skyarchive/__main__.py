"""``python -m skyarchive`` runs the operator CLI."""

from skyarchive.cli import run

run()
