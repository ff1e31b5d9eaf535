"""The delivery façade: the use-cases by which bytes leave the archive, each taking the caller.

Faces (the MAST API, the portal's API) call these and render the answer; none of them reads
a staged file, a catalog row or a storage key on its own. Every use-case takes a keyword-only
``caller`` and applies the one access rule (:func:`skyarchive.access.policy.check_retrieval`)
before it hands out anything that can be read, so the rule is part of the only way in:

* :func:`file_answer` — one archived file by data URI, with an optional byte range, and
  :func:`file_redirect` — where to send the client instead when the operator lets the object
  store serve files itself (``download_mode = redirect``);
* :func:`bundle` and :func:`mrp_bundle` — a streamed zip/tar/tar.gz with its MANIFEST.HTML;
* :func:`request_listing` — the cURL script or the list of download URLs of a recorded
  delivery request;
* :func:`staged_file` — one file (or folder listing) of a batch staging area.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from skyarchive.access.caller import Credential
from skyarchive.access.policy import Caller, check_retrieval
from skyarchive.access.rights import now_mjd
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.tables import delivery_files, products
from skyarchive.delivery.bundles import (
    Bundle,
    bundle_name,
    check_bundle_size,
    check_format,
    finished_before_last,
    prepare_bundle,
)
from skyarchive.delivery.curl_script import ScriptEntry, curl_script
from skyarchive.delivery.files import (
    FILE_RELEASE,
    ProductFile,
    authorise,
    byte_range,
    find_product,
    find_product_and_caller,
    joined_to_owner,
    read_bytes,
)
from skyarchive.delivery.manifest import manifest_html
from skyarchive.delivery.requests import DONE, EXPIRED, get_request
from skyarchive.delivery.scripts import script_entry
from skyarchive.delivery.selection import (
    Excluded,
    Selection,
    crc32_recorder,
    mrp_selection,
    resolve_selection,
)
from skyarchive.delivery.url_list import url_list
from skyarchive.errors import BadQuery, Forbidden, Gone, NotFound, Unauthorized
from skyarchive.storage.local import read_file_range

#: The manifest the staging job writes at the top of each area (never a data file's path:
#: those are always ``<collection>/<obs_id>/<file>``).
MANIFEST_NAME = "MANIFEST.HTML"
_MAX_ID = 40


@dataclass(frozen=True)
class FileAnswer:
    """What to send for a single-file download: the product, the byte span, the bytes."""

    product: ProductFile
    first: int
    last: int
    partial: bool  # a satisfiable Range was asked for (206)
    conditional: bool = False  # If-Range named our ETag: only this server can judge it

    @property
    def length(self) -> int:
        return self.last - self.first + 1 if self.product.size else 0


def file_answer(
    archive: Archive,
    *,
    caller: Caller | Callable[[], Caller],
    uri: str,
    range_header: str | None,
    if_range: str | None = None,
    credential: Credential | None = None,
) -> FileAnswer:
    """One archived file for ``caller``, checked against the access rule.

    Parameters
    ----------
    archive : Archive
        The archive (catalog and storage).
    caller : Caller or callable
        Who asks, or a function that finds out (called only for a file that is not public:
        see :func:`skyarchive.delivery.files.authorise`).
    uri : str
        The file's data URI (``mast:JWST/product/<file>``) or bare file name.
    range_header : str or None
        The request's ``Range`` header.
    if_range : str or None
        The request's ``If-Range`` header: a range for another version of the file is
        answered with the whole file.
    credential : Credential or None
        The API token or portal session the request presents, if any: the caller it stands
        for is then read with the file's row, in one statement (``caller`` is not used).

    Raises
    ------
    BadQuery
        No or a malformed URI.
    NotFound
        No such file in the catalog.
    Unauthorized, Forbidden
        The caller may not read it (exclusive access).
    RangeNotSatisfiable
        The range lies outside the file.
    """
    refusal: Unauthorized | Forbidden | None = None
    now = now_mjd()
    with archive.lookup_engine.begin() as conn:
        if credential is None:
            product, who = find_product(conn, uri), caller
        else:  # the file and the credential's caller in one statement
            product, who = find_product_and_caller(conn, uri, credential, now=now)
        try:
            authorise(who, product, now=now)
        except (Unauthorized, Forbidden) as exc:  # raised after the token's use is recorded
            refusal = exc
    if refusal is not None:
        raise refusal
    if if_range and if_range.strip() != product.etag:
        range_header = None  # the client's partial copy is of another version: send it whole
    span = byte_range(range_header, product.size)
    first, last = span if span else (0, product.size - 1)
    return FileAnswer(
        product, first, last, partial=span is not None, conditional=bool(range_header and if_range)
    )


def file_redirect(
    archive: Archive, answer: FileAnswer, *, response_headers: dict[str, str]
) -> str | None:
    """A time-limited URL of the store for an authorised :class:`FileAnswer`, or None to
    stream it through this server.

    Only in ``download_mode = redirect`` and from a store that makes such URLs (S3); the URL
    is made here, after :func:`file_answer` applied the access rule, and lasts
    ``presigned_url_seconds``. The client sends its ``Range`` on to the store, which answers
    it as this server would (the range was already checked here); a request with
    ``If-Range`` is streamed, because the store does not know this archive's ETags.
    ``response_headers`` (type, disposition) are what the store answers with.
    """
    settings = archive.settings
    if settings.download_mode != "redirect" or answer.conditional or not answer.product.size:
        return None
    return archive.storage.url_for(
        answer.product.storage_key, settings.presigned_url_seconds,
        response_headers=response_headers,
    )  # fmt: skip


def file_bytes(archive: Archive, answer: FileAnswer) -> Iterator[bytes]:
    """The bytes of an authorised :class:`FileAnswer` (nothing for an empty file)."""
    if not answer.product.size:
        return iter(())
    return read_bytes(archive.storage, answer.product, answer.first, answer.last)


@dataclass(frozen=True)
class NamedBundle:
    """A bundle ready to stream and the file name to offer it under."""

    bundle: Bundle
    filename: str


def bundle(
    archive: Archive,
    *,
    caller: Caller,
    fmt: str,
    base_url: str,
    uris: Sequence[str] = (),
    obsids: Sequence[int] = (),
    product_ids: Sequence[int] = (),
    mrp_only: bool = False,
    on_complete: Callable[[list[int]], None] | None = None,
) -> NamedBundle:
    """The files of a selection that ``caller`` may have, as one streamed bundle.

    Parameters
    ----------
    archive : Archive
        The archive.
    caller : Caller
        Who asks; files they may not read are listed in MANIFEST.HTML as not included.
    fmt : {"zip", "tar", "tar.gz"}
        Container format.
    base_url : str
        The archive's public URL, named in MANIFEST.HTML.
    uris, obsids, product_ids, mrp_only
        The selection, as for :func:`skyarchive.delivery.selection.resolve_selection`.
    on_complete : callable, optional
        Given the product ids sent, once the last byte has been produced.

    Raises
    ------
    BadQuery
        An unknown format or an empty selection.
    Unauthorized, Forbidden, NotFound
        Nothing of the selection may be delivered to the caller.
    PayloadTooLarge
        Above the operator's ``max_bundle_bytes``.
    """
    check_format(fmt)  # before any catalog work
    now = now_mjd()
    with archive.engine.connect() as conn:
        selection = resolve_selection(
            conn, archive.storage, caller=caller, now=now, uris=uris, obsids=obsids,
            product_ids=product_ids, mrp_only=mrp_only, deliverable=True,
        )  # fmt: skip
    return _prepared(archive, caller, selection, fmt=fmt, base_url=base_url,
                     filename=bundle_name(fmt), on_complete=on_complete)  # fmt: skip


def mrp_bundle(
    archive: Archive, *, caller: Caller, obsid: str, fmt: str, base_url: str
) -> NamedBundle:
    """The Minimum Recommended Products of one observation (``obsid`` as a client gives it)
    as one streamed bundle named ``<obs_id>_mrp.<fmt>``; raises as :func:`bundle`."""
    check_format(fmt)
    with archive.engine.connect() as conn:
        selection = mrp_selection(conn, archive.storage, caller=caller, obsid=obsid, now=now_mjd())
    obs_id = selection.items[0].path.split("/")[1]
    return _prepared(archive, caller, selection, fmt=fmt, base_url=base_url,
                     filename=f"{obs_id}_mrp.{fmt}", on_complete=None)  # fmt: skip


def _prepared(
    archive: Archive,
    caller: Caller,
    selection: Selection,
    *,
    fmt: str,
    base_url: str,
    filename: str,
    on_complete: Callable[[list[int]], None] | None,
) -> NamedBundle:
    check_bundle_size(selection, limit=archive.settings.max_bundle_bytes)

    def manifest(items, excluded) -> str:  # type: ignore[no-untyped-def]
        return manifest_html(items, excluded, caller=caller, source=base_url)

    def completed() -> None:
        if on_complete is not None:
            on_complete([item.product_id for item in selection.items])

    prepared = prepare_bundle(
        selection, storage=archive.storage, fmt=fmt, manifest=manifest, on_complete=completed,
        on_crc32=crc32_recorder(archive.engine),
    )  # fmt: skip
    return NamedBundle(prepared, filename)


#: How a recorded request's files are listed: a bash cURL script or a list of download URLs.
LISTINGS: dict[str, Callable[..., Iterator[str]]] = {"curl": curl_script, "urls": url_list}


def request_listing(
    archive: Archive,
    *,
    caller: Caller,
    product_ids: Sequence[int],
    base_url: str,
    fmt: str,
    left_out: Sequence[Excluded] = (),
    on_complete: Callable[[list[int]], None] | None = None,
) -> Iterator[str]:
    """The cURL script (``fmt`` "curl") or the list of download URLs ("urls") of a recorded
    request: the files ``caller`` may have now, the others as comments with the reason, as are
    ``left_out`` (the files the request left out when it was recorded). Refused at once (not
    mid-stream) when nothing is deliverable; ``on_complete`` gets the product ids once the
    whole listing has been produced."""
    write = LISTINGS[fmt]
    with archive.engine.connect() as conn:
        selection = resolve_selection(conn, None, caller=caller, now=now_mjd(),
                                      product_ids=product_ids, deliverable=True)  # fmt: skip
    entries: list[ScriptEntry | str] = [
        script_entry(item, allowed=True) for item in selection.items
    ]
    excluded = [*left_out, *selection.excluded]
    entries += [f"not included ({e.reason}): {e.path or e.name}" for e in excluded]

    def completed() -> None:
        if on_complete is not None:
            on_complete([item.product_id for item in selection.items])

    return finished_before_last(write(entries, base_url=base_url), completed)


@dataclass(frozen=True)
class StagedEntry:
    name: str
    is_dir: bool
    size: int | None


@dataclass(frozen=True)
class StagedFolder:
    """A folder of a staging area: ``path`` is relative to the area, '' or ending in '/'."""

    request_id: str
    path: str
    entries: list[StagedEntry]


@dataclass(frozen=True)
class StagedFile:
    """A staged file the caller may read. ``is_manifest``: the archive's own MANIFEST.HTML."""

    local_path: Path
    filename: str
    size: int
    is_manifest: bool


@dataclass(frozen=True)
class FolderMoved:
    """A folder asked for without its trailing slash: answer with a redirect to ``path``."""

    path: str


def staging_area(settings: Settings, request_id: str) -> Path:
    """Where a staging request's files are placed."""
    return settings.resolved_staging_path / request_id


def staged_bytes(found: StagedFile, *, first: int, last: int) -> Iterator[bytes]:
    """Bytes ``first``..``last`` of a staged file :func:`staged_file` allowed the caller."""
    if not found.size:
        return iter(())
    return read_file_range(found.local_path, first, last)


def staged_file(
    archive: Archive, *, caller: Caller, request_id: str, path: str
) -> StagedFile | StagedFolder | FolderMoved:
    """A file or folder of a staging area, for ``caller``.

    Each staged data file passes the same access rule as a single-file download, checked
    now against the catalog row the staging job recorded for that path; only the
    ``MANIFEST.HTML`` the archive wrote at the top of the area is exempt (it lists only files
    the requester could have). A file on disk that the request did not stage is not served.

    Parameters
    ----------
    archive : Archive
        The archive.
    caller : Caller
        Who asks (the link may be shared: rights are the caller's, not the requester's).
    request_id : str
        The staging request.
    path : str
        Path inside the area, as in the URL (``JWST/<obs_id>/<file>``, or a folder).

    Raises
    ------
    BadQuery
        A path with ``..``, hidden names, backslashes or control characters.
    NotFound
        No such area (or expired), or no such staged file.
    Unauthorized, Forbidden
        The caller may not read the file (exclusive access).
    """
    parts = _safe_parts(path)
    area = _area(archive, request_id)
    target = area.joinpath(*parts)
    if not target.resolve().is_relative_to(area.resolve()):
        raise NotFound("No such file.")
    if target.is_dir():
        if parts and not path.endswith("/"):
            return FolderMoved(f"{'/'.join(parts)}/")
        folder = "/".join(parts) + ("/" if parts else "")
        return StagedFolder(request_id, folder, _entries(target))
    if not target.is_file():
        raise NotFound(f"No file {path!r} in staging area {request_id}.")
    relative = "/".join(parts)
    if not _check_staged(caller, request_id, relative, archive=archive):
        if parts != [MANIFEST_NAME]:
            raise NotFound(f"No file {path!r} in staging area {request_id}.")
        return StagedFile(target, MANIFEST_NAME, target.stat().st_size, is_manifest=True)
    return StagedFile(target, parts[-1], target.stat().st_size, is_manifest=False)


def _safe_parts(path: str) -> list[str]:
    if len(path) > 1024:
        raise BadQuery("Path too long.")
    parts = [p for p in path.split("/") if p]
    for part in parts:
        if part in (".", "..") or part.startswith(".") or "\\" in part:
            raise BadQuery(f"Invalid path {path!r}: no '..', hidden names or backslashes.")
        if not part.isprintable():
            raise BadQuery(f"Invalid path {path!r}: control characters are not allowed.")
    return parts


def _area(archive: Archive, request_id: str) -> Path:
    plain = request_id.replace("-", "").replace("_", "")
    if not plain.isascii() or not plain.isalnum() or len(request_id) > _MAX_ID:
        raise NotFound("No such staging area.")
    with archive.engine.connect() as conn:
        try:
            found = get_request(conn, request_id)
        except NotFound:
            raise NotFound("No such staging area.") from None
    if found.method != "staging":
        raise NotFound("No such staging area.")
    if found.status == EXPIRED or (found.expires_at is not None and found.expires_at < time.time()):
        raise Gone(f"Staging area {request_id} has expired; its files have been removed.")
    area = staging_area(archive.settings, request_id)
    if not area.is_dir():
        raise NotFound(f"Staging area {request_id} is not ready yet.")
    return area


def _entries(folder: Path) -> list[StagedEntry]:
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):  # files being placed
            continue
        is_dir = entry.is_dir()
        found.append(StagedEntry(entry.name, is_dir, None if is_dir else entry.stat().st_size))
    return found


def _check_staged(caller: Caller, request_id: str, relative: str, *, archive: Archive) -> bool:
    """Apply the access rule to the staged file at ``relative``; False if none was staged."""
    query = joined_to_owner(
        select(products.c.productFilename, products.c.proposal_id, FILE_RELEASE)
        .select_from(products)
        .join(delivery_files, delivery_files.c.product_id == products.c.product_id)
    ).where(
        delivery_files.c.request_id == request_id,
        delivery_files.c.path == relative,
        delivery_files.c.state == DONE,
    )
    with archive.engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return False
    check_retrieval(caller, filename=row.productFilename, proposal_id=row.proposal_id,
                    t_obs_release=row.t_obs_release, now=now_mjd())  # fmt: skip
    return True
