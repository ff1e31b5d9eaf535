"""MAST download endpoints: single files (HEAD/GET with ranges) and cURL scripts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import select

from skyarchive.access.policy import may_retrieve
from skyarchive.access.rights import now_mjd
from skyarchive.api.deps import ArchiveDep, CallerDep
from skyarchive.db.tables import observations, products
from skyarchive.delivery.curl_script import ScriptEntry, curl_script, script_name
from skyarchive.delivery.files import authorise, byte_range, find_product, read_bytes

router = APIRouter(tags=["MAST downloads"])
_MAX_SCRIPT_URIS = 1_000_000


@router.api_route("/api/v0.1/Download/file", methods=["GET", "HEAD"])
def download_file(
    request: Request,
    archive: ArchiveDep,
    caller: CallerDep,
    uri: Annotated[str, Query(description="Data URI, e.g. mast:JWST/product/<file>")] = "",
) -> Response:
    with archive.engine.connect() as conn:
        product = find_product(conn, uri)
    authorise(caller, product, now=now_mjd())
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": product.etag,
        "Content-Disposition": f'attachment; filename="{product.filename}"',
        "Digest": f"sha-256={product.sha256}",
    }
    wanted = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if if_range and if_range.strip() != product.etag:
        wanted = None  # the client's partial copy is of another version: send it whole
    span = byte_range(wanted, product.size)
    first, last = span if span else (0, product.size - 1)
    headers["Content-Length"] = str(last - first + 1 if product.size else 0)
    status = 206 if span else 200
    if span:
        headers["Content-Range"] = f"bytes {first}-{last}/{product.size}"
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=product.media_type)
    body = read_bytes(archive.storage, product, first, last) if product.size else iter(())
    return StreamingResponse(body, status_code=status, headers=headers,
                             media_type=product.media_type)  # fmt: skip


@router.post("/api/v0.1/Download/bundle.sh")
def bundle_script(
    archive: ArchiveDep,
    caller: CallerDep,
    uri: Annotated[list[str], Form()] = [],  # noqa: B006
) -> Response:
    """A bash cURL script fetching the posted data URIs (astroquery's curl_flag=True)."""
    uris = list(dict.fromkeys(u.strip() for u in uri if u.strip()))[:_MAX_SCRIPT_URIS]
    now = now_mjd()
    entries = list(_script_entries(archive, uris, caller, now))
    restricted = sum(1 for e in entries if e.restricted)
    text = curl_script(entries, base_url=archive.settings.base_url, restricted=restricted)
    return StreamingResponse(
        (piece.encode() for piece in text),
        media_type="text/x-shellscript",
        headers={"Content-Disposition": f'attachment; filename="{script_name()}"'},
    )


def _script_entries(archive, uris: list[str], caller, now: float) -> Iterator[ScriptEntry]:  # type: ignore[no-untyped-def]
    owner = observations.alias("owner")
    query = select(
        products.c.dataURI, products.c.productFilename, products.c.obs_collection,
        products.c.size, products.c.sha256, products.c.proposal_id, owner.c.obs_id,
        owner.c.t_obs_release,
    ).outerjoin(owner, owner.c.obsid == products.c.owner_obsid)  # fmt: skip
    with archive.engine.connect() as conn:
        for start in range(0, len(uris), 5000):
            chunk = uris[start : start + 5000]
            found = {r.dataURI: r for r in conn.execute(query.where(products.c.dataURI.in_(chunk)))}
            for u in chunk:
                r = found.get(u)
                if r is None:
                    continue
                allowed = may_retrieve(
                    caller, proposal_id=r.proposal_id, t_obs_release=r.t_obs_release, now=now
                )
                yield ScriptEntry(
                    r.dataURI, r.productFilename, r.obs_collection, r.obs_id or "unassigned",
                    r.size, r.sha256, restricted=not allowed,
                )  # fmt: skip
