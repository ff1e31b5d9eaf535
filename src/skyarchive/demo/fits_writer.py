"""FITS headers and tiny data arrays in the shape the JWST pipeline writes them.

Headers carry every keyword ingest reads, with the value types JWST uses (zero-padded strings for
program/observation/visit, MJD floats for times). Data are a few KB so the demo stays small, but
have the right dimensionality per product (ramps for uncal, cubes for s3d, tables for x1d).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from skyarchive.demo.footprints import Footprint
from skyarchive.demo.naming import visit_id
from skyarchive.demo.plan import Exposure, Level3, Visit

CAL_VER = "1.14.0"
CRDS_CTX = "jwst_1256.pmap"
SIZE = 8  # exposure arrays are SIZE x SIZE pixels, stage-3 arrays twice that
_MJD_EPOCH = datetime(1858, 11, 17)

_DATAMODL = {
    "uncal": "Level1bModel", "rate": "ImageModel", "rateints": "CubeModel",
    "trapsfilled": "TrapsFilledModel", "cal": "ImageModel", "crf": "ImageModel",
    "calints": "CubeModel", "crfints": "CubeModel", "s3d": "IFUCubeModel",
    "x1d": "MultiSpecModel", "x1dints": "MultiSpecModel", "i2d": "ImageModel",
    "segm": "SegmentationMapModel",
}  # fmt: skip
_BUNIT = {"uncal": "DN", "rate": "DN/s", "rateints": "DN/s", "trapsfilled": "DN"}
_READOUT_FRAMES = {"BRIGHT2": 2}


@dataclass(frozen=True)
class Provenance:
    """Per-program processing facts shared by all its products."""

    date: datetime  # the DATE keyword: when the files were made
    pool: str  # pool file name


def mjd(moment: datetime) -> float:
    return round((moment - _MJD_EPOCH) / timedelta(days=1), 8)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def _kind(suffix: str) -> str:
    """Product kind without the association tag: ``o001_crf`` -> ``crf``."""
    return suffix.rsplit("_", 1)[-1]


def _times(start: datetime, end: datetime) -> dict[str, Any]:
    middle = start + (end - start) / 2
    return {
        "DATE-OBS": start.strftime("%Y-%m-%d"),
        "TIME-OBS": start.strftime("%H:%M:%S.%f")[:-3],
        "DATE-BEG": _iso(start),
        "DATE-END": _iso(end),
        "EXPSTART": mjd(start),
        "EXPMID": mjd(middle),
        "EXPEND": mjd(end),
    }


def _file_keywords(filename: str, suffix: str, provenance: Provenance) -> dict[str, Any]:
    kind = _kind(suffix)
    values: dict[str, Any] = {
        "DATE": _iso(provenance.date),
        "ORIGIN": "STSCI",
        "TIMESYS": "UTC",
        "FILENAME": filename,
        "FILETYPE": "uncalibrated" if kind == "uncal" else "calibrated",
        "DATAMODL": _DATAMODL.get(kind, "JwstDataModel"),
        "TELESCOP": "JWST",
    }
    if kind != "uncal":
        values.update({"CAL_VER": CAL_VER, "CRDS_CTX": CRDS_CTX})
    return values


def exposure_header(
    exposure: Exposure, suffix: str, filename: str, provenance: Provenance
) -> fits.Header:
    obs, program = exposure.obs, exposure.program
    target = obs.target
    optics = dict(exposure.optics)
    instrument = {"INSTRUME": obs.instrument, "DETECTOR": exposure.detector.upper()}
    if obs.instrument == "NIRCAM":
        instrument["MODULE"] = exposure.detector[3].upper()
        instrument["CHANNEL"] = "LONG" if exposure.detector.endswith("long") else "SHORT"
    for key in ("CHANNEL", "FILTER", "PUPIL", "GRATING", "FXD_SLIT", "BAND"):
        if key in optics:
            instrument[key] = optics[key]
    values = _file_keywords(filename, suffix, provenance)
    values.update(
        {
            "TITLE": program.title,
            "PI_NAME": program.pi_name,
            "CATEGORY": program.category,
            "SUBCAT": program.subcat,
            "SCICAT": program.scicat,
            "CONT_ID": program.proposal_id,
            **_times(exposure.start, exposure.end),
            "OBS_ID": (
                f"V{visit_id(program.proposal_id, obs.number, exposure.visit)}P"
                f"{f'{obs.visit_group:02d}1{exposure.activity:02d}':0>13}"
            ),
            "VISIT_ID": visit_id(program.proposal_id, obs.number, exposure.visit),
            "PROGRAM": f"{program.proposal_id:05d}",
            "OBSERVTN": f"{obs.number:03d}",
            "VISIT": f"{exposure.visit:03d}",
            "VISITGRP": f"{obs.visit_group:02d}",
            "SEQ_ID": "1",
            "ACT_ID": f"{exposure.activity:02d}",
            "EXPOSURE": str(exposure.number),
            "TEMPLATE": obs.template,
            "OBSLABEL": obs.label,
            "VISITYPE": "PRIME_TARGETED_FIXED",
            "TSOVISIT": obs.tso,
            "TARGPROP": target.prop,
            "TARGNAME": target.name,
            "TARGTYPE": "FIXED",
            "TARG_RA": target.ra,
            "TARG_DEC": target.dec,
            **instrument,
            "EXPRIPAR": "PRIME",
            "EXP_TYPE": obs.exp_type,
            "READPATT": obs.readpatt,
            "NINTS": exposure.nints,
            "INTSTART": exposure.int_start if obs.tso else None,
            "INTEND": exposure.int_end if obs.tso else None,
            "NGROUPS": obs.ngroups,
            "NFRAMES": _READOUT_FRAMES.get(obs.readpatt, 1),
            "TFRAME": obs.frame_time,
            "EFFINTTM": exposure.effinttm,
            "EFFEXPTM": exposure.effexptm,
            "DURATION": round((exposure.end - exposure.start).total_seconds(), 3),
            "EXSEGNUM": exposure.segment,
            "EXSEGTOT": exposure.segments if obs.tso else None,
            "SUBARRAY": obs.subarray,
            "PATTTYPE": obs.pattern,
            "NUMDTHPT": exposure.numdthpt,
            "PATT_NUM": exposure.number,
            "APERNAME": obs.aperture,
            "PA_APER": obs.roll,
        }
    )
    asn = exposure.asn_table(_kind(suffix))
    if asn:
        values.update({"ASNPOOL": provenance.pool.removesuffix(".csv"), "ASNTABLE": asn})
    return _header(values)


def level3_header(
    product: Level3, suffix: str, filename: str, provenance: Provenance
) -> fits.Header:
    """A stage-3 header: the first member's, spanning all members in time and exposure."""
    first = product.members[0]
    header = exposure_header(first, "cal", filename, provenance)
    start = min(m.start for m in product.members)
    end = max(m.end for m in product.members)
    modules = {m.detector[3] for m in product.members if product.obs.instrument == "NIRCAM"}
    updates: dict[str, Any] = {
        **_times(start, end),
        "DETECTOR": "MULTIPLE",
        "EFFEXPTM": round(sum(m.effexptm for m in product.members), 3),
        "DURATION": round(sum((m.end - m.start).total_seconds() for m in product.members), 3),
        "DATAMODL": _DATAMODL.get(suffix, "JwstDataModel"),
        "ASNPOOL": provenance.pool.removesuffix(".csv"),
        "ASNTABLE": product.asn,
    }
    if len(modules) > 1:
        updates["MODULE"] = "MULTIPLE"
    if product.obs.exp_type == "MIR_MRS":
        updates["CHANNEL"] = product.obs_id.rsplit("_ch", 1)[1][0]
        updates["BAND"] = "MULTIPLE"
    for key in ("EXPOSURE", "PATT_NUM", "INTSTART", "INTEND", "EXSEGNUM", "EXSEGTOT"):
        header.remove(key, ignore_missing=True)
    for key, value in updates.items():
        header[key] = value
    return header


def guide_star_header(
    visit: Visit, exp_type: str, filename: str, provenance: Provenance
) -> fits.Header:
    program, obs = visit.program, visit.obs
    suffix = "cal" if filename.endswith("_cal.fits") else "uncal"
    values = _file_keywords(filename, suffix, provenance)
    values["DATAMODL"] = "GuiderCalModel" if suffix == "cal" else "GuiderRawModel"
    start, end = _guide_star_span(visit, exp_type)
    values.update(
        {
            "TITLE": program.title,
            "PI_NAME": program.pi_name,
            "CATEGORY": program.category,
            **_times(start, end),
            "VISIT_ID": visit_id(program.proposal_id, obs.number, visit.number),
            "PROGRAM": f"{program.proposal_id:05d}",
            "OBSERVTN": f"{obs.number:03d}",
            "VISIT": f"{visit.number:03d}",
            "INSTRUME": "FGS",
            "DETECTOR": "GUIDER1" if program.proposal_id % 2 else "GUIDER2",
            "EXP_TYPE": exp_type,
            "GDSTARID": f"S{program.proposal_id:05d}{obs.number:03d}A",
            "GS_RA": visit.guide_star.ra,
            "GS_DEC": visit.guide_star.dec,
            "GS_MAG": 14.2,
            "DURATION": round((end - start).total_seconds(), 3),
        }
    )
    return _header(values)


def _guide_star_span(visit: Visit, exp_type: str) -> tuple[datetime, datetime]:
    minutes = {"FGS_ID-IMAGE": (0, 2), "FGS_ACQ1": (2, 3), "FGS_TRACK": (3, 7)}
    if exp_type in minutes:
        first, last = minutes[exp_type]
        return visit.start + timedelta(minutes=first), visit.start + timedelta(minutes=last)
    return visit.start + timedelta(minutes=8), visit.end


def _header(values: Mapping[str, Any]) -> fits.Header:
    header = fits.Header()
    for key, value in values.items():
        if value is not None:
            header[key] = value
    return header


def sci_header(
    footprint: Footprint, bunit: str, size: int, wave: tuple[float, float] | None = None
) -> fits.Header:
    """SCI extension header; ``wave`` (um) makes it a spectral cube with 5 planes."""
    values: dict[str, Any] = {"EXTNAME": "SCI", "BUNIT": bunit, **footprint.wcs(size, size)}
    if wave:
        values.update(
            {"WCSAXES": 3, "CRPIX3": 1.0, "CRVAL3": wave[0], "CDELT3": (wave[1] - wave[0]) / 4,
             "CTYPE3": "WAVE", "CUNIT3": "um", "PC3_3": 1.0}
        )  # fmt: skip
    values["S_REGION"] = footprint.s_region()
    return _header(values)


def science_data(kind: str, nints: int, ngroups: int, size: int, rng: np.random.Generator):
    """A small array shaped like the product ``kind``: a smooth source on a noisy background."""
    y, x = np.mgrid[0:size, 0:size]
    centre = (size - 1) / 2 + rng.normal(0.0, 0.5, size=2)
    source = 40.0 * np.exp(-((x - centre[0]) ** 2 + (y - centre[1]) ** 2) / (0.1 * size**2))
    image = (source + rng.normal(1.0, 0.3, size=(size, size))).astype(np.float32)
    if kind == "uncal":
        ramps = 12000 + np.arange(1, ngroups + 1)[None, :, None, None] * image * 10
        return np.repeat(ramps, nints, axis=0).clip(0, 65535).astype(np.uint16)
    if kind in ("rateints", "calints", "crfints"):
        return np.stack([image * rng.normal(1.0, 0.01) for _ in range(nints)]).astype(np.float32)
    if kind == "trapsfilled":
        return np.abs(np.stack([image, image / 2, image / 4])).astype(np.float32)
    if kind == "s3d":
        return np.stack([image * (1 + 0.1 * k) for k in range(5)]).astype(np.float32)
    if kind == "segm":
        return (source > 10).astype(np.int32)
    return image


def spectrum_table(wave_range: tuple[float, float], rng: np.random.Generator) -> fits.BinTableHDU:
    wavelength = np.linspace(*wave_range, 32)
    flux = 1e-3 * (1 + 0.2 * np.sin(wavelength * 3)) + rng.normal(0.0, 1e-5, size=32)
    columns = [
        fits.Column(name="WAVELENGTH", format="D", unit="um", array=wavelength),
        fits.Column(name="FLUX", format="D", unit="Jy", array=flux),
        fits.Column(name="FLUX_ERROR", format="D", unit="Jy", array=np.full(32, 1e-5)),
    ]
    return fits.BinTableHDU.from_columns(columns, name="EXTRACT1D")


def write_image(path: Path, primary: fits.Header, data: np.ndarray, sci: fits.Header) -> None:
    hdus = fits.HDUList([fits.PrimaryHDU(header=primary), fits.ImageHDU(data, header=sci)])
    hdus.writeto(path, output_verify="exception")


def write_spectrum(
    path: Path, primary: fits.Header, table: fits.BinTableHDU, extra: Iterable[tuple[str, Any]]
) -> None:
    for key, value in extra:
        table.header[key] = value
    fits.HDUList([fits.PrimaryHDU(header=primary), table]).writeto(path, output_verify="exception")


def bunit(kind: str) -> str:
    return _BUNIT.get(kind, "MJy/sr")
