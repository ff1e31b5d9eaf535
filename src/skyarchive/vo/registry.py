"""The archive's IVOA registry record (``/vo/registry``): one VODataService ``CatalogService``.

A publishing registry harvests this document: who publishes the archive and whom to ask
(operator settings ``vo_title``, ``vo_publisher``, ``vo_contact_name``,
``vo_contact_email``), what it holds, where each VO service answers (TAP, SIAv2, cone search,
DataLink, SODA) and the sky it covers (the archive's MOC, in VODataService 1.2's ASCII form).
The resource's identifier is ``ivo://<vo_authority>/archive``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree.ElementTree import Element, SubElement

from skyarchive.config import Settings
from skyarchive.vo import datalink, scs, soda
from skyarchive.vo.identifiers import SIA_PATH
from skyarchive.vo.tap import DEFAULT_MAXREC
from skyarchive.vo.tap_vosi import tap_capabilities
from skyarchive.vo.vosi import (
    SIA2_ID,
    Capability,
    Interface,
    capability_element,
    xml_document,
)

RESOURCE_KEY = "archive"
#: When the registry record's content last changed in form (VOResource's ``created``).
CREATED = "2026-12-03T00:00:00Z"


def resource_identifier(authority: str) -> str:
    """The IVOA identifier of the archive itself."""
    return f"ivo://{authority}/{RESOURCE_KEY}"


def service_capabilities(settings: Settings) -> list[Capability]:
    """Every VO service of the archive, as the registry describes it."""
    tap = tap_capabilities(default_maxrec=DEFAULT_MAXREC, hard_maxrec=settings.tap_sync_maxrec)[0]
    sia = Capability(SIA2_ID, (Interface(SIA_PATH, version="2.0"),))
    return [
        tap,
        sia,
        scs.registry_capability(),
        datalink.capabilities()[0],
        soda.capabilities()[0],
    ]


def registry_record(settings: Settings, *, base_url: str, moc_ascii: str) -> bytes:
    """The VOResource document of the archive reached at ``base_url``.

    ``moc_ascii`` is the archive's coverage in MOC ASCII form (``vo/moc.py``).
    """
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    root = Element(
        "ri:Resource",
        {"xsi:type": "vs:CatalogService", "created": CREATED, "updated": now, "status": "active"},
    )
    SubElement(root, "title").text = settings.vo_title
    SubElement(root, "shortName").text = "skyarchive"
    SubElement(root, "identifier").text = resource_identifier(settings.vo_authority)
    curation = SubElement(root, "curation")
    SubElement(curation, "publisher").text = settings.vo_publisher
    contact = SubElement(curation, "contact")
    SubElement(contact, "name").text = settings.vo_contact_name
    SubElement(contact, "email").text = settings.vo_contact_email or settings.mail_from
    content = SubElement(root, "content")
    for subject in ("Astronomical databases", "Space telescopes", "Infrared astronomy"):
        SubElement(content, "subject").text = subject
    SubElement(content, "description").text = (
        "Observations of the James Webb Space Telescope (and related HST and Spitzer data) "
        "held by this archive: ObsCore over TAP, image search (SIAv2), cone search over "
        "observations, DataLink and SODA cutouts per product. Files in their "
        "exclusive-access period are served to the program's PI and those the PI authorised."
    )
    SubElement(content, "referenceURL").text = f"{base_url.rstrip('/')}/"
    SubElement(content, "type").text = "Archive"
    SubElement(content, "contentLevel").text = "Research"
    for capability in service_capabilities(settings):
        root.append(capability_element(base_url, capability))
    SubElement(root, "facility").text = "JWST"
    coverage = SubElement(root, "coverage")
    SubElement(coverage, "spatial").text = moc_ascii.strip()
    SubElement(coverage, "waveband").text = "Infrared"
    return xml_document(root)
