"""The demo programs as data: which targets, instruments, optics and products each one has.

Recipes are kept apart from the code that expands them so the demo archive can be read (and
changed) as a list of observing programs. Positions, optics and product suffixes follow the real
JWST programs they imitate (1073, 1558, 1539, 1366); people and the exclusive-access program 4567
are invented.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any


@dataclass(frozen=True)
class Target:
    name: str  # TARGNAME
    prop: str  # TARGPROP, the proposer's label
    ra: float
    dec: float
    classification: str


@dataclass(frozen=True)
class Activity:
    """Detectors exposing together with fixed optics, dithered ``dithers`` times."""

    optics: Mapping[str, Mapping[str, Any]]  # detector -> optics keywords
    dithers: int = 2
    segments: int = 1
    suffixes: tuple[str, ...] | None = None  # None: the observation's suffixes
    level3: bool = True  # whether stage 3 combines these exposures


@dataclass(frozen=True)
class ObservationRecipe:
    number: int
    instrument: str  # INSTRUME
    exp_type: str
    template: str
    label: str
    target: Target
    start: datetime
    offset: tuple[float, float]  # aperture reference from the target, arcsec (east, north)
    roll: float  # position angle of the aperture y axis, deg east of north
    aperture: str
    activities: tuple[Activity, ...]
    suffixes: tuple[str, ...]  # per exposure; "crf" becomes "o<obs>_crf"
    level3_suffixes: tuple[str, ...]
    readpatt: str
    ngroups: int
    nints: int
    frame_time: float  # s
    subarray: str = "FULL"
    pattern: str = "NONE"
    dither_step: float = 0.5  # arcsec
    visit_group: int = 2
    tso: bool = False


@dataclass(frozen=True)
class PlannedRecipe:
    """An observation accepted in a program but not yet executed (no files, manifest only)."""

    number: int
    instrument: str  # lower-case name used in the obs id
    instrument_name: str  # CAOM instrument_name
    filters: str
    target: Target
    exptime: float
    dataproduct_type: str
    em_range: tuple[float, float]  # nm
    offset: tuple[float, float] = (0.0, 0.0)
    size: tuple[float, float] = (74.0, 113.0)  # footprint, arcsec


@dataclass(frozen=True)
class ProgramRecipe:
    proposal_id: int
    category: str
    pi_name: str
    title: str
    cycle: int
    scicat: str
    subcat: str
    eap_months: int
    observations: tuple[ObservationRecipe, ...]
    planned: tuple[PlannedRecipe, ...] = field(default=())


LMC_FIELD = Target("LMC-ASTROMETRIC-FIELD", "LMC-ASTROMETRIC-FIELD", 80.4875, -69.4986, "Field")
M57 = Target("NGC 6720", "RING-NEBULA", 283.396, 33.029, "Planetary nebula")
WASP39 = Target("WASP-39", "WASP-39", 217.3266, -5.4445, "Star; Exoplanet host")
HD189733 = Target("HD 189733", "HD-189733", 300.1821, 22.7097, "Star; Exoplanet host")

_CLEAR = {"PUPIL": "CLEAR"}


def _nircam(detectors: tuple[str, ...], short: str, long: str, dithers: int = 2) -> Activity:
    optics = {
        det: {"FILTER": long if det.endswith("long") else short, **_CLEAR} for det in detectors
    }
    return Activity(optics=optics, dithers=dithers)


def _miri(filter_name: str, dithers: int = 2) -> Activity:
    return Activity(optics={"mirimage": {"FILTER": filter_name}}, dithers=dithers)


def _mrs(band: str, dithers: int = 1) -> Activity:
    return Activity(
        optics={
            "mirifushort": {"CHANNEL": "12", "BAND": band},
            "mirifulong": {"CHANNEL": "34", "BAND": band},
        },
        dithers=dithers,
    )


def _nirspec(grating: str, filter_name: str) -> Activity:
    optics = {"GRATING": grating, "FILTER": filter_name, "FXD_SLIT": "NONE"}
    return Activity(optics={"nrs1": optics, "nrs2": optics}, dithers=2)


_NIRCAM_ALL = ("nrca1", "nrca2", "nrcalong", "nrcb1", "nrcblong")
_NIRCAM_SUFFIXES = ("uncal", "rate", "rateints", "trapsfilled", "cal", "crf")
_IMAGE3 = ("i2d", "segm", "cat")


def _nircam_obs(number: int, target: Target, start: datetime, **kwargs: Any) -> ObservationRecipe:
    values: dict[str, Any] = {
        "instrument": "NIRCAM",
        "exp_type": "NRC_IMAGE",
        "template": "NIRCam Imaging",
        "target": target,
        "start": start,
        "suffixes": _NIRCAM_SUFFIXES,
        "level3_suffixes": _IMAGE3,
        "readpatt": "BRIGHT2",
        "ngroups": 6,
        "nints": 1,
        "frame_time": 10.737,
        "pattern": "INTRAMODULEX",
        "dither_step": 1.8,
    }
    values.update(kwargs)
    return ObservationRecipe(number=number, **values)


# The exclusive-access program is observed this long before the demo archive is built, so it is
# in its 12-month exclusive-access period for about 11 months after every build, whatever the year.
EXCLUSIVE_OBSERVED_BEFORE_BUILD = timedelta(days=14)


def jwst_cycle(day: date) -> int:
    """The JWST General Observers cycle running on ``day`` (cycle 1 began in July 2022)."""
    return day.year - 2021 if day.month >= 7 else day.year - 2022


def base_programs(built: date) -> list[ProgramRecipe]:
    """The five JWST programs of the demo archive (scale 1), for an archive built on ``built``.

    Programs 1073, 1558, 1539 and 1366 keep the dates of the real programs they imitate; the
    exclusive-access program 4567 is observed two weeks before ``built``.
    """
    exclusive_start = datetime.combine(built, time(3, 15)) - EXCLUSIVE_OBSERVED_BEFORE_BUILD
    commissioning = ProgramRecipe(
        proposal_id=1073,
        category="COM",
        pi_name="Nguyen, Lan",
        title="NIRCam Astrometric Calibration in the LMC",
        cycle=1,
        scicat="Calibration",
        subcat="NIRCAM",
        eap_months=0,
        observations=(
            _nircam_obs(
                1, LMC_FIELD, datetime(2022, 5, 11, 14, 30, 22), label="SW F150W LW F277W",
                offset=(0.0, 0.0), roll=86.4, aperture="NRCALL_FULL",
                activities=(_nircam(_NIRCAM_ALL, "F150W", "F277W"),),
            ),
            _nircam_obs(
                2, LMC_FIELD, datetime(2022, 5, 11, 18, 10, 5), label="SW F200W LW F444W",
                offset=(12.0, -8.0), roll=86.4, aperture="NRCALL_FULL",
                activities=(_nircam(_NIRCAM_ALL, "F200W", "F444W"),),
            ),
        ),
    )  # fmt: skip
    ring = ProgramRecipe(
        proposal_id=1558,
        category="GO",
        pi_name="Wesson, Roger",
        title="The Ring Nebula: a JWST view of a planetary nebula",
        cycle=1,
        scicat="Stellar Physics and Stellar Types",
        subcat="PLANETARY NEBULAE",
        eap_months=12,
        observations=(
            ObservationRecipe(
                number=1, instrument="MIRI", exp_type="MIR_IMAGE", template="MIRI Imaging",
                label="Ring imaging", target=M57, start=datetime(2022, 7, 4, 9, 12, 40),
                offset=(20.0, -15.0), roll=255.2, aperture="MIRIM_FULL",
                activities=tuple(_miri(f) for f in ("F560W", "F1000W", "F1800W")),
                suffixes=("uncal", "rate", "rateints", "cal", "crf"), level3_suffixes=_IMAGE3,
                readpatt="FASTR1", ngroups=20, nints=1, frame_time=2.775, pattern="4-POINT",
                dither_step=2.5,
            ),
            ObservationRecipe(
                number=2, instrument="MIRI", exp_type="MIR_MRS", template="MIRI MRS",
                label="Ring MRS", target=M57, start=datetime(2022, 7, 4, 12, 40, 10),
                offset=(0.0, 35.0), roll=255.2, aperture="MIRIFU_CHANNEL1A",
                activities=tuple(_mrs(b) for b in ("SHORT", "MEDIUM", "LONG")),
                suffixes=("uncal", "rate", "cal", "s3d", "x1d", "crf"),
                level3_suffixes=("s3d", "x1d"), readpatt="SLOWR1", ngroups=10, nints=1,
                frame_time=23.889, pattern="4-POINT-EXTENDED",
            ),
            _nircam_obs(
                5, M57, datetime(2022, 7, 4, 16, 5, 0), label="Ring NIRCam",
                offset=(-40.0, 25.0), roll=255.2, aperture="NRCB5_FULL",
                activities=(_nircam(("nrcb1", "nrcblong"), "F212N", "F335M"),),
            ),
        ),
        planned=(
            PlannedRecipe(3, "miri", "MIRI/IMAGE", "F2550W", M57, 1332.0, "image",
                          (24000.0, 27000.0), offset=(10.0, 10.0)),
            PlannedRecipe(4, "miri", "MIRI/IFU", "CH4;LONG", M57, 2775.0, "cube",
                          (17700.0, 27900.0), offset=(0.0, 35.0), size=(7.0, 8.0)),
        ),
    )  # fmt: skip
    ifu = ProgramRecipe(
        proposal_id=1539,
        category="GTO",
        pi_name="Okafor, Chidi",
        title="NIRSpec IFU Spectroscopy of the Ring Nebula Knots",
        cycle=1,
        scicat="Stellar Physics and Stellar Types",
        subcat="PLANETARY NEBULAE",
        eap_months=12,
        observations=(
            ObservationRecipe(
                number=3, instrument="NIRSPEC", exp_type="NRS_IFU",
                template="NIRSpec IFU Spectroscopy", label="Knots IFU", target=M57,
                start=datetime(2023, 1, 14, 22, 5, 31), offset=(20.0, 22.0), roll=96.7,
                aperture="NRS_FULL_IFU",
                activities=(_nirspec("G395M", "F290LP"), _nirspec("G235M", "F170LP")),
                suffixes=("uncal", "rate", "cal", "s3d", "x1d", "crf"),
                level3_suffixes=("s3d", "x1d"), readpatt="NRSIRS2RAPID", ngroups=12, nints=1,
                frame_time=14.589, pattern="4-POINT-DITHER", dither_step=0.25,
            ),
        ),
    )  # fmt: skip
    tso = ProgramRecipe(
        proposal_id=1366,
        category="ERS",
        pi_name="Keller, Maren",
        title="The Transiting Exoplanet Community Early Release Science Program",
        cycle=1,
        scicat="Exoplanets and Exoplanet Formation",
        subcat="EXOPLANET ATMOSPHERES",
        eap_months=0,
        observations=(
            ObservationRecipe(
                number=1, instrument="NIRISS", exp_type="NIS_SOSS", template="NIRISS SOSS",
                label="WASP-39b transit", target=WASP39, start=datetime(2022, 7, 26, 16, 42, 3),
                offset=(0.0, 0.0), roll=132.0, aperture="NIS_SUBSTRIP256",
                activities=(
                    Activity(
                        optics={"nis": {"FILTER": "CLEAR", "PUPIL": "GR700XD"}},
                        dithers=1, segments=2,
                    ),
                    Activity(
                        optics={"nis": {"FILTER": "F277W", "PUPIL": "GR700XD"}}, dithers=1,
                        suffixes=("uncal", "rate", "rateints", "calints"), level3=False,
                    ),
                ),
                suffixes=("uncal", "rate", "rateints", "calints", "x1dints", "crfints"),
                level3_suffixes=("x1dints", "whtlt"), readpatt="NISRAPID", ngroups=9, nints=4,
                frame_time=5.494, subarray="SUBSTRIP256", visit_group=4, tso=True,
            ),
        ),
    )  # fmt: skip
    exclusive = ProgramRecipe(
        proposal_id=4567,
        category="GO",
        pi_name="Rivera, Ana",
        title="Mid-infrared Imaging of the HD 189733 System",
        cycle=jwst_cycle(exclusive_start.date()),
        scicat="Exoplanets and Exoplanet Formation",
        subcat="EXOPLANET SYSTEMS",
        eap_months=12,
        observations=(
            ObservationRecipe(
                number=1, instrument="MIRI", exp_type="MIR_IMAGE", template="MIRI Imaging",
                label="HD 189733 F770W", target=HD189733, start=exclusive_start,
                offset=(0.0, 0.0), roll=71.3, aperture="MIRIM_FULL",
                activities=(_miri("F770W"),),
                suffixes=("uncal", "rate", "rateints", "cal", "crf"), level3_suffixes=_IMAGE3,
                readpatt="FASTR1", ngroups=25, nints=1, frame_time=2.775, pattern="4-POINT",
                dither_step=2.5,
            ),
        ),
        planned=(
            PlannedRecipe(2, "miri", "MIRI/IMAGE", "F1500W", HD189733, 888.0, "image",
                          (13500.0, 16500.0)),
            PlannedRecipe(3, "miri", "MIRI/IMAGE", "F2100W", HD189733, 1221.0, "image",
                          (18000.0, 24000.0)),
        ),
    )  # fmt: skip
    return [commissioning, ring, ifu, tso, exclusive]


def program_copies(scale: int, built: date) -> list[ProgramRecipe]:
    """``scale`` copies of the base programs; copies get 9xxxx ids and moved targets.

    Copies keep dates and optics so each behaves like its original, but sit elsewhere on the sky
    (and under their own target names) so benchmarks see spread-out positions and no copy is
    confused with the real target by name resolution.
    """
    base = base_programs(built)
    if scale < 1 or (scale - 1) * len(base) > 9999:
        raise ValueError(f"scale must be between 1 and {9999 // len(base) + 1}, not {scale}")
    programs = list(base)
    for copy in range(1, scale):
        for index, program in enumerate(base):
            new_id = 90000 + (copy - 1) * len(base) + index
            programs.append(_moved(program, new_id, copy))
    return programs


def _moved(program: ProgramRecipe, new_id: int, copy: int) -> ProgramRecipe:
    ra_shift = (copy * 137.50776) % 360.0  # golden angle: successive copies spread evenly
    dec_shift = ((copy * 23) % 50) - 25.0

    def move(target: Target) -> Target:
        dec = max(-80.0, min(80.0, target.dec + dec_shift))
        label = f"{target.prop}-C{copy}"
        return replace(target, name=label, prop=label, ra=(target.ra + ra_shift) % 360.0, dec=dec)

    observations = tuple(replace(o, target=move(o.target)) for o in program.observations)
    planned = tuple(replace(p, target=move(p.target)) for p in program.planned)
    return replace(
        program,
        proposal_id=new_id,
        title=f"{program.title} (benchmark copy {copy})",
        observations=observations,
        planned=planned,
    )
