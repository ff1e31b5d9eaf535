"""Portal pages (HTML)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from skyarchive.search.summary import archive_summary

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    summary = archive_summary(request.app.state.archive.engine)
    return templates.TemplateResponse(request, "home.html", {"summary": summary})
