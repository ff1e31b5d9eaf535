"""What the TAP service says about itself: its capabilities (TAPRegExt: ADQL with the
features we translate, output formats, row limits), its VOSI ``tables`` document (the same
descriptions TAP_SCHEMA is made of) and its DALI ``examples``.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from xml.etree.ElementTree import Element, SubElement, tostring

from skyarchive.vo.identifiers import TAP_PATH
from skyarchive.vo.tap_columns import TapTable
from skyarchive.vo.vosi import TAP_ID, XSI_TYPE, Capability, Interface, vosi_capabilities

TAPREGEXT = "ivo://ivoa.net/std/TAPRegExt"
_GEOMETRY = ("POINT", "CIRCLE", "POLYGON", "CONTAINS", "INTERSECTS", "DISTANCE", "COORD1",
             "COORD2", "COORDSYS")  # fmt: skip
_FEATURES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (f"{TAPREGEXT}#features-adqlgeo", _GEOMETRY),
    (f"{TAPREGEXT}#features-adql-string", ("LOWER", "UPPER", "ILIKE")),
    (f"{TAPREGEXT}#features-adql-sets", ("UNION", "EXCEPT", "INTERSECT")),
    (f"{TAPREGEXT}#features-adql-type", ("CAST",)),
    (f"{TAPREGEXT}#features-adql-unit", ()),
    (f"{TAPREGEXT}#features-adql-offset", ("OFFSET",)),
)
#: (MIME type, alias, TAPRegExt identifier) of each output format.
_OUTPUTS = (
    ("application/x-votable+xml", "votable", f"{TAPREGEXT}#output-votable-binary2"),
    ("application/x-votable+xml;serialization=TABLEDATA", "votable/td",
     f"{TAPREGEXT}#output-votable-td"),
    ("text/csv;header=present", "csv", None),
    ("text/tab-separated-values", "tsv", None),
)  # fmt: skip


def tap_capabilities(*, default_maxrec: int, hard_maxrec: int) -> list[Capability]:
    """The TAP capability (sync and async under one base, TAP 1.1) and its VOSI endpoints."""
    details: list[Element] = []
    model = Element("dataModel", {"ivo-id": "ivo://ivoa.net/std/ObsCore#core-1.1"})
    model.text = "ObsCore-1.1"
    details.append(model)
    language = Element("language")
    SubElement(language, "name").text = "ADQL"
    SubElement(language, "version", {"ivo-id": "ivo://ivoa.net/std/ADQL#v2.1"}).text = "2.1"
    SubElement(language, "version", {"ivo-id": "ivo://ivoa.net/std/ADQL#v2.0"}).text = "2.0"
    SubElement(language, "description").text = (
        "ADQL 2.1 translated onto the archive's catalog; geometry through its HEALPix "
        "footprint index, positions and footprints in ICRS degrees."
    )
    for feature_type, forms in _FEATURES:
        if not forms:
            continue
        features = SubElement(language, "languageFeatures", {"type": feature_type})
        for form in forms:
            SubElement(SubElement(features, "feature"), "form").text = form
    details.append(language)
    for mime, alias, ivo_id in _OUTPUTS:
        output = Element("outputFormat", {"ivo-id": ivo_id} if ivo_id else {})
        SubElement(output, "mime").text = mime
        SubElement(output, "alias").text = alias
        details.append(output)
    limit = Element("outputLimit")
    SubElement(limit, "default", {"unit": "row"}).text = str(default_maxrec)
    SubElement(limit, "hard", {"unit": "row"}).text = str(hard_maxrec)
    details.append(limit)
    tap = Capability(
        TAP_ID,
        (Interface(TAP_PATH, version="1.1", use="base", query_types=()),),
        xsi_type="tr:TableAccess",
        details=tuple(details),
    )
    examples = Capability(
        "ivo://ivoa.net/std/DALI#examples",
        (Interface(f"{TAP_PATH}/examples", role=None),),
    )
    return [tap, *vosi_capabilities(TAP_PATH, tables=True), examples]


Key = tuple[str, str, str, tuple[tuple[str, str], ...]]


def tables_xml(
    tables: Sequence[TapTable], schemas: Sequence[tuple[str, str]], *, keys: Sequence[Key]
) -> bytes:
    """The VOSI ``tables`` document (VODataService 1.1 tableset) of ``tables``."""
    root = Element(
        "vosi:tableset",
        {
            "xmlns:vosi": "http://www.ivoa.net/xml/VOSITables/v1.0",
            "xmlns:vs": "http://www.ivoa.net/xml/VODataService/v1.1",
            "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
        },
    )
    for schema_name, description in schemas:
        schema = SubElement(root, "schema")
        SubElement(schema, "name").text = schema_name
        SubElement(schema, "description").text = description
        for table in (t for t in tables if t.schema == schema_name):
            element = SubElement(schema, "table", {"type": "output"})
            SubElement(element, "name").text = table.qualified_name
            SubElement(element, "description").text = table.description
            if table.utype:
                SubElement(element, "utype").text = table.utype
            for column in table.columns:
                col = SubElement(element, "column", {"std": "true"} if column.std else {})
                SubElement(col, "name").text = column.adql_name
                SubElement(col, "description").text = column.description
                if column.unit:
                    SubElement(col, "unit").text = column.unit
                if column.ucd:
                    SubElement(col, "ucd").text = column.ucd
                if column.utype:
                    SubElement(col, "utype").text = column.utype
                attrs = {XSI_TYPE: "vs:VOTableType"}
                if column.arraysize:
                    attrs["arraysize"] = column.arraysize
                if column.xtype:
                    attrs["extendedType"] = column.xtype
                SubElement(col, "dataType", attrs).text = column.datatype
                if column.indexed:
                    SubElement(col, "flag").text = "indexed"
            for key_id, source, target, pairs in keys:
                if source != table.qualified_name:
                    continue
                foreign = SubElement(element, "foreignKey")
                SubElement(foreign, "targetTable").text = target
                for from_column, target_column in pairs:
                    fk = SubElement(foreign, "fkColumn")
                    SubElement(fk, "fromColumn").text = from_column
                    SubElement(fk, "targetColumn").text = target_column
                SubElement(foreign, "description").text = key_id
    text = tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + text).encode("utf-8")


#: (name, what it shows, ADQL) of the examples document.
EXAMPLES: tuple[tuple[str, str, str], ...] = (
    ("cone", "Products whose centre lies within 3 arcmin of the Ring Nebula (M57)",
     "SELECT TOP 100 obs_id, calib_level, instrument_name, access_url, s_ra, s_dec\n"
     "FROM ivoa.obscore\n"
     "WHERE CONTAINS(POINT('ICRS', s_ra, s_dec), CIRCLE('ICRS', 283.396, 33.029, 0.05)) = 1"),
    ("footprint", "Products whose footprint covers a position",
     "SELECT obs_id, calib_level, s_region FROM ivoa.obscore\n"
     "WHERE INTERSECTS(s_region, POINT('ICRS', 283.396, 33.029)) = 1"),
    ("public-calibrated", "Public calibrated NIRCam products, newest first",
     "SELECT TOP 20 obs_id, obs_release_date, access_url FROM ivoa.obscore\n"
     "WHERE calib_level = 2 AND data_rights = 'public'\n"
     "AND instrument_name LIKE 'NIRCAM%' ORDER BY t_min DESC"),
    ("files", "The files of one program with their observation",
     'SELECT p.productFilename, p."size", o.obs_id FROM jwst.products AS p\n'
     "JOIN jwst.observations AS o ON p.owner_obsid = o.obsid WHERE o.proposal_id = '1558'"),
)  # fmt: skip


def examples_html(base_url: str) -> bytes:
    """The DALI ``examples`` document: XHTML with RDFa, one ``query`` property per example."""
    items = []
    for name, title, adql in EXAMPLES:
        items.append(
            f'<div typeof="example" id="{name}" resource="#{name}">\n'
            f'<h2 property="name">{escape(title)}</h2>\n'
            f'<pre property="query">{escape(adql)}</pre>\n</div>'
        )
    body = "\n".join(items)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE html>\n<html xmlns="http://www.w3.org/1999/xhtml">\n'
        "<head><title>TAP examples</title></head>\n"
        f'<body vocab="http://www.ivoa.net/rdf/examples#">\n'
        f'<p>Queries for <a href="{escape(base_url)}{TAP_PATH}">this TAP service</a>.</p>\n'
        f"{body}\n</body>\n</html>\n"
    ).encode()
