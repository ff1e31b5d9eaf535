"""VOSI documents every VO service answers: ``capabilities`` and ``availability``.

Each service (TAP, SIAv2, cone search, DataLink, SODA) describes itself as a list of
:class:`Capability` values and hands them to :func:`capabilities_xml`; the document names the
service's own VOSI endpoints too (:func:`vosi_capabilities`), so a client reading one
capabilities document finds them. :func:`availability_xml` is the VOSI-availability answer,
from one trivial query on the catalogue (:func:`catalogue_availability`).

A capability whose standard defines extra elements (TAPRegExt's ``language``,
``outputFormat``, ...) passes them as :class:`Element` trees in ``details``: unqualified
names, as the VOResource schemas want for child elements, and ``xsi:type`` values with the
prefixes of :data:`NAMESPACES`, all declared on the root. Access URLs are absolute:
the face gives the public base URL of the request (``api/urls.py``) and each interface its path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.etree.ElementTree import Element, SubElement, tostring

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

#: Prefix → namespace of every element or type a capabilities document here may use.
NAMESPACES = {
    "vosi": "http://www.ivoa.net/xml/VOSICapabilities/v1.0",
    "avail": "http://www.ivoa.net/xml/VOSIAvailability/v1.0",
    "vr": "http://www.ivoa.net/xml/VOResource/v1.0",
    "vs": "http://www.ivoa.net/xml/VODataService/v1.1",
    "tr": "http://www.ivoa.net/xml/TAPRegExt/v1.0",
    "cs": "http://www.ivoa.net/xml/ConeSearch/v1.0",
    "sia": "http://www.ivoa.net/xml/SIA/v1.1",
    "ri": "http://www.ivoa.net/xml/RegistryInterface/v1.0",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
#: The attribute naming an extended type. Names are written with their prefixes as they
#: stand (``vs:ParamHTTP`` is a QName inside an attribute value, which ElementTree's namespace
#: handling cannot see), and every prefix is declared once on the root element.
XSI_TYPE = "xsi:type"
#: Prefixes every document declares on its root, for ``xsi:type`` values.
EXTENSION_PREFIXES = ("ri", "vr", "vs", "tr", "cs", "sia", "xsi")
#: Media type of both VOSI documents.
VOSI_MEDIA_TYPE = "text/xml; charset=utf-8"

#: Standard identifiers of the VOSI endpoints themselves.
VOSI_CAPABILITIES_ID = "ivo://ivoa.net/std/VOSI#capabilities"
VOSI_AVAILABILITY_ID = "ivo://ivoa.net/std/VOSI#availability"
VOSI_TABLES_ID = "ivo://ivoa.net/std/VOSI#tables-1.1"

#: Standard identifiers of the services this archive runs (for ``Capability.standard_id``).
TAP_ID = "ivo://ivoa.net/std/TAP"
SIA2_ID = "ivo://ivoa.net/std/SIA#query-2.0"
CONE_ID = "ivo://ivoa.net/std/ConeSearch"
DATALINK_ID = "ivo://ivoa.net/std/DataLink#links-1.1"
SODA_ID = "ivo://ivoa.net/std/SODA#sync-1.0"


@dataclass(frozen=True)
class Interface:
    """One way to reach a capability: an HTTP endpoint at ``path`` below the base URL.

    ``param_http`` interfaces (the DAL services) say how they are queried; the VOSI endpoints
    themselves are plain ``vs:ParamHTTP`` GETs too. ``role="std"`` marks the interface the
    standard defines (what pyvo and TOPCAT look for).
    """

    path: str
    version: str | None = None
    role: str | None = "std"
    use: str = "full"
    query_types: tuple[str, ...] = ("GET",)
    result_type: str | None = None


@dataclass(frozen=True)
class Capability:
    """One ``capability`` element: what a service is (``standard_id``) and where it answers.

    ``xsi_type`` names an extended capability type (``tr:TableAccess`` for TAP); ``details``
    are the extension's own elements, written after the interfaces in the order given.
    """

    standard_id: str
    interfaces: tuple[Interface, ...]
    xsi_type: str | None = None
    description: str | None = None
    details: Sequence[Element] = field(default_factory=tuple)


def vosi_capabilities(base_path: str, *, tables: bool = False) -> list[Capability]:
    """The capabilities of a service's own VOSI endpoints below ``base_path``."""
    found = [
        Capability(VOSI_CAPABILITIES_ID, (Interface(f"{base_path}/capabilities", role=None),)),
        Capability(VOSI_AVAILABILITY_ID, (Interface(f"{base_path}/availability", role=None),)),
    ]
    if tables:
        found.append(Capability(VOSI_TABLES_ID, (Interface(f"{base_path}/tables", role=None),)))
    return found


def capabilities_xml(base_url: str, capabilities: Sequence[Capability]) -> bytes:
    """The VOSI ``capabilities`` document (UTF-8 XML) of ``capabilities`` reached at ``base_url``.

    Parameters
    ----------
    base_url
        The public root of the server, without a trailing slash (``http://host:8000``).
    capabilities
        The service's capabilities, its VOSI endpoints included (:func:`vosi_capabilities`).
    """
    root = Element("vosi:capabilities", {"xmlns:vosi": NAMESPACES["vosi"]})
    for capability in capabilities:
        root.append(capability_element(base_url, capability))
    return xml_document(root)


def capability_element(base_url: str, capability: Capability) -> Element:
    """One ``capability`` element (VOResource), for a capabilities document or a registry
    record (``vo/registry.py``)."""
    element = Element("capability", {"standardID": capability.standard_id})
    if capability.xsi_type:
        element.set(XSI_TYPE, capability.xsi_type)
    if capability.description:
        SubElement(element, "description").text = capability.description
    for interface in capability.interfaces:
        element.append(_interface_element(base_url, interface))
    for detail in capability.details:
        element.append(detail)
    return element


def _interface_element(base_url: str, interface: Interface) -> Element:
    element = Element("interface", {XSI_TYPE: "vs:ParamHTTP"})
    if interface.role:
        element.set("role", interface.role)
    if interface.version:
        element.set("version", interface.version)
    url = SubElement(element, "accessURL", {"use": interface.use})
    url.text = f"{base_url.rstrip('/')}{interface.path}"
    for query_type in interface.query_types:
        SubElement(element, "queryType").text = query_type
    if interface.result_type:
        SubElement(element, "resultType").text = interface.result_type
    return element


@dataclass(frozen=True)
class Availability:
    """Whether a service answers now, with a note saying why not (or since when it does)."""

    available: bool
    note: str
    up_since: datetime | None = None


#: When this process started serving: VOSI's ``upSince``.
PROCESS_STARTED = datetime.now(UTC)


def catalogue_availability(engine: Engine) -> Availability:
    """Available when the catalogue answers one trivial query; any failure means it is down.

    The failure's text is not shown (it may name hosts or credentials): the note says only
    that the catalogue did not answer.
    """
    try:
        with engine.connect() as conn:
            conn.execute(select(1)).scalar_one()
    except SQLAlchemyError:
        return Availability(False, "The archive's catalogue does not answer; try again later.")
    return Availability(True, "The service is accepting queries.", PROCESS_STARTED)


def availability_xml(state: Availability) -> bytes:
    """The VOSI ``availability`` document (UTF-8 XML)."""
    root = Element("avail:availability", {"xmlns:avail": NAMESPACES["avail"]})
    SubElement(root, "avail:available").text = "true" if state.available else "false"
    if state.up_since is not None:
        since = state.up_since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        SubElement(root, "avail:upSince").text = since
    SubElement(root, "avail:note").text = state.note
    return xml_document(root)


def xml_document(root: Element) -> bytes:
    """``root`` as a UTF-8 XML document, every extension prefix declared on it."""
    for prefix in EXTENSION_PREFIXES:
        root.set(f"xmlns:{prefix}", NAMESPACES[prefix])
    text = tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + text).encode("utf-8")
