# ruff: noqa: E501  (a table of column facts reads best one column per line)
"""The columns the archive serves, in MAST's order, with types, labels and descriptions.

One table of facts drives the MAST column configs, criteria validation, result typing and the
portal's grid, so all of them agree.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from skyarchive.errors import UnknownColumn


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: str  # MAST wire type: string, float, int, boolean
    label: str
    description: str
    unit: str | None = None
    separator: str | None = None
    example: str | None = None
    visible: bool = False
    facet: bool = False
    ucd: str | None = None  # IVOA UCD1+ for VOTable answers

    @property
    def continuous(self) -> bool:
        """Criteria on continuous columns are ranges; on the others, lists of values."""
        return self.type == "float"

    @property
    def numeric(self) -> bool:
        return self.type in ("float", "int")


def _c(name: str, type_: str, label: str, description: str, **extra: object) -> ColumnInfo:
    return ColumnInfo(name, type_, label, description, **extra)  # type: ignore[arg-type]


OBSERVATION_COLUMNS: tuple[ColumnInfo, ...] = (
    _c("intentType", "string", "Observation Type", "Whether the observation is science or calibration.", facet=True, ucd="meta.code"),
    _c("obs_collection", "string", "Mission", "Collection, e.g. JWST, HST.", separator=";", visible=True, facet=True, ucd="meta.id;instr.tel"),
    _c("provenance_name", "string", "Provenance Name", "Pipeline that produced the data, e.g. CALJWST; APT for planned observations.", ucd="meta.id"),
    _c("instrument_name", "string", "Instrument", "Instrument and mode, e.g. NIRCAM/IMAGE, MIRI/IFU.", visible=True, facet=True, ucd="meta.id;instr"),
    _c("project", "string", "Project", "Processing project.", separator=";", ucd="meta.id"),
    _c("filters", "string", "Filters", "Optical elements in use, ';'-separated, e.g. F170LP;G235M.", separator=";", visible=True, facet=True, ucd="instr.filter"),
    _c("wavelength_region", "string", "Waveband", "Energy band, e.g. INFRARED, OPTICAL.", separator=";", facet=True, ucd="instr.bandpass"),
    _c("target_name", "string", "Target Name", "Target name as given by the observer.", visible=True, facet=True, ucd="meta.id;src"),
    _c("target_classification", "string", "Target Classification", "Target categories, ';'-separated.", separator=";", facet=True, ucd="src.class"),
    _c("obs_id", "string", "Observation ID", "Mission observation identifier.", visible=True, example="jw01558001001_02101_00001_mirimage", ucd="meta.id"),
    _c("s_ra", "float", "RA", "Right ascension of the footprint centre (ICRS).", unit="deg", visible=True, ucd="pos.eq.ra;meta.main"),
    _c("s_dec", "float", "Dec", "Declination of the footprint centre (ICRS).", unit="deg", visible=True, ucd="pos.eq.dec;meta.main"),
    _c("dataproduct_type", "string", "Product Type", "image, spectrum, cube, timeseries ...", facet=True, ucd="meta.code.class"),
    _c("proposal_pi", "string", "Principal Investigator", "Principal investigator of the program.", facet=True, ucd="meta.id.PI"),
    _c("calib_level", "int", "Calibration Level", "-1 planned, 1 uncalibrated, 2 calibrated, 3 combined science product.", visible=True, facet=True, ucd="meta.code;obs.calib"),
    _c("t_min", "float", "Start Time", "Observation start time (MJD).", unit="MJD", visible=True, ucd="time.start;obs.exposure"),
    _c("t_max", "float", "End Time", "Observation end time (MJD).", unit="MJD", ucd="time.end;obs.exposure"),
    _c("t_exptime", "float", "Exposure Length", "Exposure time.", unit="sec", visible=True, ucd="time.duration;obs.exposure"),
    _c("em_min", "float", "Min. Wavelength", "Minimum wavelength.", unit="nm", ucd="em.wl;stat.min"),
    _c("em_max", "float", "Max. Wavelength", "Maximum wavelength.", unit="nm", ucd="em.wl;stat.max"),
    _c("obs_title", "string", "Observation Title", "Title of the program.", ucd="meta.title;obs.proposal"),
    _c("t_obs_release", "float", "Release Date", "Date the data become public (MJD).", unit="MJD", ucd="time.release"),
    _c("proposal_id", "string", "Proposal ID", "Program (proposal) identifier.", visible=True, facet=True, example="1558", ucd="meta.id;obs.proposal"),
    _c("proposal_type", "string", "Proposal Type", "Program category: GO, GTO, ERS, COM, DD, CAL ...", facet=True, ucd="meta.code;obs.proposal"),
    _c("sequence_number", "int", "Sequence Number", "Sequence number, e.g. a TESS sector.", ucd="meta.number"),
    _c("s_region", "string", "s_region", "Footprint as an STC-S region (ICRS degrees).", ucd="pos.outline;obs.field"),
    _c("jpegURL", "string", "jpegURL", "Preview image (data URI).", ucd="meta.ref.url;meta.preview"),
    _c("dataURL", "string", "dataURL", "A representative data product (data URI).", ucd="meta.ref.url"),
    _c("dataRights", "string", "Data Rights", "PUBLIC, or EXCLUSIVE_ACCESS before the release date.", visible=True, facet=True, ucd="meta.code"),
    _c("mtFlag", "boolean", "Moving Target", "True for moving targets.", ucd="meta.code"),
    _c("srcDen", "float", "Number of Catalog Objects", "Number of catalogued sources.", ucd="phys.density"),
    _c("obsid", "string", "Product Group ID", "Archive identifier of the observation; the key for product lists.", example="Long integer, e.g. 2007590987", ucd="meta.id;meta.main"),
    _c("objID", "string", "Object ID", "Archive identifier of the observation plane.", ucd="meta.id"),
)  # fmt: skip

DISTANCE = _c("distance", "float", 'Distance (")', "Angular distance from the search position to the footprint (0 inside).", unit="arcsec", ucd="pos.angDistance")  # fmt: skip
OBJID1 = _c(
    "objID1", "string", "Object ID", "Archive identifier of the observation plane.", ucd="meta.id"
)

PRODUCT_COLUMNS: tuple[ColumnInfo, ...] = (
    _c("obsID", "string", "Product Group ID", "Observation the file belongs to.", example="Long integer, e.g. 2007590987", ucd="meta.id"),
    _c("obs_collection", "string", "Mission", "Collection, e.g. JWST.", ucd="meta.id;instr.tel"),
    _c("dataproduct_type", "string", "Product Type", "image, spectrum, cube ...", ucd="meta.code.class"),
    _c("obs_id", "string", "Observation ID", "Mission observation identifier.", ucd="meta.id"),
    _c("description", "string", "Description", "What the file holds.", ucd="meta.note"),
    _c("type", "string", "Type", "S for files of one observation, D for derived (combined) files.", ucd="meta.code"),
    _c("dataURI", "string", "Data URI", "Identifier to download the file with.", ucd="meta.ref.uri;meta.main"),
    _c("productType", "string", "Product Category", "SCIENCE, AUXILIARY, PREVIEW, INFO ...", ucd="meta.code.class"),
    _c("productGroupDescription", "string", "Group", "'Minimum Recommended Products' for the files most users need.", ucd="meta.note"),
    _c("productSubGroupDescription", "string", "Product Subgroup", "File class, e.g. UNCAL, RATE, CAL, I2D, ASN.", ucd="meta.code.class"),
    _c("productDocumentationURL", "string", "Product Documentation", "Documentation link.", ucd="meta.ref.url"),
    _c("project", "string", "Project", "Processing project, e.g. CALJWST.", ucd="meta.id"),
    _c("prvversion", "string", "Provenance Version", "Pipeline version that made the file.", ucd="meta.version"),
    _c("proposal_id", "string", "Proposal ID", "Program identifier.", ucd="meta.id;obs.proposal"),
    _c("productFilename", "string", "Filename", "File name.", ucd="meta.id;meta.file"),
    _c("size", "int", "Size", "File size.", unit="bytes", ucd="phys.size;meta.file"),
    _c("parent_obsid", "string", "Parent Product Group ID", "Observation the list was requested for.", ucd="meta.id"),
    _c("dataRights", "string", "Data Rights", "PUBLIC or EXCLUSIVE_ACCESS.", ucd="meta.code"),
    _c("calib_level", "int", "Calibration Level", "1 uncalibrated, 2 calibrated, 3 combined.", ucd="meta.code;obs.calib"),
    _c("filters", "string", "Filters", "Optical elements.", ucd="instr.filter"),
)  # fmt: skip

OBSERVATION_BY_NAME = {c.name.lower(): c for c in (*OBSERVATION_COLUMNS, DISTANCE, OBJID1)}
PRODUCT_BY_NAME = {c.name.lower(): c for c in PRODUCT_COLUMNS}


def observation_column(name: str) -> ColumnInfo:
    """The observation column called ``name`` (any case); UnknownColumn with a suggestion."""
    return _lookup(name, OBSERVATION_BY_NAME)


def product_column(name: str) -> ColumnInfo:
    return _lookup(name, PRODUCT_BY_NAME)


def _lookup(name: str, table: dict[str, ColumnInfo]) -> ColumnInfo:
    found = table.get(str(name).strip().lower())
    if found is not None:
        return found
    raise UnknownColumn(
        f"Unknown column '{name}'.{did_you_mean(name, [c.name for c in table.values()])}"
    )


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """The hint naming the known name closest to ``name`` (any case), or "" when none is."""
    by_lower = {k.lower(): k for k in known}
    close = difflib.get_close_matches(str(name).strip().lower(), list(by_lower), n=1)
    return f" Did you mean '{by_lower[close[0]]}'?" if close else ""
