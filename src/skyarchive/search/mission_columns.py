"""The columns of MastMissions' ``jwst`` search: MAST's ``column_list``, all 258 entries.

The list is MAST's (recorded September 2025, mast-extras spec 2.1): the same names and
``qual_type`` values, its duplicates (``effexptm``, ``texptime``, ``gsstrttm``, ``gsendtim``
appear twice) and its odd names (``visid_id`` shows ``VISIT_ID``, ``obsfolder`` ``OBSFOLDR``,
``gs_dra`` ``GS_RA``). MAST's order is known for the first ten entries; the others follow
by type. Each header column shows a primary-header keyword of the dataset's highest-level
file: common keywords by name, instrument blocks prefixed (``nirspec_grating`` is
``GRATING``, filled only for NIRSpec datasets). A search's conditions on these columns and
its cones live here too, so the search (``missions.py``) and its SQL narrowing
(``mission_files.py``) both build on them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from typing import Any


@dataclass(frozen=True)
class MissionColumn:
    """One column of ``column_list``: name, MAST qualifier type, description."""

    name: str
    qual_type: str  # string, ustring, substring, integer, float, datetime, ra, dec
    description: str
    default: bool = False  # in the default output
    keyword: str | None = None  # the FITS keyword it shows
    queryable: bool = True
    instrument: str | None = None  # shown only for datasets of this instrument

    @property
    def numeric(self) -> bool:
        return self.qual_type in ("integer", "float", "ra", "dec")


def _col(spec: str, description: str, **extra: Any) -> MissionColumn:
    name, qual_type = spec.split(":")
    return MissionColumn(name, qual_type, description, **extra)


_DEFAULT = {"default": True}
# The archive's own columns and the most used keywords, first in MAST's order.
_EXPLICIT: tuple[MissionColumn, ...] = (
    _col("search_pos:string", "Search position (RA and Dec in degrees)", queryable=False),
    _col("ArchiveFileID:integer", "Archive id of the file set's first file", **_DEFAULT),
    _col("fileSetName:string", "Dataset id: the name all member files start with", **_DEFAULT),
    _col(
        "productLevel:string",
        "Product levels present: 1b uncal, 2a rate, 2b cal, 2c crf, 3 combined",
        **_DEFAULT,
    ),
    _col("targprop:string", "Proposer's name for the target", keyword="TARGPROP", **_DEFAULT),
    _col(
        "targname:string", "Standard astronomical catalog name for the target", keyword="TARGNAME"
    ),
    _col("targ_ra:ra", "Target RA at mid time of exposure (deg)", keyword="TARG_RA", **_DEFAULT),
    _col(
        "targ_dec:dec", "Target Dec at mid time of exposure (deg)", keyword="TARG_DEC", **_DEFAULT
    ),
    _col("instrume:string", "Instrument used to acquire the data", keyword="INSTRUME", **_DEFAULT),
    _col("exp_type:string", "Type of data in the exposure", keyword="EXP_TYPE", **_DEFAULT),
    _col(
        "opticalElements:string",
        "Comma-separated list of filters, gratings, pupil, channel, band, coronmsk",
        **_DEFAULT,
    ),
    _col("filter:string", "Name of the filter element used", keyword="FILTER"),
    _col(
        "proposal_type:string",
        "Proposal type (GO, GTO, ERS, COM ...)",
        keyword="CATEGORY",
        **_DEFAULT,
    ),
    _col(
        "targtype:string", "Type of target (FIXED, MOVING, GENERIC)", keyword="TARGTYPE", **_DEFAULT
    ),
    _col("title:string", "Proposal title", keyword="TITLE"),
    _col("s_region:string", "Spatial extent of the observation (footprint)", **_DEFAULT),
    _col("detector:string", "Name of the detector used", keyword="DETECTOR"),
    _col("obs_id:string", "Programmatic observation identifier", keyword="OBS_ID"),
    _col("cal_ver:string", "Calibration software version number", keyword="CAL_VER", **_DEFAULT),
    _col("program:integer", "JWST program number", keyword="PROGRAM", **_DEFAULT),
    _col("observtn:integer", "Observation number", keyword="OBSERVTN", **_DEFAULT),
    _col("visit:integer", "Visit number", keyword="VISIT", **_DEFAULT),
    _col("proposal_cycle:integer", "Proposal cycle", keyword="CYCLE", **_DEFAULT),
    _col("duration:float", "Total duration of the exposure (s)", keyword="DURATION", **_DEFAULT),
    _col("effexptm:float", "Effective exposure time (s)", keyword="EFFEXPTM"),
    _col("date_obs:datetime", "UTC date and time at the start of the exposure", **_DEFAULT),
    _col("publicReleaseDate:datetime", "Date the data become public", **_DEFAULT),
    _col("pi_name:substring", "Principal investigator name", keyword="PI_NAME", **_DEFAULT),
    _col("access:ustring", "PUBLIC or EXCLUSIVE_ACCESS", **_DEFAULT),
    _col(
        "ang_sep:float",
        "Angular separation from the target coordinates, in arcmin",
        queryable=False,
    ),
    _col("search_key:string", "Concat of ArchiveFileID and search_pos", queryable=False),
)

# MAST's column_list by qual_type, each part in the recorded order (duplicates included).
_MAST_LIST = {
    "string": """
        search_pos fileSetName productLevel targprop targname instrume exp_type opticalElements
        filter proposal_type targtype obslabel template s_region act_id apername bkgdtarg
        category dataprob targdesc detector dirimage engqlptg eng_qual errtype exp_only gdstarid
        pcs_mode hga_move intarget datamodl lamp masterbg bkgmeth obs_id obsfolder origin
        osf_file oss_ver pattsize asnpool pps_aper prd_ver patttype expripar mu_epoch is_psf
        opmode readpatt scicat segmfile selfref seq_id scatfile visitsta subcat subarray bkgsub
        asntable targcat telescop timesys title targoopp tsovisit tcatfile visitgrp visid_id
        visitype wtype zerofram cal_vcs cal_ver crds_ctx crds_ver miri_band miri_cccstate
        miri_channel miri_cmd_tsel miri_coronmsk miri_detmode miri_ditchdirc miri_dithopfr
        miri_mrsprchn miri_dithpnts nircam_channel nircam_coronmsk nircam_faphase1
        nircam_faphase2 nircam_faphase3 nircam_module nircam_pridtype nircam_pupil nircam_pilin
        nircam_smgrdpat nircam_subpxpat niriss_pupil nirspec_fxd_slit nirspec_grating
        nirspec_is_imprt nirspec_msametfl nirspec_msastate nirspec_nod_type nirspec_preimage
        nirspec_dithpnts nirspec_subpxpat sdp_ver search_key""",
    "integer": """
        ArchiveFileID program observtn visit proposal_cycle cont_id expcount datamode drpfrms1
        drpfrms3 exposure fastaxis frmdivsr groupgap gs_order intstart intend nextend nframes
        ngroups nints noutputs nrststrt nresets nsamples patt_num pridtpts sca_num exsegnum
        exsegtot slowaxis subpxpts nexposur numdthpt subsize1 substrt1 subsize2 substrt2
        miri_mirnfrms miri_mirngrps miri_numdsets miri_spat_num miri_spatnstp miri_spec_num
        miri_specnstp miri_pattstrt miri_dsetstrt miri_pattnpts nircam_fa1value nircam_fa2value
        nircam_fa3value nircam_fam_la1 nircam_fam_la2 nircam_fam_la3 nircam_fastep1
        nircam_fastep2 nircam_fastep3 niriss_nrimdtpt niriss_focuspos nirspec_focuspos
        nirspec_msaconid nirspec_msametid nirspec_nrs_norm nirspec_nrs_ref nirspec_pattstrt
        nirspec_rma_pos nirspec_fcsrlpos nirspec_spat_num nirspec_spec_num fgs_focuspos""",
    "float": """
        duration bartdelt bendtime bmidtime bstrtime sctarate targudec effexptm texptime expend
        effexptm tframe gainfact tgroup gs_dec gs_mag gs_dra gs_udec gs_umag gs_ura gs_v3_pa
        helidelt hstrtime hmidtime hendtime effinttm bkglevel expmid nwfsest pxsclrt pixfrac
        texptime mu_dec mu_ra prop_dec prop_ra pwfseet targura rois roiw tsample expstart va_dec
        va_ra wpower xoffset yoffset miri_sptoffst miri_spatstep miri_spcoffst miri_specstep
        nircam_faunit1 nircam_faunit2 nircam_faunit3 niriss_fwcpos niriss_pwcpos
        nirspec_gwa_pxav nirspec_gwa_pyav nirspec_gwa_tilt nirspec_gwa_xp_v nirspec_gwa_xtilt
        nirspec_gwa_yp_v nirspec_gwa_ytilt ang_sep""",
    "datetime": """
        date_obs publicReleaseDate date date_beg date_end gsstrttm gsendtim gsstrttm gsendtim
        vststart expsteng visitend""",
    "ra": "targ_ra",
    "dec": "targ_dec",
    "substring": "pi_name",
    "ustring": "access",
}
_INSTRUMENTS = ("NIRCAM", "NIRISS", "NIRSPEC", "MIRI", "FGS")
# Where a MAST column name is not the keyword's own name.
_KEYWORD_OF = {"obsfolder": "OBSFOLDR", "visid_id": "VISIT_ID", "gs_dra": "GS_RA",
               "miri_ditchdirc": "DITHDIRC"}  # fmt: skip
_SECOND = {"gsstrttm": "Guide star acquisition start time, in MJD format",
           "gsendtim": "Guide star acquisition end time, in MJD format"}  # fmt: skip


def _keyword_column(name: str, qual_type: str) -> MissionColumn:
    instrument, _, base = name.partition("_")
    if instrument.upper() not in _INSTRUMENTS:
        instrument, base = "", name
    keyword = _KEYWORD_OF.get(name)
    if keyword is None:
        keyword = base.upper()
        if base.startswith("date_"):  # DATE-OBS, DATE-BEG, DATE-END
            keyword = keyword.replace("_", "-", 1)
    return MissionColumn(name, qual_type, f"FITS keyword {keyword} of the dataset",
                         keyword=keyword, instrument=instrument.upper() or None)  # fmt: skip


def _column_list() -> tuple[tuple[MissionColumn, ...], tuple[MissionColumn, ...]]:
    """(every entry of ``column_list``, duplicates included; the columns, once each)."""
    entries: list[MissionColumn] = list(_EXPLICIT)
    listed = {c.name: 0 for c in _EXPLICIT}  # how often MAST's list has named it so far
    for qual_type, names in _MAST_LIST.items():
        for name in names.split():
            if name not in listed:
                entries.append(_keyword_column(name, qual_type))
            elif listed[name] >= 1:  # MAST lists a few columns twice
                first = next(c for c in entries if c.name == name)
                entries.append(replace(first, description=_SECOND.get(name, first.description)))
            listed[name] = listed.get(name, 0) + 1
    unique = tuple({c.name: c for c in reversed(entries)}.values())[::-1]
    return tuple(entries), unique


COLUMN_LIST, COLUMNS = _column_list()
BY_NAME = {column.name: column for column in COLUMNS}


@cache
def described_column_list() -> list[dict[str, Any]]:
    """``column_list`` as MAST answers it; keyword columns described by the Keyword
    Dictionary's titles (from the stdatamodels schemas) where it has one."""
    titles = _keyword_titles()
    entries = []
    for c in COLUMN_LIST:
        description = c.description
        if (
            c.keyword is not None
            and c.description.startswith("FITS keyword")
            and c.keyword in titles
        ):
            description = f"{titles[c.keyword]} (FITS keyword {c.keyword})"
        entries.append({"column_name": c.name, "field_name": c.name, "qual_type": c.qual_type,
                        "description": description, "queryable": "yes" if c.queryable else "no",
                        "default_output": "yes" if c.default else "no"})  # fmt: skip
    return entries


def _keyword_titles() -> dict[str, str]:
    from skyarchive.errors import Unavailable
    from skyarchive.search.keyword_dictionary import keyword_dictionary

    try:
        keywords = keyword_dictionary().keywords
    except Unavailable:  # the list stands without the titles
        return {}
    return {k.name: k.title for k in keywords if k.hdu == "PRIMARY" and k.title}


# --- what a search asks: conditions on columns and cones around targets ---------------

Test = Callable[[Any], bool]


@dataclass(frozen=True)
class Condition:
    """One ``{column: value}`` condition as a predicate on a dataset row."""

    column: MissionColumn
    positives: tuple[Test, ...]
    negatives: tuple[Test, ...]
    text: str
    exact: tuple[str, ...] | None = None  # the values, when the condition is a plain list
    terms: tuple[str, ...] = ()  # the positive terms as written (a row must match one)
    negated: tuple[str, ...] = ()  # the negated terms as written, "!" left out (none may match)

    def matches(self, row: dict[str, Any]) -> bool:
        value = row.get(self.column.name)
        if any(test(value) for test in self.negatives):
            return False
        return not self.positives or any(test(value) for test in self.positives)


@dataclass(frozen=True)
class Cone:
    ra: float
    dec: float
    radius_arcsec: float
    text: str  # the target as sent
