"""DataLink ``{links}``: what a client can do with one product, and whether it may.

For each ``ID`` (a publisher DID or a MAST data URI, :mod:`skyarchive.vo.identifiers`) the
links are, consecutively:

* ``#this``: the file itself (the MAST API's download URL; the description names its MAST
  data URI, which is no URL a client could follow);
* ``#preview``: the file's own JPEG preview and thumbnail (``local_semantics`` says which;
  else its observation's preview), only to a caller who may retrieve the file, as the
  portal's details panel does;
* ``#cutout``: the SODA service (``vo/soda.py``) for images cutouts are made from, described
  by the service descriptor :func:`soda_descriptor`;
* ``#progenitor`` and ``#derivation``: the science files of the other calibration levels of
  the same exposure, the level-2 files a combined (level-3) product was made from, and the
  combined products an exposure went into.

``link_auth`` tells whether a link needs credentials (``true`` for a file in its
exclusive-access period, ``false`` for a public one) and ``link_authorized`` whether this
caller may follow it, both from the one access rule (:func:`~skyarchive.access.policy.
may_retrieve` over the file's release, ``FILE_RELEASE``). An ID that is malformed or names no
file gets one ``error_message`` row, as DataLink asks, never a failed request.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import Connection, and_, or_, select

from skyarchive.access.policy import Caller, may_retrieve
from skyarchive.access.rights import PUBLIC, data_rights
from skyarchive.db.tables import observation_members, observations, products
from skyarchive.delivery.cutouts import CUTTABLE_SUFFIXES
from skyarchive.delivery.files import FILE_RELEASE, joined_to_owner, media_type_of
from skyarchive.errors import BadQuery
from skyarchive.vo.identifiers import DATALINK_PATH, SODA_PATH, filename_from_id, publisher_did
from skyarchive.vo.vosi import DATALINK_ID, SODA_ID, Capability, Interface, vosi_capabilities
from skyarchive.vo.votables import FieldSpec, attribute, results_votable

#: The media type of a DataLink document (what ObsCore's ``access_format`` announces).
DATALINK_MEDIA_TYPE = "application/x-votable+xml;content=datalink"
#: Most IDs one request may name, and most related files listed per ID.
MAX_IDS = 100
MAX_RELATED = 200
#: The XML ID of the SODA service descriptor that ``#cutout`` rows name in ``service_def``.
SODA_DESCRIPTOR_ID = "soda-sync"

FIELDS = (
    FieldSpec("ID", "char", "meta.id;meta.main", description="The identifier asked about."),
    FieldSpec("access_url", "char", "meta.ref.url", description="Where the link leads."),
    FieldSpec("service_def", "char", "meta.ref", description="The service descriptor to use."),
    FieldSpec("error_message", "char", "meta.code.error", description="Why there is no link."),
    FieldSpec("semantics", "char", "meta.code", description="What the link is (IVOA vocabulary)."),
    FieldSpec("description", "char", "meta.note", description="The link in words."),
    FieldSpec("content_type", "char", "meta.code.mime", description="Media type of the target."),
    FieldSpec("content_length", "long", "phys.size;meta.file", "byte", "Size of the target."),
    FieldSpec("content_qualifier", "char", "meta.code.class", description="Product type."),
    FieldSpec("local_semantics", "char", "meta.code", description="This archive's own term."),
    FieldSpec("link_auth", "char", "meta.code", description="Whether the link needs credentials."),
    FieldSpec(
        "link_authorized", "boolean", "meta.code", description="Whether this caller may follow it."
    ),
)


@dataclass(frozen=True)
class Link:
    """One row of a links document (``None``: an empty cell)."""

    id: str
    access_url: str | None = None
    service_def: str | None = None
    error_message: str | None = None
    semantics: str | None = None
    description: str | None = None
    content_type: str | None = None
    content_length: int | None = None
    content_qualifier: str | None = None
    local_semantics: str | None = None
    link_auth: str | None = None
    link_authorized: bool | None = None

    def row(self) -> tuple:
        return (
            self.id, self.access_url, self.service_def, self.error_message, self.semantics,
            self.description, self.content_type, self.content_length, self.content_qualifier,
            self.local_semantics, self.link_auth, self.link_authorized,
        )  # fmt: skip


@dataclass(frozen=True)
class _File:
    product_id: int
    filename: str
    data_uri: str
    size: int
    calib_level: int | None
    dataproduct_type: str | None
    proposal_id: str | None
    release: float | None
    owner_obsid: int | None
    jpeg_url: str | None


def file_url(base_url: str, data_uri: str) -> str:
    """The MAST API's download URL of a file (what astroquery fetches)."""
    return f"{base_url}/api/v0.1/Download/file?uri={quote(data_uri, safe=':/')}"


def links(
    conn: Connection,
    ids: Sequence[str],
    *,
    authority: str,
    base_url: str,
    caller: Caller,
    now: float,
) -> list[Link]:
    """The links of every ID in ``ids``, in their order, each ID's rows together.

    Raises
    ------
    BadQuery
        No ID at all, or more than :data:`MAX_IDS` (a request error, not a row's).
    """
    if not ids:
        raise BadQuery("Give at least one ID: a product's publisher DID or MAST data URI.")
    if len(ids) > MAX_IDS:
        raise BadQuery(f"{len(ids)} IDs are more than the {MAX_IDS} one request may name.")
    found: list[Link] = []
    for identifier in ids:
        found += _links_of(conn, identifier, authority, base_url.rstrip("/"), caller, now)
    return found


def _links_of(
    conn: Connection, identifier: str, authority: str, base: str, caller: Caller, now: float
) -> list[Link]:
    try:
        filename = filename_from_id(authority, identifier)
    except BadQuery as exc:
        return [Link(identifier, error_message=f"UsageFault: {exc.message}")]
    file = _file_named(conn, filename)
    if file is None:
        return [Link(identifier, error_message=f"NotFoundFault: no file {filename!r} here.")]

    def rights(target: _File) -> tuple[str, bool]:
        allowed = may_retrieve(
            caller, proposal_id=target.proposal_id, t_obs_release=target.release, now=now
        )
        public = data_rights(target.release, now=now) == PUBLIC
        return ("false" if public else "true"), allowed

    auth, allowed = rights(file)
    kind = media_type_of(file.filename)
    out = [
        Link(identifier, file_url(base, file.data_uri), semantics="#this",
             description=f"The file {file.filename} (MAST data URI {file.data_uri})",
             content_type=kind, content_length=file.size,
             content_qualifier=file.dataproduct_type, link_auth=auth, link_authorized=allowed),
    ]  # fmt: skip
    if allowed:  # previews only to those who may retrieve the file, as the portal does
        for local, preview in _previews(conn, file):
            out.append(
                Link(identifier, file_url(base, preview.data_uri), semantics="#preview",
                     description=f"{local.title()} of {file.filename}", local_semantics=local,
                     content_type=media_type_of(preview.filename),
                     content_length=preview.size, link_auth=auth, link_authorized=True)
            )  # fmt: skip
    if file.filename.lower().endswith(CUTTABLE_SUFFIXES):
        out.append(
            Link(identifier, service_def=SODA_DESCRIPTOR_ID, semantics="#cutout",
                 description="A cutout of this image around a position (SODA)",
                 content_type="application/fits", link_auth=auth, link_authorized=allowed)
        )  # fmt: skip
    for semantics, other in _related(conn, file):
        other_auth, other_allowed = rights(other)
        level = f"level {other.calib_level}" if other.calib_level is not None else "other level"
        out.append(
            Link(identifier, file_url(base, other.data_uri), semantics=semantics,
                 description=f"{other.filename} ({level})",
                 content_type=media_type_of(other.filename), content_length=other.size,
                 content_qualifier=other.dataproduct_type,
                 local_semantics=publisher_did(authority, other.filename),
                 link_auth=other_auth, link_authorized=other_allowed)
        )  # fmt: skip
    return out


def _file_query():  # type: ignore[no-untyped-def]
    return joined_to_owner(
        select(
            products.c.product_id, products.c.productFilename, products.c.dataURI,
            products.c.size, products.c.calib_level, products.c.dataproduct_type,
            products.c.proposal_id, FILE_RELEASE, products.c.owner_obsid, observations.c.jpegURL,
        )
    )  # fmt: skip


def _files(conn: Connection, query) -> Iterator[_File]:  # type: ignore[no-untyped-def]
    for r in conn.execute(query):
        yield _File(
            r.product_id, r.productFilename, r.dataURI, r.size, r.calib_level,
            r.dataproduct_type, r.proposal_id, r.t_obs_release, r.owner_obsid, r.jpegURL,
        )  # fmt: skip


def _file_named(conn: Connection, filename: str) -> _File | None:
    query = _file_query().where(products.c.productFilename == filename)
    return next(_files(conn, query), None)


def _previews(conn: Connection, file: _File) -> list[tuple[str, _File]]:
    """The file's own preview and thumbnail (``<stem>.jpg``, ``<stem>_thumb.jpg``), else the
    preview of the observation it belongs to."""
    stem = file.filename.rsplit(".", 1)[0]
    names = {f"{stem}.jpg": "preview", f"{stem}_thumb.jpg": "thumbnail"}
    query = _file_query().where(products.c.productFilename.in_(list(names)))
    found = sorted((names[f.filename], f) for f in _files(conn, query))
    if not found and file.jpeg_url:
        query = _file_query().where(products.c.dataURI == file.jpeg_url)
        found = [("preview", f) for f in _files(conn, query)]
    return found


def _related(conn: Connection, file: _File) -> list[tuple[str, _File]]:
    """Science FITS files of other levels: the same exposure's, the members' of a combined
    product, and the combined products of an exposure."""
    if file.owner_obsid is None:
        return []
    science = and_(
        products.c.productType == "SCIENCE",
        products.c.productFilename.like("%.fits"),
        products.c.product_id != file.product_id,
    )
    owner = file.owner_obsid
    members = select(observation_members.c.member_obsid).where(
        observation_members.c.parent_obsid == owner, observation_members.c.member_obsid != owner
    )
    parents = select(observation_members.c.parent_obsid).where(
        observation_members.c.member_obsid == owner, observation_members.c.parent_obsid != owner
    )
    level = file.calib_level
    same_exposure = and_(
        products.c.owner_obsid == owner,
        products.c.calib_level.is_not(None),
        products.c.calib_level != level if level is not None else products.c.calib_level.is_(None),
    )
    made_from = and_(products.c.owner_obsid.in_(members), products.c.calib_level == 2)
    went_into = and_(products.c.owner_obsid.in_(parents), products.c.calib_level == 3)
    query = (
        _file_query()
        .where(science, or_(same_exposure, made_from, went_into))
        .order_by(products.c.calib_level, products.c.productFilename)
        .limit(MAX_RELATED)
    )
    related = []
    for other in _files(conn, query):
        lower = (other.calib_level or 0) < (level or 0)
        related.append(("#progenitor" if lower else "#derivation", other))
    return related


def soda_descriptor(base_url: str) -> str:
    """The ``RESOURCE type="meta" utype="adhoc:service"`` describing SODA's sync cutouts: its
    standard, address and parameters (``ID`` taken from the row, ``CIRCLE``, ``POS``)."""
    url = f"{base_url.rstrip('/')}{SODA_PATH}"
    return (
        f'<RESOURCE type="meta" utype="adhoc:service" ID="{SODA_DESCRIPTOR_ID}">\n'
        f'  <PARAM name="standardID" datatype="char" arraysize="*" value="{SODA_ID}"/>\n'
        f'  <PARAM name="accessURL" datatype="char" arraysize="*" value={attribute(url)}/>\n'
        '  <GROUP name="inputParams">\n'
        '    <PARAM name="ID" datatype="char" arraysize="*" ucd="meta.id;meta.main" '
        'ref="ID" value=""/>\n'
        '    <PARAM name="CIRCLE" datatype="double" arraysize="3" xtype="circle" unit="deg" '
        'ucd="obs.field" value="">\n'
        "      <DESCRIPTION>The cutout's centre and radius: ra dec radius, ICRS degrees"
        "</DESCRIPTION>\n"
        "    </PARAM>\n"
        '    <PARAM name="POS" datatype="char" arraysize="*" ucd="obs.field" value="">\n'
        "      <DESCRIPTION>CIRCLE ra dec radius, or RANGE ra1 ra2 dec1 dec2 (ICRS degrees)"
        "</DESCRIPTION>\n"
        "    </PARAM>\n"
        "  </GROUP>\n"
        "</RESOURCE>\n"
    )


def links_votable(found: Sequence[Link], *, base_url: str, fmt: str) -> bytes:
    """The links document; the SODA descriptor is added when a ``#cutout`` row names it."""
    descriptors = [soda_descriptor(base_url)] if any(link.service_def for link in found) else []
    return results_votable(
        FIELDS, [link.row() for link in found], fmt=fmt, extra_resources=descriptors
    )


def capabilities() -> list[Capability]:
    """DataLink's VOSI capabilities (its own and its VOSI endpoints)."""
    links_capability = Capability(
        DATALINK_ID, (Interface(DATALINK_PATH, version="1.1", result_type=DATALINK_MEDIA_TYPE),)
    )
    return [links_capability, *vosi_capabilities(DATALINK_PATH)]
