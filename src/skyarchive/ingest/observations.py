"""Build a CAOM observation row from the headers of the files that belong to it.

An observation is a function of its files: whenever files are added, the row is rebuilt from the
best-calibrated file's header (its WCS and keywords are the most reliable), with times spanning
every file. Ingesting files in any order or over several runs gives the same row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from skyarchive.ingest import jwst_meta
from skyarchive.sky.regions import format_s_region, parse_s_region, region_center

_RANK = {
    "cal": 10, "calints": 10, "i2d": 10, "s3d": 10, "crf": 9, "crfints": 9, "s2d": 9, "x1d": 8,
    "x1dints": 8, "c1d": 8, "rate": 7, "rateints": 7, "ramp": 6, "segm": 5, "trapsfilled": 5,
    "uncal": 4,
}  # fmt: skip


@dataclass(frozen=True)
class ObservedFile:
    """What the builder needs of one FITS file of the observation."""

    suffix: str
    calib_level: int
    header: Mapping[str, Any]
    s_region: str | None
    data_uri: str
    preview_uri: str | None = None


def build_observation(obs_id: str, *, level3: bool, files: Sequence[ObservedFile]) -> dict:
    """CAOM columns for ``obs_id`` (without obsid, release date and status)."""
    best = max(files, key=lambda f: _RANK.get(f.suffix, 0))
    header = best.header
    suffixes = {f.suffix for f in files}
    category = _text(header.get("CATEGORY"))
    region_text = next((f.s_region for f in _by_rank(files) if f.s_region), None)
    s_region = s_ra = s_dec = None
    if region_text:
        region = parse_s_region(region_text)
        s_region = format_s_region(region)
        s_ra, s_dec = region_center(region)
    elif header.get("TARG_RA") is not None and header.get("TARG_DEC") is not None:
        s_ra, s_dec = float(header["TARG_RA"]), float(header["TARG_DEC"])
    starts = [float(f.header["EXPSTART"]) for f in files if _number(f.header.get("EXPSTART"))]
    ends = [float(f.header["EXPEND"]) for f in files if _number(f.header.get("EXPEND"))]
    em_min, em_max = jwst_meta.wavelength_range(header)
    preview = next((f.preview_uri for f in _by_rank(files) if f.preview_uri), None)
    return {
        "obs_id": obs_id,
        "intentType": jwst_meta.intent_type(category),
        "obs_collection": "JWST",
        "provenance_name": "CALJWST",
        # MAST names combined products by bare instrument and exposures by instrument/mode.
        "instrument_name": (
            _text(header.get("INSTRUME")) if level3 else jwst_meta.instrument_name(header)
        ),
        "project": "JWST",
        "filters": jwst_meta.filters_string(header),
        "wavelength_region": "INFRARED",
        "target_name": _text(header.get("TARGNAME")) or _text(header.get("TARGPROP")),
        "target_classification": _text(header.get("TARGDESC")) or _text(header.get("TARGCAT")),
        "s_ra": s_ra,
        "s_dec": s_dec,
        "dataproduct_type": jwst_meta.dataproduct_type(header, suffixes=suffixes),
        "proposal_pi": _text(header.get("PI_NAME")),
        "calib_level": 3 if level3 else max(f.calib_level for f in files),
        "t_min": min(starts) if starts else None,
        "t_max": max(ends) if ends else None,
        "t_exptime": float(header["EFFEXPTM"]) if _number(header.get("EFFEXPTM")) else None,
        "em_min": em_min,
        "em_max": em_max,
        "obs_title": _text(header.get("TITLE")),
        "proposal_type": category,
        "s_region": s_region,
        "jpegURL": preview,
        "dataURL": best.data_uri,
        "mtFlag": _text(header.get("TARGTYPE")) == "MOVING",
        "exp_type": _text(header.get("EXP_TYPE")),
    }


def _by_rank(files: Sequence[ObservedFile]) -> list[ObservedFile]:
    return sorted(files, key=lambda f: -_RANK.get(f.suffix, 0))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
