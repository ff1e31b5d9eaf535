"""The portal's "JWST WSS" collection: wavefront sensing products between two dates, their OPD
previews, and the RMS wavefront error over time (an SVG drawn here, no script)."""

from __future__ import annotations

from typing import Annotated, Any

from astropy.time import Time
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from skyarchive.api.deps import ArchiveDep, CallerDep
from skyarchive.api.errors import PageRoute
from skyarchive.api.file_headers import file_headers
from skyarchive.delivery.wss_preview import opd_preview_png
from skyarchive.errors import BadQuery
from skyarchive.portal.routes import templates
from skyarchive.search.criteria import parse_criteria
from skyarchive.search.wss import search_wss, wss_column

router = APIRouter(include_in_schema=False, route_class=PageRoute)
PLOT_W, PLOT_H, PAD_L, PAD_B, PAD_T, PAD_R = 720, 220, 56, 30, 10, 12


def _mjd(text: str, what: str) -> float | None:
    if not text.strip():
        return None
    try:
        return float(Time(text.strip(), scale="utc").mjd)
    except ValueError:
        raise BadQuery(
            f"The {what} date {text!r} is not a date: give 2022-07-01 or 2022-07-01T12:00."
        ) from None


def rms_plot(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """SVG coordinates of RMS (nm) against date for the rows that have one."""
    points = [(r["date_obs_mjd"], r["rms_nm"], r) for r in rows if r.get("rms_nm") is not None]
    if not points:
        return None
    t0, t1 = min(p[0] for p in points), max(p[0] for p in points)
    v0, v1 = min(p[1] for p in points), max(p[1] for p in points)
    t1, v1 = (t1 if t1 > t0 else t0 + 1), (v1 if v1 > v0 else v0 + 1)
    low, high = v0 - 0.1 * (v1 - v0), v1 + 0.1 * (v1 - v0)

    def x(t: float) -> float:
        return round(PAD_L + (t - t0) / (t1 - t0) * (PLOT_W - PAD_L - PAD_R), 1)

    def y(v: float) -> float:
        return round(PAD_T + (1 - (v - low) / (high - low)) * (PLOT_H - PAD_T - PAD_B), 1)

    dots = [{"x": x(t), "y": y(v), "label": f"{r['date_obs'][:16]} {r['apername']}: {v:.1f} nm"}
            for t, v, r in points]  # fmt: skip
    return {
        "width": PLOT_W, "height": PLOT_H, "left": PAD_L, "right": PLOT_W - PAD_R,
        "top": PAD_T, "bottom": PLOT_H - PAD_B, "dots": dots,
        "line": " ".join(f"{d['x']},{d['y']}" for d in dots),
        "y_ticks": [{"y": y(v), "text": f"{v:.0f}"} for v in (low, (low + high) / 2, high)],
        "x_ticks": [{"x": x(t), "text": Time(t, format="mjd").isot[:10]} for t in (t0, t1)],
    }  # fmt: skip


@router.get("/wss", response_class=HTMLResponse)
def wss_page(
    request: Request,
    archive: ArchiveDep,
    caller: CallerDep,
    start: Annotated[str, Query(max_length=40)] = "",
    end: Annotated[str, Query(max_length=40)] = "",
) -> HTMLResponse:
    """WSS products (OPD maps) sensed between ``start`` and ``end`` (all when not given)."""
    low, high = _mjd(start, "start"), _mjd(end, "end")
    limits = {k: v for k, v in (("min", low), ("max", high)) if v is not None}
    filters = [{"paramName": "date_obs_mjd", "values": [limits]}] if limits else []
    with archive.engine.connect() as conn:
        page = search_wss(conn, parse_criteria(filters, wss_column), pagesize=2000)
    context = {"caller": caller, "start": start, "end": end, "rows": page.rows,
               "total": page.total, "plot": rms_plot(page.rows)}  # fmt: skip
    return templates.TemplateResponse(request, "wss.html", context)


@router.get("/wss/preview/{filename}")
def wss_preview(filename: str, archive: ArchiveDep, caller: CallerDep) -> Response:
    """The OPD map of one WSS product as a PNG with a colour bar and its RMS."""
    png = opd_preview_png(archive, caller=caller, filename=filename)
    headers = file_headers(filename.removesuffix(".fits") + "_opd.png", "image/png")
    headers["Cache-Control"] = "private, max-age=3600"
    return Response(png, media_type="image/png", headers=headers)
