"""The columns of MAST's JWST instrument-keyword tables (``Mast.Jwst.Filtered.*``).

One row per FITS file: identity columns, one column per primary-header keyword (the keyword
lower-cased, ``-`` written ``_``; every date keyword with an ``_mjd`` twin), a block per
instrument, then the archive's own facts about the file. Names and order are MAST's, so
scripts written against MAST ask for the same columns here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from skyarchive.db.tables import EXPOSURE_NAME_LENGTH
from skyarchive.search.columns import ColumnInfo

IDENTITY = "ArchiveFileID filename fileSetName productLevel"

# Primary-header keywords every instrument's table carries, in MAST's order; ``date``-type
# keywords are followed by their ``_mjd`` twin.
COMMON_KEYWORDS = """
act_id apername asnpool asntable bartdelt bendtime bkgdtarg bkglevel bkgsub bmidtime bstrtime
category cont_id datamode dataprob date date_mjd date_end date_end_mjd date_obs date_obs_mjd
detector drpfrms1 drpfrms3 duration effexptm effinttm eng_qual exp_type expcount expend expmid
exposure expripar expstart fastaxis filter frmdivsr gainfact gdstarid groupgap gs_dec gs_mag
gs_order gs_ra gsendtim gsendtim_mjd gsstrttm gsstrttm_mjd gs_udec gs_umag gs_ura helidelt
hendtime hga_move hmidtime hstrtime instrume intarget is_psf lamp mu_dec mu_epoch mu_epoch_mjd
mu_ra nexposur nextend nframes ngroups nints nresets nrststrt nsamples numdthpt nwfsest obs_id
observtn obslabel origin pcs_mode pi_name pps_aper prd_ver program prop_dec prop_ra pwfseet
readpatt sca_num scicat sdp_ver selfref seq_id slowaxis subarray subcat subsize1 subsize2
substrt1 substrt2 targ_dec targ_ra targname targoopp targprop targtype targudec targura
telescop template tframe tgroup timesys title tsample tsovisit visit visit_id visitend
visitend_mjd visitgrp visitsta visitype vststart vststart_mjd xoffset yoffset zerofram errtype
rois roiw wpower wtype datamodl exp_only exsegnum exsegtot intstart intend date_beg date_beg_mjd
obsfoldr sctarate opmode osf_file expsteng expsteng_mjd masterbg scatfile srctyapt tcatfile
texptime patt_num pattsize patttype pridtpts subpxpts crowdfld engqlptg oss_ver noutputs
gs_v3_pa dirimage pixfrac pxsclrt segmfile va_dec va_ra compress bkgmeth targcat targdesc
gsc_ver primecrs extncrs cal_ver cal_vcs crds_ctx crds_ver
"""

INSTRUMENT_KEYWORDS = {
    "NIRCAM": "channel coronmsk module pupil pilin pridtype smgrdpat subpxpat",
    "NIRISS": "focuspos fwcpos pupil pwcpos nrimdtpt",
    "NIRSPEC": "fxd_slit focuspos grating gwa_pxav gwa_pyav gwa_tilt gwa_xp_v gwa_xtilt gwa_yp_v "
    "gwa_ytilt is_imprt msaconid msametfl msametid msastate nod_type nrs_norm nrs_ref pattstrt "
    "preimage rma_pos fcsrlpos dithpnts spat_num spec_num subpxpat",
    "MIRI": "band cccstate channel cmd_tsel coronmsk detmode mirnfrms mirngrps numdsets dithopfr "
    "mrsprchn dithpnts sptoffst spat_num spatstep spatnstp spcoffst spec_num specstep specnstp "
    "pattstrt dsetstrt pattnpts",
    "FGS": "focuspos",
    "GUIDESTAR": "",
}

ARCHIVE = """
fileSize checksum ingestStartDate ingestStartDate_mjd ingestCompletionDate
ingestCompletionDate_mjd FileTypeID publicReleaseDate publicReleaseDate_mjd isRestricted isItar
isStale FileSetId dataURI
"""


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_INTEGER = _words(
    """ArchiveFileID fileSize bartdelt cont_id datamode drpfrms1 drpfrms3 expcount exsegnum
    exsegtot frmdivsr gs_order groupgap helidelt intend intstart mirnfrms mirngrps nexposur
    nextend nframes ngroups nints noutputs nresets nrststrt nsamples numdsets numdthpt nwfsest
    observtn patt_num pridtpts program rois roiw sca_num spat_num spec_num subpxpts subsize1
    subsize2 substrt1 substrt2 visit"""
)
_FLOAT = _words(
    """bendtime bkglevel bmidtime bstrtime duration effexptm effinttm expend expmid expstart
    gainfact gs_dec gs_mag gs_ra gs_udec gs_umag gs_ura gs_v3_pa gwa_pxav gwa_pyav gwa_tilt
    gwa_xp_v gwa_xtilt gwa_yp_v gwa_ytilt hendtime hmidtime hstrtime mu_dec mu_ra pixfrac
    prop_dec prop_ra pxsclrt rma_pos sctarate targ_dec targ_ra targudec targura texptime tframe
    tgroup tsample va_dec va_ra xoffset yoffset fwcpos pwcpos focuspos fcsrlpos"""
)
_BOOLEAN_KEYWORDS = _words(
    """bkgdtarg dataprob hga_move intarget targoopp tsovisit zerofram exp_only compress
    crowdfld is_psf is_imprt"""
)
_ARCHIVE_FLAGS = {"isRestricted", "isItar", "isStale"}
# Dates MAST writes as /Date(ms)/ with an ``_mjd`` twin holding the same instant.
DATES = {
    name[: -len("_mjd")] for name in (COMMON_KEYWORDS + ARCHIVE).split() if name.endswith("_mjd")
}


# Equal only to itself: a table's columns are made once (table_columns is cached), and the
# plans and field lists cached by a choice of columns are looked up on every request, where
# hashing some 250 columns field by field cost more than the rest of the look-up.
@dataclass(frozen=True, eq=False)
class KeywordColumn:
    info: ColumnInfo
    keyword: str | None  # the FITS keyword it shows; None for identity and archive columns
    date_of: str | None = None  # for an ``_mjd`` twin: the date column it converts


def _keyword_of(name: str) -> str:
    # FITS writes DATE-OBS, DATE-BEG, ...; the archive's column names use "_" for every "-".
    if name.startswith(("date_", "time_")):
        return name.upper().replace("_", "-", 1)
    return name.upper()


def _type_of(name: str) -> str:
    if name in _INTEGER:
        return "int"
    if name in _FLOAT or name.endswith("_mjd"):
        return "float"
    if name in _ARCHIVE_FLAGS or name in _BOOLEAN_KEYWORDS:
        return "boolean"
    return "string"


def _column(name: str, *, keyword: bool) -> KeywordColumn:
    date_of = name[: -len("_mjd")] if name.endswith("_mjd") and name[:-4] in DATES else None
    info = ColumnInfo(name, _type_of(name), name, f"JWST keyword table column {name}")
    fits = _keyword_of(date_of or name) if keyword else None
    return KeywordColumn(info, fits, date_of)


@cache
def table_columns(instrument: str) -> tuple[KeywordColumn, ...]:
    """The columns of one instrument's table (``NIRCAM`` ... ``FGS``, or ``GUIDESTAR``)."""
    common = COMMON_KEYWORDS.split()
    extra = [n for n in INSTRUMENT_KEYWORDS[instrument].split() if n not in common]
    return (
        *(_column(n, keyword=False) for n in IDENTITY.split()),
        *(_column(n, keyword=True) for n in common + extra),
        *(_column(n, keyword=False) for n in ARCHIVE.split()),
    )


@cache
def columns_by_name(instrument: str) -> dict[str, KeywordColumn]:
    """The table's columns by lower-cased name (names are matched ignoring case)."""
    return {column.info.name.lower(): column for column in table_columns(instrument)}


# A file's product level and file-set name, as its row shows them (and as the product writer
# stores them, keyword_rows.archive_members). Criteria find files by them in SQL
# (``keyword_search.product_level_sql``, ``file_set_name_sql``, built from the same
# constants); tests/search/test_keyword_store.py holds the two equal on every file of an
# archive and on names the demo has none of.
LEVEL_2A = ("RAMP", "RATE", "RATEINTS", "TRAPSFILLED")
LEVEL_2C = ("CRF", "CRFINTS")
#: A guide star's files have a subgroup beginning with this (case by case): the keyword
#: listing's ``GUIDESTAR`` table, and no MastMissions dataset (``keyword_search.guide_star_sql``).
GUIDE_STAR_SUBGROUP = "GS-"
GUIDE_STAR_SUFFIXES = ("image-uncal", "stacked-uncal", "image-cal", "stacked-cal", "uncal",
                       "cal", "stream")  # fmt: skip


def product_level(calib_level: int | None, subgroup: str | None) -> str:
    """A file's JWST product level: ``1b``, ``2a``, ``2b``, ``2c`` or ``3``."""
    if calib_level == 3:
        return "3"
    if calib_level == 1:
        return "1b"
    kind = (subgroup or "").upper()
    return "2a" if kind in LEVEL_2A else "2c" if kind in LEVEL_2C else "2b"


def is_guide_star(subgroup: str | None) -> bool:
    """Whether a file of ``subgroup`` is a guide star's."""
    return (subgroup or "").startswith(GUIDE_STAR_SUBGROUP)


def file_set_name(
    filename: str, calib_level: int | None, subgroup: str | None, owner_obs_id: str | None
) -> str | None:
    """The file set a file belongs to: a level-3 file's observation (``owner_obs_id``), a
    guide-star file's name without its product suffix, else its exposure."""
    if calib_level == 3:
        return owner_obs_id
    if is_guide_star(subgroup):
        for suffix in GUIDE_STAR_SUFFIXES:
            if filename.endswith(f"_{suffix}.fits"):
                return filename[: -len(suffix) - len("_.fits")]
        return filename
    return filename[:EXPOSURE_NAME_LENGTH]
