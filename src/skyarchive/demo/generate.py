"""Write the demo archive: synthetic but realistic JWST pipeline output plus manifests.

The files look like what MAST distributes (names, headers, footprints, associations, previews)
so ingest, search and the portal can be exercised end to end without downloading anything.
"""

from __future__ import annotations

import time as clock
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table

from skyarchive.demo import fits_writer as fw
from skyarchive.demo.associations import write_associations, write_pool
from skyarchive.demo.manifest import (
    HST,
    HST_OBSERVATIONS,
    SPITZER,
    SPITZER_OBSERVATIONS,
    OtherObservation,
    OtherProgram,
    write_other_mission,
    write_planned,
)
from skyarchive.demo.naming import guide_star_files
from skyarchive.demo.plan import Exposure, Level3, ProgramPlan, plan_program
from skyarchive.demo.previews import PREVIEW_KINDS, write_previews
from skyarchive.demo.programs import program_copies

# Files are dated as if the pipeline ran the morning before the archive was built.
PROCESSED_BEFORE_BUILD = timedelta(hours=15)
_SPECTRA = frozenset({"x1d", "x1dints"})
_WAVES = {
    "G395M": (2.87, 5.27), "G235M": (1.66, 3.17), "GR700XD": (0.6, 2.8), "1": (4.9, 7.65),
    "3": (11.55, 17.98),
}  # fmt: skip


@dataclass
class L3Info:
    files: list[str]  # file names in the program directory
    members: list[str]  # exposure obs ids combined into this product
    program: str


@dataclass
class ProgramInfo:
    proposal_id: str  # unpadded, as MAST shows it
    obs_collection: str
    category: str
    pi_name: str
    title: str
    cycle: int
    release_date: datetime | None  # end of the last exposure plus the exclusive-access period
    exclusive: bool  # in its exclusive-access period on the day the archive was built

    @property
    def exclusive_access(self) -> bool:
        return self.exclusive


@dataclass
class DemoSummary:
    """What :func:`generate` wrote; paths are relative to ``out_dir``."""

    out_dir: Path
    seed: int
    scale: int
    built: date  # the day the dates are relative to (exclusive access ends a year after)
    files: list[Path] = field(default_factory=list)  # every file, in the order written
    exposure_obs: dict[str, list[str]] = field(default_factory=dict)  # obs id -> own file names
    level3_obs: dict[str, L3Info] = field(default_factory=dict)
    programs: dict[str, ProgramInfo] = field(default_factory=dict)
    planned_obs: list[str] = field(default_factory=list)
    other_mission_obs: list[str] = field(default_factory=list)
    manifests: list[Path] = field(default_factory=list)
    associations: list[Path] = field(default_factory=list)
    pools: list[Path] = field(default_factory=list)
    guide_star_files: list[Path] = field(default_factory=list)
    bad_files: list[Path] = field(default_factory=list)  # always empty: only good files here
    seconds: float = 0.0  # wall time taken (not part of any file)


def generate(
    out_dir: Path, *, seed: int = 1, scale: int = 1, built: date | None = None
) -> DemoSummary:
    """Write a demo archive into ``out_dir`` (created; must be empty) and describe it.

    Layout: ``jwst/jw<ppppp>/`` per JWST program (exposure and stage-3 FITS, previews,
    associations, pool, guide-star files), ``hst/`` and ``spitzer/`` for other missions, and
    ``planned.skyarchive.json``, ``hst.skyarchive.json``, ``spitzer.skyarchive.json`` manifests
    at the top. Same ``seed`` and ``built`` give byte-identical files; ``scale=K`` adds K-1
    copies of the five JWST programs (ids 90000 and up, moved on the sky) for benchmarks.

    ``built`` (default: today, UTC) anchors the recent dates: the exclusive-access program is
    observed two weeks before it and processed the day before, so its 12-month exclusive-access
    period lasts about 11 months from the day the demo is made, whichever year that is. The
    public programs keep the past dates of the programs they imitate.

    From a shell: ``python -m skyarchive.demo OUT_DIR [--seed N] [--scale K]``.
    """
    began = clock.perf_counter()
    built = built or datetime.now(UTC).date()
    built_at = datetime.combine(built, time(0, 0))
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} is not empty; the demo is written into a fresh folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    processed = (
        built_at - PROCESSED_BEFORE_BUILD + timedelta(seconds=int(rng.integers(0, 6 * 3600)))
    )
    summary = DemoSummary(out_dir=out_dir, seed=seed, scale=scale, built=built)
    recipes = program_copies(scale, built)
    written: list[Path] = []
    for index, recipe in enumerate(recipes):
        plan = plan_program(recipe, processed + timedelta(minutes=7 * index), rng)
        written.extend(_write_program(out_dir, plan, summary, rng))
        last = max(e.end for e in plan.exposures)
        release = last + timedelta(days=365 * recipe.eap_months // 12)
        summary.programs[str(recipe.proposal_id)] = ProgramInfo(
            str(recipe.proposal_id), "JWST", recipe.category, recipe.pi_name, recipe.title,
            recipe.cycle, release, release > built_at,
        )  # fmt: skip
    manifest, summary.planned_obs = write_planned(out_dir, recipes)
    summary.manifests.append(manifest)
    written.append(manifest)
    for subdir, program, observations in (
        ("hst", HST, HST_OBSERVATIONS),
        ("spitzer", SPITZER, SPITZER_OBSERVATIONS),
    ):
        manifest, files = write_other_mission(out_dir, subdir, program, observations, rng)
        summary.manifests.append(manifest)
        written.extend([*files, manifest])
        summary.other_mission_obs.extend(obs.obs_id for obs in observations)
        summary.programs[program.proposal_id] = _other_info(program, observations)
    summary.files = [path.relative_to(out_dir) for path in written]
    for attribute in ("manifests", "associations", "pools", "guide_star_files"):
        paths = getattr(summary, attribute)
        setattr(
            summary, attribute, [p.relative_to(out_dir) if p.is_absolute() else p for p in paths]
        )
    summary.seconds = clock.perf_counter() - began
    return summary


def _other_info(program: OtherProgram, observations: tuple[OtherObservation, ...]) -> ProgramInfo:
    last = max(obs.start + timedelta(seconds=obs.exptime) for obs in observations)
    return ProgramInfo(program.proposal_id, program.collection, program.category,
                       program.pi_name, program.title, program.cycle,
                       last + timedelta(days=365), False)  # fmt: skip


def _write_program(
    out_dir: Path, plan: ProgramPlan, summary: DemoSummary, rng: np.random.Generator
) -> list[Path]:
    directory = out_dir / "jwst" / f"jw{plan.recipe.proposal_id:05d}"
    directory.mkdir(parents=True, exist_ok=True)
    provenance = fw.Provenance(date=plan.processed + timedelta(hours=1), pool=plan.pool)
    written: list[Path] = []
    for exposure in plan.exposures:
        files = _write_exposure(directory, exposure, provenance, rng)
        summary.exposure_obs[exposure.obs_id] = [p.name for p in files]
        written.extend(files)
    for product in plan.level3:
        files = _write_level3(directory, product, provenance, rng)
        summary.level3_obs[product.obs_id] = L3Info(
            [p.name for p in files], [m.obs_id for m in product.members],
            str(plan.recipe.proposal_id),
        )  # fmt: skip
        written.extend(files)
    for visit in plan.visits:
        for name, exp_type in guide_star_files(
            plan.recipe.proposal_id, visit.obs.number, visit.number, visit.start
        ):
            path = directory / name
            header = fw.guide_star_header(visit, exp_type, name, provenance)
            kind = "cal" if name.endswith("_cal.fits") else "uncal"
            data = fw.science_data(kind, 1, 2, fw.SIZE, rng)
            fw.write_image(
                path, header, data, fw.sci_header(visit.guide_star, fw.bunit(kind), fw.SIZE)
            )
            summary.guide_star_files.append(path)
            written.append(path)
    pool = write_pool(directory, plan)
    associations = write_associations(directory, plan)
    summary.pools.append(pool)
    summary.associations.extend(associations)
    return [*written, pool, *associations]


def _wave_range(optics: Mapping[str, Any], channel: str | None) -> tuple[float, float]:
    """Nominal wavelength coverage (um) of a spectrum or cube, for its WCS and table."""
    if channel:
        return _WAVES[channel]
    for key in ("GRATING", "PUPIL"):
        if optics.get(key) in _WAVES:
            return _WAVES[optics[key]]
    return (1.0, 2.0)


def _write_exposure(
    directory: Path, exposure: Exposure, provenance: fw.Provenance, rng: np.random.Generator
) -> list[Path]:
    written = []
    nints = exposure.int_end - exposure.int_start + 1
    channel = str(exposure.optics.get("CHANNEL", ""))[:1] or None
    if exposure.obs.instrument != "MIRI":
        channel = None
    wave = _wave_range(exposure.optics, channel)
    for suffix in exposure.suffixes:
        kind = suffix.rsplit("_", 1)[-1]
        name = f"{exposure.obs_id}_{suffix}.fits"
        path = directory / name
        header = fw.exposure_header(exposure, suffix, name, provenance)
        if kind in _SPECTRA:
            extra = {"S_REGION": exposure.footprint.s_region(), "SRCRA": exposure.footprint.ra,
                     "SRCDEC": exposure.footprint.dec}  # fmt: skip
            fw.write_spectrum(path, header, fw.spectrum_table(wave, rng), extra.items())
            written.append(path)
            continue
        data = fw.science_data(kind, nints, exposure.obs.ngroups, fw.SIZE, rng)
        sci = fw.sci_header(
            exposure.footprint, fw.bunit(kind), fw.SIZE, wave if kind == "s3d" else None
        )
        fw.write_image(path, header, data, sci)
        written.append(path)
        if kind in PREVIEW_KINDS:
            written.extend(write_previews(directory / f"{exposure.obs_id}_{suffix}", data))
    return written


def _write_level3(
    directory: Path, product: Level3, provenance: fw.Provenance, rng: np.random.Generator
) -> list[Path]:
    written = []
    size = 2 * fw.SIZE
    first = product.members[0]
    channel = product.obs_id.rsplit("_ch", 1)[1][0] if product.obs.exp_type == "MIR_MRS" else None
    wave = _wave_range(first.optics, channel)
    for suffix in product.suffixes:
        if suffix in ("cat", "whtlt"):
            path = directory / f"{product.obs_id}_{suffix}.ecsv"
            _write_table(path, suffix, product, rng)
            written.append(path)
            continue
        name = f"{product.obs_id}_{suffix}.fits"
        path = directory / name
        header = fw.level3_header(product, suffix, name, provenance)
        if suffix in _SPECTRA:
            footprint = product.footprint
            extra = {"S_REGION": footprint.s_region(), "SRCRA": footprint.ra,
                     "SRCDEC": footprint.dec}  # fmt: skip
            fw.write_spectrum(path, header, fw.spectrum_table(wave, rng), extra.items())
            written.append(path)
            continue
        data = fw.science_data(suffix, 1, 1, size, rng)
        sci = fw.sci_header(
            product.footprint, fw.bunit(suffix), size, wave if suffix == "s3d" else None
        )
        fw.write_image(path, header, data, sci)
        written.append(path)
        if suffix in PREVIEW_KINDS:
            written.extend(write_previews(directory / f"{product.obs_id}_{suffix}", data))
    return written


def _write_table(path: Path, suffix: str, product: Level3, rng: np.random.Generator) -> None:
    """Source catalog (``cat``) or white-light curve (``whtlt``) as ECSV."""
    if suffix == "cat":
        count = 5
        centre = product.footprint
        half = min(centre.width, centre.height) / 2 / 3600.0
        table = Table(
            {
                "label": np.arange(1, count + 1, dtype=np.int32),
                "xcentroid": rng.uniform(0, 2 * fw.SIZE, count).round(4),
                "ycentroid": rng.uniform(0, 2 * fw.SIZE, count).round(4),
                "sky_centroid_ra": (centre.ra + rng.uniform(-half, half, count)).round(8),
                "sky_centroid_dec": (centre.dec + rng.uniform(-half, half, count)).round(8),
                "isophotal_abmag": rng.uniform(18.0, 25.0, count).round(4),
            }
        )
    else:
        start = fw.mjd(min(m.start for m in product.members))
        end = fw.mjd(max(m.end for m in product.members))
        times = np.linspace(start, end, 8)
        depth = np.where(np.abs(np.arange(8) - 3.5) < 2, 0.021, 0.0)
        table = Table(
            {
                "int_mid_MJD_UTC": times.round(8),
                "int_mid_BJD_TDB": (times + 0.0009).round(8),
                "whitelight_flux": (1.0 - depth + rng.normal(0, 1e-4, 8)).round(6),
            }
        )
    table.write(path, format="ascii.ecsv")
