"""``/vo/registry``: the archive's VOResource record, read back with ElementTree and mocpy."""

from __future__ import annotations

import io
from xml.etree import ElementTree as ET

import astropy.units as u
import httpx
import numpy as np
from mocpy import MOC
from sqlalchemy import select

from skyarchive.db.tables import observations

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
RI = "{http://www.ivoa.net/xml/RegistryInterface/v1.0}Resource"


def test_the_record_names_every_service_the_publisher_and_the_coverage(
    vo_server, demo_archive
) -> None:  # type: ignore[no-untyped-def]
    answer = httpx.get(f"{vo_server.url}/vo/registry")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/xml")
    root = ET.parse(io.BytesIO(answer.content)).getroot()
    assert root.tag == RI and root.get(XSI_TYPE) == "vs:CatalogService"
    settings = demo_archive.settings
    assert root.findtext("identifier") == f"ivo://{settings.vo_authority}/archive"
    assert root.findtext("curation/publisher") == settings.vo_publisher
    assert root.findtext("curation/contact/email") == settings.mail_from
    services = {
        cap.get("standardID"): cap.findtext("interface/accessURL")
        for cap in root.findall("capability")
    }
    assert services["ivo://ivoa.net/std/TAP"] == f"{vo_server.url}/vo/tap"
    assert services["ivo://ivoa.net/std/SIA#query-2.0"] == f"{vo_server.url}/vo/sia/query"
    assert services["ivo://ivoa.net/std/ConeSearch"] == f"{vo_server.url}/vo/scs"
    assert services["ivo://ivoa.net/std/DataLink#links-1.1"] == f"{vo_server.url}/vo/datalink/links"
    tap = next(c for c in root.findall("capability") if c.get(XSI_TYPE) == "tr:TableAccess")
    assert tap.findtext("language/name") == "ADQL"
    cone = next(c for c in root.findall("capability") if c.get(XSI_TYPE) == "cs:ConeSearch")
    assert float(cone.findtext("maxSR") or 0) > 0
    # children in the order VOResource and VODataService give them
    order = [child.tag for child in root]
    assert order.index("content") < order.index("capability") < order.index("coverage")
    moc = MOC.from_string(root.findtext("coverage/spatial") or "", format="ascii")
    with demo_archive.engine.connect() as conn:
        centres = conn.execute(
            select(observations.c.s_ra, observations.c.s_dec).where(
                observations.c.status == "executed", observations.c.s_region.is_not(None)
            )
        ).all()
    ra = np.array([c.s_ra for c in centres])
    dec = np.array([c.s_dec for c in centres])
    assert moc.contains_lonlat(ra * u.deg, dec * u.deg).all()
