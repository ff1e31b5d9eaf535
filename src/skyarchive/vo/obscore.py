"""``ivoa.obscore`` (ObsCore 1.1): one row per science product level of an observation.

**What a row is.** As CADC's ObsCore has one row per CAOM *plane*, ours has one row per
*product level*: an observation together with a calibration level at which it owns science
files (``products.productType = 'SCIENCE'``, the files whose ``owner_obsid`` is the
observation; a file shared with other observations counts once, under its owner). An
exposure that reached level 2 has two rows (its level-1 ``uncal`` and its level-2
``rate``/``cal`` files), a level-3 combined observation one. Planned observations, and
observations without science files, have none.

**The file that stands for a level** gives the row its ``obs_publisher_did`` (and through it
``access_url``, a DataLink document that lists the level's other files): the first of the
level's Minimum Recommended Products by file name, else the first science file by name. It
is chosen in SQL per row, so a row read by a cone costs a few index probes.

**Rights.** ``data_rights`` is ``public`` once the observation's release date has passed,
else ``proprietary``, decided by :func:`skyarchive.access.rights.released_clause` at query
time (never stored); ``obs_release_date`` is that release date. Every caller sees every row,
as in the portal: who may retrieve a file is DataLink's and the delivery's business.

**Not a database VIEW.** The rows are a subquery the translator selects from; both backends
flatten it into the query (docs/vo.md has the plans and the timing). It takes the moment and
the authority as values of the query, which a VIEW could not without a migration per
authority, and a schema change of the catalog changes it in the same commit.
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    String,
    Subquery,
    and_,
    bindparam,
    case,
    cast,
    column,
    literal,
    select,
    true,
)

from skyarchive.access.rights import released_clause
from skyarchive.db.tables import observations, products
from skyarchive.vo.identifiers import PRODUCT_RESOURCE
from skyarchive.vo.tap_columns import NOW_PARAMETER, QueryContext, TapColumn, TapTable
from skyarchive.vo.tap_sql import constant_rows, mjd_to_timestamp

ACCESS_FORMAT = "application/x-votable+xml;content=datalink"
MRP_GROUP = "Minimum Recommended Products"
#: ObsCore's calibration levels (0 raw instrument data ... 4 analysis products).
CALIB_LEVELS = (0, 1, 2, 3, 4)
_NM_TO_M = 1e-9
#: The hidden column through which footprint tests reach the observation of a row.
OBSID = "_obsid"


def _c(name: str, datatype: str, description: str, **kw: object) -> TapColumn:
    return TapColumn(name, datatype, description, std=True, **kw)  # type: ignore[arg-type]


_TEXT = {"arraysize": "*"}

COLUMNS: tuple[TapColumn, ...] = (
    _c("dataproduct_type", "char", "Data product type (image, cube, spectrum, timeseries, ...)",
       ucd="meta.code.class", utype="obscore:ObsDataset.dataProductType", principal=True,
       **_TEXT),
    _c("dataproduct_subtype", "char", "The kind of file that stands for the level (CAL, I2D...)",
       ucd="meta.code.class", utype="obscore:ObsDataset.dataProductSubtype", **_TEXT),
    _c("calib_level", "short", "Calibration level of the product (1 raw, 2 calibrated, 3 "
       "combined)", ucd="meta.code;obs.calib", utype="obscore:ObsDataset.calibLevel",
       principal=True),
    _c("obs_collection", "char", "Name of the data collection (JWST, HST, ...)",
       ucd="meta.id", utype="obscore:DataID.Collection", principal=True, indexed=True, **_TEXT),
    _c("obs_id", "char", "Observation identifier (MAST's obs_id)", ucd="meta.id",
       utype="obscore:DataID.observationID", principal=True, **_TEXT),
    _c("obs_publisher_did", "char", "IVOA publisher DID of the file that stands for the level",
       ucd="meta.ref.ivoid", utype="obscore:Curation.PublisherDID", principal=True, **_TEXT),
    _c("access_url", "char", "DataLink document of the product (its files, previews, cutouts)",
       ucd="meta.ref.url", utype="obscore:Access.Reference", principal=True,
       select_only=True, conversion="datalink", **_TEXT),
    _c("access_format", "char", "Format of what access_url returns", ucd="meta.code.mime",
       utype="obscore:Access.Format", principal=True, **_TEXT),
    _c("access_estsize", "long", "Size of the file that stands for the level",
       unit="kbyte", ucd="phys.size;meta.file", utype="obscore:Access.Size", principal=True),
    _c("target_name", "char", "Name of the observed target", ucd="meta.id;src",
       utype="obscore:Target.Name", principal=True, indexed=True, **_TEXT),
    _c("target_class", "char", "Class of the target", ucd="src.class",
       utype="obscore:Target.Class", **_TEXT),
    _c("s_ra", "double", "Right ascension (ICRS) of the footprint's centre", unit="deg",
       ucd="pos.eq.ra", utype="obscore:Char.SpatialAxis.Coverage.Location.Coord.Position2D"
       ".Value2.C1", principal=True, indexed=True),
    _c("s_dec", "double", "Declination (ICRS) of the footprint's centre", unit="deg",
       ucd="pos.eq.dec", utype="obscore:Char.SpatialAxis.Coverage.Location.Coord.Position2D"
       ".Value2.C2", principal=True, indexed=True),
    _c("s_fov", "double", "Diameter of the field of view", unit="deg",
       ucd="phys.angSize;instr.fov", utype="obscore:Char.SpatialAxis.Coverage.Bounds.Extent"
       ".diameter"),
    _c("s_region", "char", "Footprint on the sky (ICRS), an ADQL region (STC-S polygon)",
       ucd="pos.outline;obs.field", utype="obscore:Char.SpatialAxis.Coverage.Support.Area",
       arraysize="*", xtype="adql:REGION", principal=True, indexed=True, region=True,
       conversion="stcs"),
    _c("s_resolution", "double", "Spatial resolution", unit="arcsec",
       ucd="pos.angResolution", utype="obscore:Char.SpatialAxis.Resolution.refval.value"),
    _c("s_xel1", "long", "Number of elements along the first spatial axis", ucd="meta.number",
       utype="obscore:Char.SpatialAxis.numBins1"),
    _c("s_xel2", "long", "Number of elements along the second spatial axis",
       ucd="meta.number", utype="obscore:Char.SpatialAxis.numBins2"),
    _c("t_min", "double", "Start of the observation (MJD, UTC)", unit="d",
       ucd="time.start;obs.exposure", utype="obscore:Char.TimeAxis.Coverage.Bounds.Limits"
       ".StartTime", principal=True, indexed=True),
    _c("t_max", "double", "End of the observation (MJD, UTC)", unit="d",
       ucd="time.end;obs.exposure", utype="obscore:Char.TimeAxis.Coverage.Bounds.Limits"
       ".StopTime", principal=True),
    _c("t_exptime", "double", "Exposure time", unit="s", ucd="time.duration;obs.exposure",
       utype="obscore:Char.TimeAxis.Coverage.Support.Extent", principal=True),
    _c("t_resolution", "double", "Temporal resolution", unit="s", ucd="time.resolution",
       utype="obscore:Char.TimeAxis.Resolution.Refval.value"),
    _c("t_xel", "long", "Number of elements along the time axis", ucd="meta.number",
       utype="obscore:Char.TimeAxis.numBins"),
    _c("em_min", "double", "Shortest wavelength observed", unit="m", ucd="em.wl;stat.min",
       utype="obscore:Char.SpectralAxis.Coverage.Bounds.Limits.LoLimit", principal=True),
    _c("em_max", "double", "Longest wavelength observed", unit="m", ucd="em.wl;stat.max",
       utype="obscore:Char.SpectralAxis.Coverage.Bounds.Limits.HiLimit", principal=True),
    _c("em_res_power", "double", "Spectral resolving power", ucd="spect.resolution",
       utype="obscore:Char.SpectralAxis.Resolution.ResolPower.refVal"),
    _c("em_xel", "long", "Number of elements along the spectral axis", ucd="meta.number",
       utype="obscore:Char.SpectralAxis.numBins"),
    _c("o_ucd", "char", "UCD of the observable", ucd="meta.ucd",
       utype="obscore:Char.ObservableAxis.ucd", **_TEXT),
    _c("pol_states", "char", "Polarization states", ucd="meta.code;phys.polarization",
       utype="obscore:Char.PolarizationAxis.stateList", **_TEXT),
    _c("pol_xel", "long", "Number of polarization samples", ucd="meta.number",
       utype="obscore:Char.PolarizationAxis.numBins"),
    _c("facility_name", "char", "Observatory (JWST, HST, Spitzer)", ucd="meta.id;instr.tel",
       utype="obscore:Provenance.ObsConfig.Facility.name", principal=True, **_TEXT),
    _c("instrument_name", "char", "Instrument and mode (MAST's instrument_name)",
       ucd="meta.id;instr", utype="obscore:Provenance.ObsConfig.Instrument.name",
       principal=True, indexed=True, **_TEXT),
    _c("obs_title", "char", "Title of the observation or its program", ucd="meta.title;obs",
       utype="obscore:DataID.Title", **_TEXT),
    _c("proposal_id", "char", "Program (proposal) identifier", ucd="meta.id;obs.proposal",
       utype="obscore:Provenance.Proposal.identifier", indexed=True, **_TEXT),
    _c("obs_creation_date", "char", "When the file that stands for the level was made (FITS "
       "DATE)", ucd="time;meta.dataset", utype="obscore:DataID.Date", xtype="timestamp",
       **_TEXT),
    _c("publisher_id", "char", "IVOA identifier of the publisher", ucd="meta.ref.ivoid",
       utype="obscore:Curation.PublisherID", **_TEXT),
    _c("data_rights", "char", "public, or proprietary while in its exclusive-access period",
       ucd="meta.code", utype="obscore:Curation.Rights", principal=True, **_TEXT),
    _c("obs_release_date", "char", "When the data become (or became) public (UTC)",
       ucd="time.release", utype="obscore:Curation.releaseDate", xtype="timestamp",
       principal=True, **_TEXT),
)  # fmt: skip


def representative_product_id(obsid: ColumnElement[int], level: ColumnElement[int]):  # type: ignore[no-untyped-def]
    """The product that stands for an observation's level, as a correlated scalar subquery."""
    mrp = case((products.c.productGroupDescription == MRP_GROUP, 0), else_=1)
    return (
        select(products.c.product_id)
        .where(
            products.c.owner_obsid == obsid,
            products.c.calib_level == level,
            products.c.productType == "SCIENCE",
        )
        .order_by(mrp, products.c.productFilename)
        .limit(1)
        .scalar_subquery()
    )


def obscore_rows(context: QueryContext) -> Subquery:
    """The rows of ``ivoa.obscore`` as a subquery (columns named as :data:`COLUMNS`); run it
    with ``context.parameters`` (the moment that decides ``data_rights``)."""
    return _obscore_rows(context.authority)


@lru_cache(maxsize=4)
def _obscore_rows(authority: str) -> Subquery:
    # Built once per authority: SQLAlchemy takes ~1 ms per labelled expression to build,
    # more than the database takes to answer a cone.
    o = observations.alias("o")
    rep = products.alias("rep")
    levels = constant_rows("levels", [column("level", Integer)], [(lv,) for lv in CALIB_LEVELS])
    now = bindparam(NOW_PARAMETER, type_=Float)
    did_prefix = f"ivo://{authority}/{PRODUCT_RESOURCE}?"
    null_double = cast(literal(None), Float)
    null_long = cast(literal(None), Integer)
    null_text = cast(literal(None), String)
    did = literal(did_prefix, String) + rep.c.productFilename
    rows = (
        select(
            o.c.dataproduct_type.label("dataproduct_type"),
            rep.c.productSubGroupDescription.label("dataproduct_subtype"),
            levels.c.level.label("calib_level"),
            o.c.obs_collection.label("obs_collection"),
            o.c.obs_id.label("obs_id"),
            did.label("obs_publisher_did"),
            did.label("access_url"),  # made a DataLink URL at output (the base is per request)
            literal(ACCESS_FORMAT, String).label("access_format"),
            (rep.c.size // 1024).label("access_estsize"),
            o.c.target_name.label("target_name"),
            o.c.target_classification.label("target_class"),
            o.c.s_ra.label("s_ra"),
            o.c.s_dec.label("s_dec"),
            null_double.label("s_fov"),
            o.c.s_region.label("s_region"),
            null_double.label("s_resolution"),
            null_long.label("s_xel1"),
            null_long.label("s_xel2"),
            o.c.t_min.label("t_min"),
            o.c.t_max.label("t_max"),
            o.c.t_exptime.label("t_exptime"),
            null_double.label("t_resolution"),
            null_long.label("t_xel"),
            (o.c.em_min * _NM_TO_M).label("em_min"),
            (o.c.em_max * _NM_TO_M).label("em_max"),
            null_double.label("em_res_power"),
            null_long.label("em_xel"),
            null_text.label("o_ucd"),
            null_text.label("pol_states"),
            null_long.label("pol_xel"),
            o.c.obs_collection.label("facility_name"),
            o.c.instrument_name.label("instrument_name"),
            o.c.obs_title.label("obs_title"),
            o.c.proposal_id.label("proposal_id"),
            rep.c.file_date.label("obs_creation_date"),
            literal(f"ivo://{authority}", String).label("publisher_id"),
            case((released_clause(o.c.t_obs_release, now), "public"), else_="proprietary").label(
                "data_rights"
            ),
            mjd_to_timestamp(o.c.t_obs_release).label("obs_release_date"),
            o.c.obsid.label(OBSID),
        )
        .select_from(o)
        .join(levels, true())
        .join(rep, rep.c.product_id == representative_product_id(o.c.obsid, levels.c.level))
        .where(and_(o.c.status == "executed"))
    )
    return rows.subquery("obscore")


OBSCORE = TapTable(
    schema="ivoa",
    name="obscore",
    description="ObsCore 1.1: one row per science product level of each observation "
    "(an observation and a calibration level at which it has science files).",
    columns=COLUMNS,
    rows=obscore_rows,
    obsid_column=OBSID,
    position_columns=("s_ra", "s_dec"),
    utype="ivo://ivoa.net/std/ObsCore#table-1.1",
)
