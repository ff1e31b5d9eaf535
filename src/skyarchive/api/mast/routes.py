"""MAST-compatible endpoints (filled in by the MAST API issue)."""

from __future__ import annotations

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    """Mount the MAST endpoints on ``app``."""
