"""Bundle endpoints: zip/tar streams, cURL scripts, MRP downloads, batch staging requests.

Every endpoint takes the same selection fields, as a form (POST) or a query string (GET):
repeated ``uri=<data URI>``, repeated (or comma-separated) ``obsid=<obsid>``, and ``mrp=true``
to keep only Minimum Recommended Products. Thin routes over :mod:`skyarchive.delivery`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse

from skyarchive.access.policy import Caller, check_retrieval, may_retrieve
from skyarchive.access.rights import now_mjd
from skyarchive.api.deps import CSRF_HEADER, ArchiveDep, CallerDep, UserDep, check_csrf
from skyarchive.archive import Archive
from skyarchive.delivery.bundles import (
    FORMATS,
    bundle_name,
    check_bundle_size,
    prepare_bundle,
)
from skyarchive.delivery.curl_script import ScriptEntry, curl_script, script_name
from skyarchive.delivery.manifest import manifest_html
from skyarchive.delivery.readahead import read_ahead
from skyarchive.delivery.requests import create_request, describe, owned_request
from skyarchive.delivery.selection import (
    NOT_AUTHORISED,
    Excluded,
    Item,
    Selection,
    candidates,
    crc32_recorder,
    resolve_selection,
)
from skyarchive.errors import BadQuery, NotFound
from skyarchive.products.listing import parse_obsids

router = APIRouter(tags=["MAST downloads"])
_MAX_URIS = 1_000_000
_TRUE = {"1", "true", "yes", "on", "y"}


async def form_fields(request: Request) -> tuple[list[str], list[str], str | None, str | None]:
    """(uri, obsid, mrp, csrf_token) fields of a posted form of any size.

    Parsed here rather than by FastAPI, whose default form parser refuses more than 1000
    fields: a cURL script or bundle for tens of thousands of files is a normal request.
    """
    form = await request.form(max_fields=_MAX_URIS + 100)
    return (
        [str(v) for v in form.getlist("uri")],
        [str(v) for v in form.getlist("obsid")],
        str(form["mrp"]) if "mrp" in form else None,
        str(form["csrf_token"]) if "csrf_token" in form else None,
    )


UriQuery = Annotated[list[str], Query(description="Data URI (repeat the parameter)")]
ObsidQuery = Annotated[list[str], Query(description="obsid (repeat, or comma-separated)")]
MrpQuery = Annotated[str | None, Query(description="true: only Minimum Recommended Products")]


def selection_fields(
    uri: list[str], obsid: list[str], mrp: str | None
) -> tuple[list[str], list[int], bool]:
    """Validated (uris, obsids, mrp_only) from request fields."""
    uris = list(dict.fromkeys(u.strip() for u in uri if u and u.strip()))
    if len(uris) > _MAX_URIS:
        raise BadQuery(f"At most {_MAX_URIS} uri fields per request.")
    obsids = parse_obsids(",".join(obsid)) if any(o.strip() for o in obsid) else []
    if not uris and not obsids:
        raise BadQuery("Select something: give uri=<data URI> and/or obsid=<obsid> fields.")
    return uris, obsids, (mrp or "").strip().lower() in _TRUE


def nothing_deliverable(selection: Selection, caller: Caller, *, now: float) -> None:
    """Raise the right error when a selection includes no file at all."""
    if selection.items:
        return
    for excluded in selection.excluded:
        if excluded.reason.startswith(NOT_AUTHORISED):
            check_retrieval(caller, filename=excluded.name, proposal_id=excluded.proposal_id,
                            t_obs_release=None, now=now)  # fmt: skip
    reasons = "; ".join(f"{e.name}: {e.reason}" for e in selection.excluded[:5])
    raise NotFound(f"None of the selected files can be delivered ({reasons}).")


def bundle_response(
    archive: Archive,
    caller: Caller,
    *,
    fmt: str,
    selection: Selection,
    filename: str | None = None,
    on_complete: Any = None,
) -> StreamingResponse:
    """A streamed zip/tar/tar.gz of ``selection`` (checked against the size limit first)."""
    check_bundle_size(selection, limit=archive.settings.max_bundle_bytes)
    base_url = archive.settings.base_url

    def manifest(items, excluded) -> str:  # type: ignore[no-untyped-def]
        return manifest_html(items, excluded, caller=caller, source=base_url)

    bundle = prepare_bundle(
        selection, storage=archive.storage, fmt=fmt, manifest=manifest,
        on_complete=on_complete, on_crc32=crc32_recorder(archive.engine),
    )  # fmt: skip
    headers = {
        "Content-Disposition": f'attachment; filename="{filename or bundle_name(fmt)}"',
        "X-Skyarchive-Files": str(bundle.files),
        "X-Skyarchive-Bytes": str(bundle.bytes),
        "X-Skyarchive-Not-Included": str(bundle.not_included),
        "Cache-Control": "no-store",
    }
    if bundle.length is not None:  # zip: exact, so the body is sent without chunked encoding
        headers["Content-Length"] = str(bundle.length)
    chunks = read_ahead(bundle.chunks)
    return StreamingResponse(chunks, media_type=bundle.media_type, headers=headers)


def _bundle(archive: Archive, caller: Caller, fmt: str, uri, obsid, mrp) -> Response:  # type: ignore[no-untyped-def]
    uris, obsids, mrp_only = selection_fields(uri, obsid, mrp)
    now = now_mjd()
    with archive.engine.connect() as conn:
        selection = resolve_selection(
            conn, archive.storage, caller=caller, now=now, uris=uris, obsids=obsids,
            mrp_only=mrp_only,
        )  # fmt: skip
    nothing_deliverable(selection, caller, now=now)
    return bundle_response(archive, caller, fmt=fmt, selection=selection)


def _add_bundle_routes(fmt: str) -> None:
    async def post(request: Request, archive: ArchiveDep, caller: CallerDep) -> Response:
        uri, obsid, mrp, _ = await form_fields(request)
        return await run_in_threadpool(_bundle, archive, caller, fmt, uri, obsid, mrp)

    def get(archive: ArchiveDep, caller: CallerDep, uri: UriQuery = [], obsid: ObsidQuery = [],  # noqa: B006
            mrp: MrpQuery = None) -> Response:  # fmt: skip
        return _bundle(archive, caller, fmt, uri, obsid, mrp)

    path = f"/api/v0.1/Download/bundle.{fmt}"
    doc = f"A {fmt} of the selection, streamed while it is built, with MANIFEST.HTML."
    router.add_api_route(path, post, methods=["POST"], description=doc, name=f"bundle_{fmt}")
    router.add_api_route(path, get, methods=["GET"], description=doc, name=f"bundle_{fmt}_get")


for _fmt in FORMATS:
    _add_bundle_routes(_fmt)


@router.get("/api/v0.1/Download/mrp")
def download_mrp(
    archive: ArchiveDep,
    caller: CallerDep,
    obsid: Annotated[str, Query(description="The observation's obsid")] = "",
    format: Annotated[str, Query(description="zip, tar or tar.gz")] = "zip",  # noqa: A002
) -> Response:
    """The Minimum Recommended Products of one observation as one streamed bundle."""
    return mrp_bundle(archive, caller, obsid=obsid, fmt=format)


def mrp_bundle(archive: Archive, caller: Caller, *, obsid: str, fmt: str) -> Response:
    ids = parse_obsids(obsid)
    if len(ids) != 1:
        raise BadQuery("Give one obsid.")
    if fmt not in FORMATS:
        raise BadQuery(f"Unknown bundle format {fmt!r}; use one of {', '.join(FORMATS)}.")
    now = now_mjd()
    with archive.engine.connect() as conn:
        selection = resolve_selection(
            conn, archive.storage, caller=caller, now=now, obsids=ids, mrp_only=True
        )
    if (
        not selection.items
        and selection.excluded
        and selection.excluded[0].reason.startswith("not in this archive")
    ):
        raise NotFound(f"No observation with obsid {ids[0]} in this archive.")
    nothing_deliverable(selection, caller, now=now)
    obs_id = selection.items[0].path.split("/")[1] if selection.items else str(ids[0])
    return bundle_response(
        archive, caller, fmt=fmt, selection=selection, filename=f"{obs_id}_mrp.{fmt}"
    )


def script_entry(item: Item, *, allowed: bool) -> ScriptEntry:
    collection, obs_id, _ = item.path.split("/", 2)
    return ScriptEntry(item.data_uri, item.filename, collection, obs_id, item.size, item.sha256,
                       restricted=not allowed)  # fmt: skip


def script_lines(
    archive: Archive, caller: Caller, *, uris: list[str], obsids: list[int], mrp_only: bool
) -> Iterator[ScriptEntry | str]:
    """Script entries streamed from the catalog, chunk by chunk (any selection size)."""
    now = now_mjd()
    with archive.engine.connect() as conn:
        for found in candidates(conn, uris=uris, obsids=obsids, mrp_only=mrp_only, now=now):
            if isinstance(found, Excluded):
                yield f"not in this archive: {found.name}"
                continue
            allowed = may_retrieve(
                caller, proposal_id=found.proposal_id, t_obs_release=found.t_obs_release, now=now
            )
            yield script_entry(found, allowed=allowed)


def _batched(pieces: Iterator[str], size: int = 1 << 16) -> Iterator[bytes]:
    """Lines joined into ~64 KiB chunks: each chunk costs the server a thread hop."""
    batch: list[str] = []
    length = 0
    for piece in pieces:
        batch.append(piece)
        length += len(piece)
        if length >= size:
            yield "".join(batch).encode()
            batch, length = [], 0
    if batch:
        yield "".join(batch).encode()


def script_response(pieces: Iterator[str]) -> StreamingResponse:
    return StreamingResponse(
        _batched(pieces),
        media_type="text/x-shellscript",
        headers={"Content-Disposition": f'attachment; filename="{script_name()}"'},
    )


@router.post("/api/v0.1/Download/bundle.sh")
async def bundle_script(request: Request, archive: ArchiveDep, caller: CallerDep) -> Response:
    """A bash cURL script fetching the selection (astroquery's ``curl_flag=True``)."""
    uri, obsid, mrp, _ = await form_fields(request)
    uris, obsids, mrp_only = selection_fields(uri, obsid, mrp)
    lines = script_lines(archive, caller, uris=uris, obsids=obsids, mrp_only=mrp_only)
    return script_response(curl_script(lines, base_url=archive.settings.base_url))


@router.post("/api/v0.1/Download/stage", status_code=202)
async def stage(request: Request, archive: ArchiveDep, caller: UserDep) -> JSONResponse:
    """Queue a batch staging request; the answer says where its status is shown."""
    uri, obsid, mrp, csrf_token = await form_fields(request)
    check_csrf(caller, request.headers.get(CSRF_HEADER) or csrf_token)
    uris, obsids, mrp_only = selection_fields(uri, obsid, mrp)
    info = await run_in_threadpool(
        start_staging, archive, caller, uris=uris, obsids=obsids, mrp_only=mrp_only
    )
    return JSONResponse(info, status_code=202)


def start_staging(
    archive: Archive,
    caller: Caller,
    *,
    uris: list[str] = [],  # noqa: B006
    obsids: list[int] = [],  # noqa: B006
    product_ids: list[int] = [],  # noqa: B006
    mrp_only: bool = False,
    basket_id: int | None = None,
    remove_completed: bool = False,
) -> dict[str, Any]:
    """Record a staging request for ``caller`` and hand it to the worker."""
    from skyarchive.jobs.queue import enqueue_staging

    now = now_mjd()
    with archive.engine.begin() as conn:
        selection = resolve_selection(
            conn, archive.storage, caller=caller, now=now, uris=uris, obsids=obsids,
            product_ids=product_ids, mrp_only=mrp_only,
        )  # fmt: skip
        nothing_deliverable(selection, caller, now=now)
        request_id = create_request(
            conn, selection=selection, method="staging", user_id=caller.user_id,
            basket_id=basket_id, email=caller.email, remove_completed=remove_completed,
        )  # fmt: skip
    enqueue_staging(archive.settings, request_id)
    with archive.engine.connect() as conn:
        return describe(conn, owned_request(conn, request_id, caller=caller, basket_id=None),
                        base_url=archive.settings.base_url)  # fmt: skip


@router.get("/api/v0.1/Download/stage/{request_id}")
def stage_status(request_id: str, archive: ArchiveDep, caller: UserDep) -> dict[str, Any]:
    """Status of a staging request: queued, running, done, failed or expired."""
    with archive.engine.connect() as conn:
        found = owned_request(conn, request_id, caller=caller, basket_id=None)
        return describe(conn, found, base_url=archive.settings.base_url)
