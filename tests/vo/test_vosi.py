"""VOSI documents read back by pyvo's own VOSI parser, the one TOPCAT-like clients use."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from xml.etree.ElementTree import Element, SubElement, fromstring

from pyvo.io.vosi import parse_availability, parse_capabilities
from sqlalchemy import create_engine

from skyarchive.vo.vosi import (
    CONE_ID,
    VOSI_AVAILABILITY_ID,
    VOSI_CAPABILITIES_ID,
    Availability,
    Capability,
    Interface,
    availability_xml,
    capabilities_xml,
    catalogue_availability,
    vosi_capabilities,
)

BASE = "http://archive.example.org:8000"


def _cone_capabilities() -> list[Capability]:
    cone = Capability(
        CONE_ID,
        (Interface("/vo/scs", version="1.03", result_type="application/x-votable+xml"),),
    )
    return [cone, *vosi_capabilities("/vo/scs")]


def test_pyvo_reads_each_capability_with_its_absolute_url() -> None:
    parsed = parse_capabilities(io.BytesIO(capabilities_xml(BASE, _cone_capabilities())))
    by_id = {cap.standardid: cap for cap in parsed}
    assert set(by_id) == {CONE_ID, VOSI_CAPABILITIES_ID, VOSI_AVAILABILITY_ID}
    cone = by_id[CONE_ID].interfaces[0]
    assert cone.accessurls[0].content == f"{BASE}/vo/scs"
    assert cone.role == "std"
    assert by_id[VOSI_AVAILABILITY_ID].interfaces[0].accessurls[0].content == (
        f"{BASE}/vo/scs/availability"
    )


def test_extension_elements_follow_the_interfaces_with_their_type_declared() -> None:
    language = Element("language")
    SubElement(language, "name").text = "ADQL"
    SubElement(language, "version", {"ivo-id": "ivo://ivoa.net/std/ADQL#v2.1"}).text = "2.1"
    tap = Capability(
        "ivo://ivoa.net/std/TAP",
        (Interface("/vo/tap", version="1.1"),),
        xsi_type="tr:TableAccess",
        details=(language,),
    )
    root = fromstring(capabilities_xml(BASE, [tap]))
    capability = root[0]
    assert [child.tag for child in capability] == ["interface", "language"]
    assert capability.get("{http://www.w3.org/2001/XMLSchema-instance}type") == "tr:TableAccess"


def test_availability_reads_back_with_its_note_and_start() -> None:
    since = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
    document = availability_xml(Availability(True, "Fine.", since))
    parsed = parse_availability(io.BytesIO(document))
    assert parsed.available is True
    assert parsed.notes == ["Fine."]
    assert "2026-12-03T15:00:00Z" in document.decode()


def test_a_catalogue_that_does_not_answer_is_unavailable_without_its_error() -> None:
    broken = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    state = catalogue_availability(broken)
    assert state.available is False
    assert "nobody" not in state.note
    assert catalogue_availability(create_engine("sqlite://")).available is True
