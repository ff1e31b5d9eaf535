"""CAOM observation fields derived from JWST primary-header keywords.

Optics and mode tables are instrument knowledge (JWST user documentation); wavelength ranges
are nominal band edges in nm, good enough for searching by waveband.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_INSTRUMENT_NAMES = {
    "NRC_IMAGE": "NIRCAM/IMAGE", "NRC_TSIMAGE": "NIRCAM/IMAGE", "NRC_WFSS": "NIRCAM/GRISM",
    "NRC_TSGRISM": "NIRCAM/GRISM", "NRC_GRISM": "NIRCAM/GRISM", "NRC_CORON": "NIRCAM/CORON",
    "NRC_TACQ": "NIRCAM/TARGACQ", "NRC_TACONFIRM": "NIRCAM/TARGACQ",
    "NRS_MSASPEC": "NIRSPEC/MSA", "NRS_IFU": "NIRSPEC/IFU", "NRS_FIXEDSLIT": "NIRSPEC/SLIT",
    "NRS_BRIGHTOBJ": "NIRSPEC/SLIT", "NRS_IMAGE": "NIRSPEC/IMAGE", "NRS_MSATA": "NIRSPEC/IMAGE",
    "NRS_WATA": "NIRSPEC/IMAGE", "NRS_TACONFIRM": "NIRSPEC/IMAGE",
    "NIS_IMAGE": "NIRISS/IMAGE", "NIS_TACQ": "NIRISS/IMAGE", "NIS_WFSS": "NIRISS/WFSS",
    "NIS_SOSS": "NIRISS/SOSS", "NIS_AMI": "NIRISS/AMI",
    "MIR_IMAGE": "MIRI/IMAGE", "MIR_MRS": "MIRI/IFU", "MIR_LRS-FIXEDSLIT": "MIRI/SLIT",
    "MIR_LRS-SLITLESS": "MIRI/SLITLESS", "MIR_4QPM": "MIRI/CORON", "MIR_LYOT": "MIRI/CORON",
    "MIR_CORONCAL": "MIRI/CORON", "MIR_TACQ": "MIRI/TARGACQ", "MIR_TACONFIRM": "MIRI/TARGACQ",
}  # fmt: skip

_IMAGING = re.compile(r"_(IMAGE|TSIMAGE|CORON|4QPM|LYOT|CORONCAL|TACQ|TACONFIRM|WATA|MSATA|AMI)$")

# Nominal wavelength coverage of dispersers, nm.
_DISPERSERS = {
    "PRISM": (600, 5300), "G140M": (970, 1890), "G140H": (970, 1890), "G235M": (1660, 3170),
    "G235H": (1660, 3170), "G395M": (2870, 5270), "G395H": (2870, 5270),
    "GR700XD": (600, 2800), "GR150R": (800, 2300), "GR150C": (800, 2300),
    "GRISMR": (2400, 5000), "GRISMC": (2400, 5000), "P750L": (5000, 14000),
}  # fmt: skip
_MRS_CHANNELS = {"1": (4900, 7650), "2": (7510, 11700), "3": (11550, 17980), "4": (17700, 27900)}
_WIDTH = {"W": 0.25, "W2": 0.5, "M": 0.1, "N": 0.01, "C": 0.05, "WR": 0.25}
_FILTER = re.compile(r"^F(\d{3,4})(W2|WR|W|M|N|C|LP)$")

_IMAGE_SUFFIXES = frozenset({"i2d", "segm", "cat"})


def instrument_name(header: Mapping[str, Any]) -> str:
    exp_type = str(header.get("EXP_TYPE", "")).upper()
    if exp_type in _INSTRUMENT_NAMES:
        return _INSTRUMENT_NAMES[exp_type]
    instrument = str(header.get("INSTRUME", "")).upper()
    if instrument == "FGS":
        return "FGS/FGS2" if str(header.get("DETECTOR", "")).upper() == "GUIDER2" else "FGS/FGS1"
    return instrument or "UNKNOWN"


def filters_string(header: Mapping[str, Any]) -> str:
    """CAOM ``filters``: FILTER then PUPIL/GRATING, ``;``-joined, CLEAR kept as MAST shows it."""
    values = [header.get(key) for key in ("FILTER", "PUPIL", "GRATING")]
    parts = [str(value).strip().upper() for value in values if value not in (None, "", "N/A")]
    if str(header.get("EXP_TYPE", "")).upper() == "MIR_MRS":
        channel, band = header.get("CHANNEL"), header.get("BAND")
        parts = [f"CH{channel}" if channel else "", str(band or "")]
        parts = [part for part in parts if part]
    return ";".join(dict.fromkeys(parts))


def dataproduct_type(header: Mapping[str, Any], *, suffixes: set[str]) -> str:
    """image, spectrum or cube, as MAST labels JWST observations."""
    exp_type = str(header.get("EXP_TYPE", "")).upper()
    if "s3d" in suffixes:
        return "cube"
    if _IMAGING.search(exp_type) or suffixes & _IMAGE_SUFFIXES and "x1d" not in suffixes:
        return "image"
    if exp_type == "NIS_SOSS" and str(header.get("PUPIL", "")).upper() != "GR700XD":
        return "image"  # the short companion exposure of a SOSS visit
    return "spectrum"


def wavelength_range(header: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """(em_min, em_max) in nm from the disperser, MRS channel or filter in use."""
    for key in ("GRATING", "PUPIL", "FILTER"):
        value = str(header.get(key, "")).upper()
        if value in _DISPERSERS:
            return _DISPERSERS[value]
    if str(header.get("EXP_TYPE", "")).upper() == "MIR_MRS":
        channels = [c for c in str(header.get("CHANNEL", "1")) if c in _MRS_CHANNELS]
        if channels:
            return _MRS_CHANNELS[channels[0]][0], _MRS_CHANNELS[channels[-1]][1]
    for key in ("PUPIL", "FILTER"):
        match = _FILTER.match(str(header.get(key, "")).upper())
        if match:
            digits, kind = match.groups()
            centre = int(digits) * 10.0  # F150W -> 1500 nm, F1000W -> 10000 nm
            if kind == "LP":
                return centre, centre * 2
            half = centre * _WIDTH[kind] / 2
            return round(centre - half, 1), round(centre + half, 1)
    return None, None


def intent_type(category: str | None) -> str:
    return "calibration" if (category or "").upper() in ("CAL", "ENG") else "science"
