"""Simple Cone Search over observations: the MAST API's cone search, answered as SCS VOTables.

The cone is matched by the archive's one cone search (:mod:`skyarchive.search.cone` through
:func:`~skyarchive.search.observations.search_observations`: HEALPix cells, then the exact
test on the footprint), so a cone finds here exactly the observations ``Mast.Caom.Cone``
finds, nearest first. Metadata of exclusive-access observations is visible to everyone, as
in the portal; ``dataRights`` says which are.

``VERB`` chooses the columns: 1 the identifier and position, 2 the columns the portal shows
by default, 3 every observation column. Exactly one column carries each of the UCDs SCS asks
for: ``obs_id`` ``meta.id;meta.main``, ``s_ra`` ``pos.eq.ra;meta.main`` and ``s_dec``
``pos.eq.dec;meta.main``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.etree.ElementTree import Element, SubElement
from xml.sax.saxutils import quoteattr

from sqlalchemy import Connection

from skyarchive.errors import BadQuery
from skyarchive.search.columns import DISTANCE, OBSERVATION_COLUMNS, ColumnInfo
from skyarchive.search.cone import Cone
from skyarchive.search.observations import ObservationQuery, search_observations
from skyarchive.sky.angles import MAX_RADIUS_DEG
from skyarchive.vo.identifiers import CONE_PATH
from skyarchive.vo.vosi import CONE_ID, Capability, Interface, vosi_capabilities
from skyarchive.vo.votable_errors import error_votable
from skyarchive.vo.votables import FieldSpec, results_votable

#: Rows one answer holds unless ``MAXREC`` asks for fewer, and the most it may ask for.
DEFAULT_MAXREC = 10_000
MAX_MAXREC = 100_000
#: Largest search radius (degrees), as the MAST API's cone search.
MAX_SR_DEG = MAX_RADIUS_DEG

_MAIN_UCDS = {
    "obs_id": "meta.id;meta.main",
    "s_ra": "pos.eq.ra;meta.main",
    "s_dec": "pos.eq.dec;meta.main",
}
_VERB1 = ("obs_id", "s_ra", "s_dec")
#: VOTable datatypes of MAST's wire types, and our units as VOUnits.
_DATATYPES = {"float": "double", "int": "long", "boolean": "boolean", "string": "char"}
_VO_UNITS = {"sec": "s", "bytes": "byte", "MJD": "d"}


@dataclass(frozen=True)
class ConeRequest:
    """A parsed cone search: the cone (degrees), the verbosity and the row limit."""

    cone: Cone
    verb: int = 2
    maxrec: int = DEFAULT_MAXREC


def parse_request(
    ra: str | None, dec: str | None, sr: str | None, verb: str | None, maxrec: str | None
) -> ConeRequest:
    """The cone search the SCS parameters ask for.

    Parameters
    ----------
    ra, dec
        The centre, ICRS decimal degrees (``RA`` in [0, 360], ``DEC`` in [-90, 90]).
    sr
        The radius in degrees, in [0, ``MAX_SR_DEG``].
    verb
        1, 2 or 3 (default 2).
    maxrec
        Most rows to return, 0 for the table's description alone (default ``DEFAULT_MAXREC``).

    Raises
    ------
    BadQuery
        A missing, non-numeric or out-of-range parameter, named with its value.
    """
    centre_ra = _number("RA", ra, 0.0, 360.0)
    centre_dec = _number("DEC", dec, -90.0, 90.0)
    radius = _number("SR", sr, 0.0, MAX_SR_DEG)
    level = 2 if verb is None or not verb.strip() else _integer("VERB", verb, 1, 3)
    limit = (
        DEFAULT_MAXREC
        if maxrec is None or not maxrec.strip()
        else _integer("MAXREC", maxrec, 0, MAX_MAXREC)
    )
    return ConeRequest(Cone(centre_ra % 360.0, centre_dec, radius), level, limit)


def _number(name: str, given: str | None, low: float, high: float) -> float:
    if given is None or not given.strip():
        raise BadQuery(f"{name} is required: the cone's centre RA, DEC and radius SR in degrees.")
    try:
        value = float(given)
    except ValueError:
        raise BadQuery(f"{name} {given[:40]!r} is not a number of degrees.") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise BadQuery(f"{name} {given[:40]} is outside [{low:g}, {high:g}] degrees.")
    return value


def _integer(name: str, given: str, low: int, high: int) -> int:
    try:
        value = int(given.strip())
    except ValueError:
        raise BadQuery(f"{name} {given[:40]!r} is not a whole number.") from None
    if not low <= value <= high:
        raise BadQuery(f"{name} {value} is outside [{low}, {high}].")
    return value


def columns_for(verb: int) -> list[ColumnInfo]:
    """The observation columns a ``VERB`` level answers, in MAST's order, then ``distance``."""
    if verb == 1:
        chosen = [c for c in OBSERVATION_COLUMNS if c.name in _VERB1]
    elif verb == 2:
        chosen = [c for c in OBSERVATION_COLUMNS if c.visible or c.name in _VERB1]
    else:
        chosen = list(OBSERVATION_COLUMNS)
    return [*chosen, DISTANCE]


def field_spec(column: ColumnInfo) -> FieldSpec:
    """The VOTable FIELD of an observation column; only the three SCS columns are ``main``."""
    ucd = _MAIN_UCDS.get(column.name)
    if ucd is None and column.ucd:
        ucd = ";".join(part for part in column.ucd.split(";") if part != "meta.main")
    unit = _VO_UNITS.get(column.unit, column.unit) if column.unit else None
    return FieldSpec(
        column.name,
        _DATATYPES.get(column.type, "char"),
        ucd=ucd or None,
        unit=unit,
        description=column.description,
    )


def cone_search(conn: Connection, request: ConeRequest, *, now: float, fmt: str) -> bytes:
    """The SCS answer: the observations the cone touches, nearest first, as a VOTable.

    ``now`` (MJD) decides ``dataRights``; ``fmt`` is ``tabledata`` or ``binary2``. One row
    more than ``MAXREC`` is read to tell whether the answer overflows.
    """
    columns = columns_for(request.verb)
    fields = [field_spec(c) for c in columns]
    if request.maxrec == 0:
        return results_votable(fields, [], fmt=fmt, overflow=True)
    query = ObservationQuery(
        cone=request.cone, columns=[c.name for c in columns], pagesize=request.maxrec + 1
    )
    page = search_observations(conn, query, now=now)
    rows = [tuple(row.get(c.name) for c in columns) for row in page.rows]
    overflow = len(rows) > request.maxrec
    return results_votable(fields, rows[: request.maxrec], fmt=fmt, overflow=overflow)


def scs_error_votable(message: str) -> bytes:
    """The cone search's error document: DALI's ``QUERY_STATUS`` ERROR, and SCS 1.03's
    ``INFO name="Error"`` below the root, where pyvo's and TOPCAT's cone search read it."""
    legacy = f'  <INFO name="Error" value={quoteattr(message)}/>\n  <RESOURCE'
    return error_votable(message).replace(b"  <RESOURCE", legacy.encode("utf-8"), 1)


def capabilities() -> Sequence[Capability]:
    """The cone search's VOSI capabilities (its own and its VOSI endpoints)."""
    cone = Capability(
        CONE_ID,
        (Interface(CONE_PATH, version="1.03", result_type="application/x-votable+xml"),),
    )
    return [cone, *vosi_capabilities(CONE_PATH)]


def registry_capability() -> Capability:
    """The cone search as the registry record describes it: SimpleDALRegExt's
    ``cs:ConeSearch`` with its largest radius and answer, verbosity and a test query."""
    radius = Element("maxSR")
    radius.text = f"{MAX_SR_DEG:g}"
    records = Element("maxRecords")
    records.text = str(MAX_MAXREC)
    verbosity = Element("verbosity")
    verbosity.text = "true"
    test = Element("testQuery")
    SubElement(test, "ra").text = "283.396"
    SubElement(test, "dec").text = "33.029"
    SubElement(test, "sr").text = "0.01"
    base = capabilities()[0]
    return Capability(
        base.standard_id,
        base.interfaces,
        xsi_type="cs:ConeSearch",
        details=(radius, records, verbosity, test),
    )
