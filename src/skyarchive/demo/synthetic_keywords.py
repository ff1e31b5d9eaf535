"""Synthetic JWST science files with header keywords, for the keyword store at archive scale.

:func:`keyword_file_chunks` writes, for each synthetic observation, FITS-like science files
(product rows, their membership and their ``product_keywords`` rows) the way a pipeline run
leaves them: exposures of three files each (``uncal`` level 1b, ``rate`` level 2a and, for
nine exposures in ten, ``cal`` level 2b; otherwise a ``trapsfilled`` level 2a file), named by
JWST's rule (``jw<program><obs><visit>_<group>_<exposure>_<detector>_<suffix>.fits``), then
level-3 files (``i2d``, ``x1d``, ...) named after the observation. Keyword rows are built by
the archive's own :func:`skyarchive.search.keyword_store.keyword_row` and listed by its
:func:`~skyarchive.search.keyword_store.listings` rule, so they look exactly like ingested
ones.

Header values follow the observation's instrument mode: detectors, exposure types (with a
share of target acquisitions and time series), filters, pupils or gratings, subarrays,
readout patterns, NINTS / NGROUPS, exposure start and the observation's target and
footprint.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from skyarchive.search.keyword_rows import FileFacts
from skyarchive.search.keyword_store import keyword_row, listings


@dataclass(frozen=True)
class Mode:
    """What the files of one instrument mode hold."""

    instrume: str
    detectors: tuple[str, ...]
    exp_types: tuple[str, ...]  # the first is the science exposure, the others are rarer
    subarrays: tuple[str, ...]
    readpatts: tuple[str, ...]
    optical: str  # PUPIL or GRATING: the second element of the mode's filters, if any
    level3: tuple[str, ...]  # suffixes of the observation's level-3 files


_NIRCAM_SW = ("NRCA1", "NRCA2", "NRCA3", "NRCA4", "NRCB1", "NRCB2", "NRCB3", "NRCB4")
_NIRCAM_READ = ("RAPID", "BRIGHT1", "BRIGHT2", "SHALLOW4", "MEDIUM8", "DEEP8")
#: By the instrument name of :data:`skyarchive.demo.synthetic_catalog.INSTRUMENTS`.
MODES: dict[str, Mode] = {
    "NIRCAM/IMAGE": Mode("NIRCAM", (*_NIRCAM_SW, "NRCALONG", "NRCBLONG"),
                         ("NRC_IMAGE", "NRC_TSIMAGE", "NRC_TACQ"),
                         ("FULL", "SUB160", "SUB400P", "SUB640"), _NIRCAM_READ, "PUPIL",
                         ("i2d", "segm")),
    "NIRCAM/GRISM": Mode("NIRCAM", ("NRCALONG", "NRCBLONG"), ("NRC_WFSS", "NRC_TSGRISM"),
                         ("FULL", "SUBGRISM256", "SUBGRISM64"), _NIRCAM_READ, "PUPIL",
                         ("x1d", "i2d")),
    "NIRSPEC/MSA": Mode("NIRSPEC", ("NRS1", "NRS2"), ("NRS_MSASPEC", "NRS_MSATA", "NRS_CONFIRM"),
                        ("FULL", "ALLSLITS"), ("NRSIRS2", "NRSIRS2RAPID", "NRS"), "GRATING",
                        ("s2d", "x1d")),
    "NIRSPEC/IFU": Mode("NIRSPEC", ("NRS1", "NRS2"), ("NRS_IFU", "NRS_WATA"),
                        ("FULL", "SUB2048"), ("NRSRAPID", "NRSIRS2RAPID"), "GRATING",
                        ("s3d", "x1d")),
    "MIRI/IMAGE": Mode("MIRI", ("MIRIMAGE",), ("MIR_IMAGE", "MIR_TACQ", "MIR_CORONCAL"),
                       ("FULL", "BRIGHTSKY", "SUB256", "SUB128"), ("FAST", "SLOW", "FASTR1"),
                       "", ("i2d", "segm")),
    "MIRI/IFU": Mode("MIRI", ("MIRIFUSHORT", "MIRIFULONG"), ("MIR_MRS", "MIR_FLATMRS"),
                     ("FULL",), ("FAST", "SLOW"), "", ("s3d", "x1d")),
    "NIRISS/WFSS": Mode("NIRISS", ("NIS",), ("NIS_WFSS", "NIS_IMAGE", "NIS_SOSS"),
                        ("FULL", "SUBSTRIP256", "SUBSTRIP96"), ("NIS", "NISRAPID"), "PUPIL",
                        ("x1d", "i2d")),
}  # fmt: skip
_CAL_SHARE = 0.9  # exposures that reached level 2b; the others stop at 2a
_MAIN_SHARE = 0.8  # exposures of the mode's science type; the rest share the other types
_PI_NAMES = ("Lovelace, Ada", "Leavitt, Henrietta", "Rubin, Vera", "Hubble, Edwin",
             "Payne, Cecilia", "Cannon, Annie")  # fmt: skip
_DATE_STARTED = "2024-01-02T00:00:00"
_MJD_OF_UNIX_EPOCH = 40587.0


@dataclass
class KeywordChunk:
    products: list[tuple]
    links: list[tuple]
    keywords: list[tuple]


def keyword_file_chunks(
    observations: Iterable[dict[str, Any]],
    counts: Iterable[int],
    *,
    product_columns: tuple[str, ...],
    keyword_columns: tuple[str, ...],
    seed: int,
    chunk: int,
) -> Iterator[KeywordChunk]:
    """Rows of ``counts[i]`` science files for the ``i``-th of ``observations`` (their
    catalogue rows as mappings), in chunks of about ``chunk`` files; the ``*_columns`` give
    the order of each row's values."""
    rng = np.random.default_rng(seed)
    product_id = 1
    out = KeywordChunk([], [], [])
    for values, count in zip(observations, counts, strict=True):
        files = _observation_files(values, count, rng, product_id)
        product_id += len(files)
        listed = listings([f.listing_facts() for f in files])
        for f in files:
            row = f.product_row()
            out.products.append(tuple(row[name] for name in product_columns))
            out.links.append((f.obsid, f.product_id))
            stored = keyword_row(f.facts(row), f.header, f.s_region)
            stored["listed_in"] = listed[f.product_id]
            out.keywords.append(tuple(stored[name] for name in keyword_columns))
        if len(out.products) >= chunk:
            yield out
            out = KeywordChunk([], [], [])
    if out.products:
        yield out


@dataclass
class _File:
    product_id: int
    obsid: int
    obs_id: str
    proposal: str
    name: str
    level: int
    subgroup: str
    header: dict
    s_region: str
    filters: str
    dataproduct_type: str

    def listing_facts(self) -> dict:
        return {"product_id": self.product_id, "productFilename": self.name,
                "calib_level": self.level, "productSubGroupDescription": self.subgroup,
                "obs_collection": "JWST", "instrume": self.header["INSTRUME"]}  # fmt: skip

    def facts(self, row: dict) -> FileFacts:
        """What its keyword row shows of its products ``row`` (:meth:`product_row`)."""
        own = (self.product_id, self.name, self.level, self.subgroup, self.obs_id)
        return FileFacts(*own, row["size"], row["sha256"], row["dataURI"], row["ingested_at"])

    def product_row(self) -> dict:
        size = 2_000_000 + (self.product_id * 7919) % 100_000_000
        return {
            "product_id": self.product_id, "productFilename": self.name,
            "dataURI": "mast:JWST/product/" + self.name, "owner_obsid": self.obsid,
            "obs_collection": "JWST", "dataproduct_type": self.dataproduct_type,
            "description": f"{'exposure' if self.level < 3 else 'combined'}/{self.subgroup}",
            "type": "S" if self.level < 3 else "D", "productType": "SCIENCE",
            "productGroupDescription": "Minimum Recommended Products"
            if self.subgroup in ("CAL", "I2D", "S3D", "X1D", "S2D") else None,
            "productSubGroupDescription": self.subgroup, "productDocumentationURL": None,
            "project": "CALJWST", "prvversion": "1.14.0", "proposal_id": self.proposal,
            "size": size, "calib_level": self.level, "filters": self.filters,
            "sha256": f"{self.product_id:064x}", "storage_key": "synthetic/" + self.name,
            "file_date": self.header["DATE"], "ingested_at": _DATE_STARTED,
        }  # fmt: skip


def _observation_files(
    obs: dict[str, Any], count: int, rng: np.random.Generator, first: int
) -> list[_File]:
    mode = MODES[obs["instrument_name"]]
    proposal = str(obs["proposal_id"])
    obsid = int(obs["obsid"])
    obsnum = int(obs["obs_id"].split("-o", 1)[1][:5])
    observation, visit = (obsnum - 1) % 999 + 1, (obsnum - 1) // 999 + 1
    filters = str(obs["filters"])
    filter_name, _, optical = filters.partition(";")
    n_exposures, n_level3 = count // 3, count % 3
    common = {
        "TELESCOP": "JWST", "INSTRUME": mode.instrume, "PROGRAM": proposal,
        "OBSERVTN": f"{observation:03d}", "VISIT": f"{visit:03d}",
        "CATEGORY": obs["proposal_type"], "PI_NAME": _PI_NAMES[int(proposal) % len(_PI_NAMES)],
        "TARGNAME": obs["target_name"], "TARG_RA": round(obs["s_ra"], 7),
        "TARG_DEC": round(obs["s_dec"], 7), "FILTER": filter_name,
        "CAL_VER": "1.14.0", "DATE": "2024-01-01T00:00:00.000",
    }  # fmt: skip
    if mode.optical:
        common[mode.optical] = optical or "CLEAR"
    files: list[_File] = []

    def add(name: str, level: int, subgroup: str, header: dict) -> None:
        files.append(_File(first + len(files), obsid, obs["obs_id"], proposal, name, level,
                           subgroup, header, obs["s_region"], filters,
                           obs["dataproduct_type"]))  # fmt: skip

    t_min = float(obs["t_min"])
    stem = f"jw{proposal:0>5}{observation:03d}{visit:03d}"
    draws = rng.random((max(n_exposures, 1), 7))
    for e in range(n_exposures):
        u = draws[e]
        others = mode.exp_types[1:]
        exp_type = others[int(u[1] * len(others))] if others and u[0] >= _MAIN_SHARE else (
            mode.exp_types[0])  # fmt: skip
        detector = mode.detectors[int(u[2] * len(mode.detectors))]
        series = "TS" in exp_type or exp_type == "NIS_SOSS"
        nints = 500 if series else 1 + int(u[3] * 4)
        ngroups = (2, 5, 10, 20, 40)[int(u[4] * 5)]
        start = t_min + e * 0.01
        date_obs = _iso(start)
        header = {
            **common, "DETECTOR": detector, "EXP_TYPE": exp_type,
            "SUBARRAY": mode.subarrays[int(u[5] * len(mode.subarrays))],
            "READPATT": mode.readpatts[int(u[3] * len(mode.readpatts))],
            "NINTS": nints, "NGROUPS": ngroups, "NFRAMES": 1,
            "EFFEXPTM": round(nints * ngroups * 10.737, 3), "EXPSTART": round(start, 8),
            "EXPEND": round(start + nints * ngroups * 10.737 / 86400.0, 8),
            "DATE-OBS": date_obs[:10], "TIME-OBS": date_obs[11:], "TSOVISIT": series,
            "EXPOSURE": f"{e + 1:05d}", "VISITGRP": "02", "SEQ_ID": "1", "ACT_ID": "01",
        }  # fmt: skip
        exposure = f"{stem}_02101_{e + 1:05d}_{detector.lower()}"
        last = ("cal", "CAL") if u[6] < _CAL_SHARE else ("trapsfilled", "TRAPSFILLED")
        add(f"{exposure}_uncal.fits", 1, "UNCAL", header)
        add(f"{exposure}_rate.fits", 2, "RATE", header)
        add(f"{exposure}_{last[0]}.fits", 2, last[1], header)
    begun = _iso(t_min)
    for n in range(n_level3):
        suffix = mode.level3[n % len(mode.level3)]
        name = f"{obs['obs_id']}_{suffix}{'' if n < len(mode.level3) else n}.fits"
        header = {**common, "EXP_TYPE": mode.exp_types[0], "DETECTOR": "MULTIPLE",
                  "EXPSTART": round(t_min, 8), "DATE-OBS": begun[:10], "TIME-OBS": begun[11:],
                  "TSOVISIT": False}  # fmt: skip
        add(name, 3, suffix.upper(), header)
    return files


def _iso(mjd: float) -> str:
    seconds = (mjd - _MJD_OF_UNIX_EPOCH) * 86400.0
    stamp = np.datetime64(int(seconds * 1000), "ms")
    return str(stamp)[:23]
