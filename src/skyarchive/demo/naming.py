"""JWST file and identifier names for the demo products.

Ingest and the portal recognise products only by these names, so they follow the JWST pipeline
and MAST conventions exactly (exposure, stage-3, association, pool and guide-star names).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_BAND_ORDER = ("SHORT", "MEDIUM", "LONG")


def activity_code(number: int) -> str:
    """Two base-36 digits, as the activity field of exposure names uses."""
    return _BASE36[number // 36] + _BASE36[number % 36]


def visit_id(program: int, observation: int, visit: int) -> str:
    return f"{program:05d}{observation:03d}{visit:03d}"


def exposure_obs_id(
    program: int,
    observation: int,
    visit: int,
    visit_group: int,
    sequence: int,
    activity: int,
    exposure: int,
    detector: str,
    segment: int | None = None,
) -> str:
    """``jw01073001001_02101_00001_nrca1``: the exposure name up to (not incl.) the suffix."""
    seg = f"-seg{segment:03d}" if segment is not None else ""
    return (
        f"jw{visit_id(program, observation, visit)}_{visit_group:02d}{sequence}"
        f"{activity_code(activity)}_{exposure:05d}{seg}_{detector}"
    )


def planned_obs_id(program: int, observation: int, instrument: str) -> str:
    """MAST's id for an observation not executed yet: group/sequence unknown, hence ``xx``."""
    return f"jw{visit_id(program, observation, 1)}_xx101_00001_{instrument}"


def product_suffix(suffix: str, observation: int) -> str:
    """Outlier-detection products carry the association id: ``crf`` -> ``o001_crf``."""
    if suffix in ("crf", "crfints"):
        return f"o{observation:03d}_{suffix}"
    return suffix


def opt_elements(instrument: str, optics: Mapping[str, Any], subarray: str, tso: bool) -> str:
    """The optical-elements field of a stage-3 name for one set of exposure optics.

    NIRSpec writes grating then filter; the others sort filter and pupil case-insensitively,
    and time-series products add the subarray. MIRI MRS names come from :func:`mrs_elements`.
    """
    if instrument == "NIRSPEC":
        return f"{optics['GRATING']}-{optics['FILTER']}".lower()
    values = [str(optics[key]).lower() for key in ("FILTER", "PUPIL") if optics.get(key)]
    values = sorted(values, key=str.casefold)
    if tso and subarray != "FULL":
        values.append(subarray.lower())
    return "-".join(values)


def mrs_elements(channel: str, bands: Iterable[str]) -> str:
    """``ch1-shortmediumlong``: one cube per channel, built from all bands observed."""
    present = set(bands)
    return f"ch{channel}-" + "".join(b.lower() for b in _BAND_ORDER if b in present)


def level3_obs_id(program: int, observation: int, instrument: str, elements: str) -> str:
    return f"jw{program:05d}-o{observation:03d}_t001_{instrument.lower()}_{elements}"


def stamp(moment: datetime) -> str:
    """``20220712t143022``, the version stamp of pools and associations."""
    return moment.strftime("%Y%m%dt%H%M%S")


def asn_name(program: int, observation: int, moment: datetime, asn_type: str, count: int) -> str:
    return f"jw{program:05d}-o{observation:03d}_{stamp(moment)}_{asn_type}_{count:05d}_asn.json"


def pool_name(program: int, moment: datetime) -> str:
    return f"jw{program:05d}_{stamp(moment)}_pool.csv"


def guide_star_files(
    program: int, observation: int, visit: int, start: datetime
) -> list[tuple[str, str]]:
    """(file name, EXP_TYPE) of the guide-star products of one visit."""
    prefix = f"jw{visit_id(program, observation, visit)}_gs"
    doy = start.strftime("%Y%j%H%M%S")  # yyyydddhhmmss
    return [
        (f"{prefix}-id_1_image-uncal.fits", "FGS_ID-IMAGE"),
        (f"{prefix}-acq1_{doy}_uncal.fits", "FGS_ACQ1"),
        (f"{prefix}-track_{doy}_uncal.fits", "FGS_TRACK"),
        (f"{prefix}-track_{doy}_cal.fits", "FGS_TRACK"),
        (f"{prefix}-fg_{doy}_uncal.fits", "FGS_FINEGUIDE"),
    ]
