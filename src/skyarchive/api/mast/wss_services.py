"""``Mast.Jwst.Filtered.Wss``: wavefront sensing products, as STScI's PSF tools query them."""

from __future__ import annotations

from skyarchive.api.mast.registry import (
    Fields,
    MastRequest,
    ServiceContext,
    TableResult,
    mast_service,
)
from skyarchive.api.mast.services import COUNT_COLUMNS, count_answer
from skyarchive.search.criteria import parse_criteria
from skyarchive.search.wss import WSS_COLUMNS, count_wss, search_wss, wss_column


@mast_service("Mast.Jwst.Filtered.Wss")
def jwst_wss(ctx: ServiceContext, request: MastRequest) -> TableResult:
    params = request.params
    criteria = parse_criteria(params.get("filters", []), wss_column)
    columns = str(params.get("columns", "*") or "*").replace(" ", "")
    if columns.upper() == COUNT_COLUMNS:
        total = count_wss(ctx.conn, criteria)
        return count_answer(total, request)
    chosen = (
        list(WSS_COLUMNS)
        if columns in ("*", "c.*")
        else [
            next(c for c in WSS_COLUMNS if c.name == wss_column(n).name) for n in columns.split(",")
        ]
    )
    page = search_wss(ctx.conn, criteria, page=request.page, pagesize=request.pagesize)
    rows = [{c.name: row[c.name] for c in chosen} for row in page.rows]
    return TableResult(
        Fields.of(chosen), rows, page.total, request.page,
        request.pagesize, columns=chosen,
    )  # fmt: skip
