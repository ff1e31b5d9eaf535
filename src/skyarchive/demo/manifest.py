"""Metadata manifests (``*.skyarchive.json``) for what has no JWST FITS headers to read.

Planned JWST observations and other missions' data (HST, Spitzer) enter the archive through
these manifests; the other missions also get a few small FITS files so they have products.
The manifest format is the one ``skyarchive ingest`` reads (``skyarchive_manifest: 1``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from skyarchive.demo.fits_writer import mjd
from skyarchive.demo.footprints import Footprint, offset
from skyarchive.demo.naming import planned_obs_id
from skyarchive.demo.programs import M57, ProgramRecipe

MANIFEST_VERSION = 1


@dataclass(frozen=True)
class OtherProgram:
    collection: str
    proposal_id: str
    title: str
    pi_name: str
    category: str
    cycle: int


@dataclass(frozen=True)
class OtherObservation:
    obs_id: str
    instrument: str  # CAOM instrument_name
    filters: str
    start: datetime
    exptime: float
    em_range: tuple[float, float]  # nm
    offset: tuple[float, float]  # arcsec from M57
    size: float  # square field, arcsec
    files: tuple[tuple[str, str, int, str, bool], ...]  # name, subgroup, calib, description, mrp


HST = OtherProgram("HST", "12309", "WFC3 Narrow-band Imaging of the Ring Nebula",
                   "Lindqvist, Per", "GO", 18)  # fmt: skip
SPITZER = OtherProgram("SPITZER_SHA", "40123", "IRAC Mapping of Nearby Planetary Nebulae",
                       "Moreau, Claire", "GO", 4)  # fmt: skip


def _hst(obs_id: str, filters: str, start: datetime, em: tuple[float, float]) -> OtherObservation:
    files = (
        (f"{obs_id}_drz.fits", "DRZ", 3, "DADS DRZ file - Calibrated combined image", True),
        (f"{obs_id}_flt.fits", "FLT", 2, "DADS FLT file - Calibrated exposure", False),
    )
    return OtherObservation(obs_id, "WFC3/UVIS", filters, start, 600.0, em, (5.0, -3.0), 162.0,
                            files)  # fmt: skip


HST_OBSERVATIONS = (
    _hst("idxx01010", "F502N", datetime(2011, 5, 3, 4, 12, 7), (498.0, 505.0)),
    _hst("idxx01020", "F658N", datetime(2011, 5, 3, 4, 40, 51), (657.0, 660.0)),
    _hst("idxx01030", "F487N", datetime(2011, 5, 3, 5, 9, 33), (485.0, 489.0)),
)
SPITZER_OBSERVATIONS = tuple(
    OtherObservation(
        f"r{aor}",
        "IRAC",
        f"IRAC{channel}",
        datetime(2004, 10, 9, 7, 10 + 20 * channel, 0),
        96.8,
        em,
        (-10.0, 12.0),
        312.0,
        (
            (
                f"SPITZER_I{channel}_{aor}_0000_6_E{122 + channel}_maic.fits",
                "MAIC",
                2,
                "Post-BCD mosaic image",
                True,
            ),
        ),
    )  # fmt: skip
    for aor, channel, em in ((12345678, 1, (3180.0, 3930.0)), (12345679, 2, (3930.0, 5030.0)))
)


def write_other_mission(out_dir: Path, subdir: str, program: OtherProgram,
                        observations: tuple[OtherObservation, ...],
                        rng: np.random.Generator) -> tuple[Path, list[Path]]:  # fmt: skip
    """Write the FITS files and the manifest of one other mission; return (manifest, files)."""
    directory = out_dir / subdir
    directory.mkdir(parents=True, exist_ok=True)
    records, written = [], []
    for obs in observations:
        ra, dec = offset(M57.ra, M57.dec, *obs.offset)
        footprint = Footprint(ra, dec, obs.size, obs.size, 0.0)
        t_min, t_max = mjd(obs.start), round(mjd(obs.start) + obs.exptime / 86400.0, 8)
        products = []
        for name, subgroup, calib, description, mrp in obs.files:
            path = directory / name
            _write_other_fits(path, program, obs, footprint, t_min, t_max, rng)
            written.append(path)
            products.append(
                {"file": f"{subdir}/{name}", "productType": "SCIENCE",
                 "productSubGroupDescription": subgroup, "calib_level": calib,
                 "description": description, "mrp": mrp,
                 "prvversion": "3.7.1" if program is HST else "S18.25.0"}
            )  # fmt: skip
        records.append(
            {
                "obs_id": obs.obs_id, "status": "executed", "obs_collection": program.collection,
                "intentType": "science", "instrument_name": obs.instrument,
                "project": "HST" if program is HST else "SSC", "filters": obs.filters,
                "wavelength_region": "OPTICAL" if program is HST else "INFRARED",
                "target_name": "NGC6720", "target_classification": M57.classification,
                "s_ra": round(ra, 9), "s_dec": round(dec, 9),
                "s_region": footprint.s_region(frame=""), "dataproduct_type": "image",
                "proposal_pi": program.pi_name, "calib_level": max(p[2] for p in obs.files),
                "t_min": t_min, "t_max": t_max, "t_exptime": obs.exptime,
                "em_min": obs.em_range[0], "em_max": obs.em_range[1], "obs_title": program.title,
                "proposal_id": program.proposal_id, "proposal_type": program.category,
                "provenance_name": "CALWF3" if program is HST else "IRAC PBCD",
                "t_obs_release": round(t_max + 365.0, 8), "products": products,
            }
        )  # fmt: skip
    manifest = out_dir / f"{subdir}.skyarchive.json"
    _write_manifest(manifest, [_program_record(program)], records)
    return manifest, written


def _program_record(program: OtherProgram) -> dict[str, Any]:
    return {"proposal_id": program.proposal_id, "obs_collection": program.collection,
            "title": program.title, "pi_name": program.pi_name, "category": program.category,
            "cycle": program.cycle}  # fmt: skip


def _write_other_fits(path: Path, program: OtherProgram, obs: OtherObservation,
                      footprint: Footprint, t_min: float, t_max: float,
                      rng: np.random.Generator) -> None:  # fmt: skip
    size = 16
    y, x = np.mgrid[0:size, 0:size]
    ring = np.exp(-(((np.hypot(x - 7.5, y - 7.5) - 4.0) / 1.2) ** 2))
    data = (100 * ring + rng.normal(5.0, 1.0, size=(size, size))).astype(np.float32)
    common = {"DATE": "2024-03-01T00:00:00", "FILENAME": path.name, "TARGNAME": "NGC6720",
              "EXPTIME": obs.exptime, "EXPSTART": t_min, "EXPEND": t_max,
              "DATE-OBS": obs.start.strftime("%Y-%m-%d"),
              "TIME-OBS": obs.start.strftime("%H:%M:%S")}  # fmt: skip
    wcs = {k: v for k, v in footprint.wcs(size, size).items() if k not in ("ROLL_REF",)}
    wcs["S_REGION"] = footprint.s_region()
    if program is HST:
        primary = fits.Header()
        for key, value in {"TELESCOP": "HST", "INSTRUME": "WFC3", "DETECTOR": "UVIS",
                           "FILTER": obs.filters, "ROOTNAME": obs.obs_id,
                           "PROPOSID": int(program.proposal_id), "RA_TARG": M57.ra,
                           "DEC_TARG": M57.dec, "CAL_VER": "3.7.1", **common}.items():  # fmt: skip
            primary[key] = value
        sci = fits.Header()
        for key, value in {"EXTNAME": "SCI", "BUNIT": "ELECTRONS/S", **wcs}.items():
            sci[key] = value
        hdus = fits.HDUList([fits.PrimaryHDU(header=primary), fits.ImageHDU(data, header=sci)])
    else:
        channel = obs.filters[-1]
        header = fits.Header()
        for key, value in {
            "TELESCOP": "Spitzer",
            "INSTRUME": "IRAC",
            "CHNLNUM": int(channel),
            "AORKEY": int(obs.obs_id[1:]),
            "PROGID": int(program.proposal_id),
            "OBJECT": "NGC6720",
            "BUNIT": "MJy/sr",
            **common,
            **wcs,
        }.items():
            header[key] = value  # fmt: skip
        hdus = fits.HDUList([fits.PrimaryHDU(data, header=header)])
    hdus.writeto(path, output_verify="exception")


def write_planned(out_dir: Path, programs: list[ProgramRecipe]) -> tuple[Path, list[str]]:
    """The manifest of JWST observations accepted but not yet executed."""
    records, program_records, obs_ids = [], [], []
    for program in programs:
        if not program.planned:
            continue
        program_records.append(
            {"proposal_id": str(program.proposal_id), "obs_collection": "JWST",
             "title": program.title, "pi_name": program.pi_name,
             "category": program.category, "cycle": program.cycle}
        )  # fmt: skip
        for planned in program.planned:
            obs_id = planned_obs_id(program.proposal_id, planned.number, planned.instrument)
            ra, dec = offset(planned.target.ra, planned.target.dec, *planned.offset)
            footprint = Footprint(ra, dec, *planned.size, 0.0)
            obs_ids.append(obs_id)
            records.append(
                {
                    "obs_id": obs_id, "status": "planned", "obs_collection": "JWST",
                    "intentType": "science", "instrument_name": planned.instrument_name,
                    "project": "JWST", "filters": planned.filters,
                    "wavelength_region": "INFRARED", "target_name": planned.target.name,
                    "target_classification": planned.target.classification,
                    "s_ra": round(ra, 9), "s_dec": round(dec, 9),
                    "s_region": footprint.s_region(frame=""),
                    "dataproduct_type": planned.dataproduct_type,
                    "proposal_pi": program.pi_name, "calib_level": -1, "t_min": None,
                    "t_max": None, "t_exptime": planned.exptime,
                    "em_min": planned.em_range[0], "em_max": planned.em_range[1],
                    "obs_title": program.title, "proposal_id": str(program.proposal_id),
                    "proposal_type": program.category, "provenance_name": "APT", "products": [],
                }
            )  # fmt: skip
    manifest = out_dir / "planned.skyarchive.json"
    _write_manifest(manifest, program_records, records)
    return manifest, obs_ids


def _write_manifest(path: Path, programs: list[dict[str, Any]], observations: list[dict]) -> None:
    content = {"skyarchive_manifest": MANIFEST_VERSION, "programs": programs,
               "observations": observations}  # fmt: skip
    path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
