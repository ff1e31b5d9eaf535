"""Expand program recipes into exposures, stage-3 products, associations and visits.

Everything about *what* gets written (names, times, footprints, membership) is decided here,
before any file exists, so the writers are simple and the summary describes the plan exactly.
All randomness (time jitter, pointing jitter) is drawn from the one generator, in a fixed order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from skyarchive.demo import naming
from skyarchive.demo.footprints import Footprint, aperture_offset, enclosing, offset, rotate
from skyarchive.demo.programs import ObservationRecipe, ProgramRecipe

_LEVEL2_FOR = {"image2": "rate", "spec2": "rate", "tso-spec2": "rateints"}
_FROM_LEVEL2 = frozenset({"cal", "calints", "s3d", "x1d", "x1dints"})
_GUIDE_STAR_OFFSET = (-300.0, -380.0)  # FGS field from the science aperture, arcsec


@dataclass
class Exposure:
    program: ProgramRecipe
    obs: ObservationRecipe
    visit: int
    activity: int
    number: int
    numdthpt: int
    segment: int | None
    segments: int
    detector: str
    optics: Mapping[str, Any]
    obs_id: str
    suffixes: tuple[str, ...]
    start: datetime
    end: datetime
    nints: int
    int_start: int
    int_end: int
    footprint: Footprint
    level3: bool
    level3_id: str | None = None
    asn2: str | None = None
    asn3: str | None = None

    @property
    def effinttm(self) -> float:
        return round(self.obs.frame_time * (self.obs.ngroups - 1), 3)

    @property
    def effexptm(self) -> float:
        return round(self.effinttm * (self.int_end - self.int_start + 1), 3)

    def asn_table(self, suffix: str) -> str | None:
        """The association a product was made from, as its ASNTABLE keyword names it."""
        if suffix.endswith(("crf", "crfints")):
            return self.asn3
        return self.asn2 if suffix in _FROM_LEVEL2 else None


@dataclass
class Level3:
    obs_id: str
    program: ProgramRecipe
    obs: ObservationRecipe
    members: list[Exposure]
    suffixes: tuple[str, ...]
    footprint: Footprint
    asn: str = ""


@dataclass
class Visit:
    program: ProgramRecipe
    obs: ObservationRecipe
    number: int
    start: datetime
    end: datetime
    guide_star: Footprint


@dataclass
class Association:
    name: str
    asn_type: str
    rule: str
    observation: int
    products: list[tuple[str, list[str]]]  # (product name, member file names)


@dataclass
class ProgramPlan:
    recipe: ProgramRecipe
    processed: datetime  # when the pipeline ran: pool/asn stamps and the DATE keyword
    exposures: list[Exposure] = field(default_factory=list)
    level3: list[Level3] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)
    associations: list[Association] = field(default_factory=list)

    @property
    def pool(self) -> str:
        return naming.pool_name(self.recipe.proposal_id, self.processed)


def plan_program(
    recipe: ProgramRecipe, processed: datetime, rng: np.random.Generator
) -> ProgramPlan:
    plan = ProgramPlan(recipe=recipe, processed=processed)
    for obs in recipe.observations:
        exposures = _expose(recipe, obs, rng)
        plan.exposures.extend(exposures)
        visit_start = obs.start - timedelta(minutes=9)
        gx, gy = rotate(*_GUIDE_STAR_OFFSET, obs.roll)
        base = offset(obs.target.ra, obs.target.dec, *rotate(*obs.offset, obs.roll))
        guide = Footprint(*offset(*base, gx, gy), 138.0, 138.0, obs.roll)
        plan.visits.append(Visit(recipe, obs, 1, visit_start, exposures[-1].end, guide))
        plan.level3.extend(_group_level3(recipe, obs, exposures))
    _associate(plan)
    return plan


def _expose(
    recipe: ProgramRecipe, obs: ObservationRecipe, rng: np.random.Generator
) -> list[Exposure]:
    exposures: list[Exposure] = []
    moment = obs.start
    base_east, base_north = rotate(*obs.offset, obs.roll)
    base = offset(obs.target.ra, obs.target.dec, base_east, base_north)
    for act_index, activity in enumerate(obs.activities, start=1):
        suffixes = tuple(
            naming.product_suffix(s, obs.number) for s in (activity.suffixes or obs.suffixes)
        )
        nints = obs.nints * activity.segments
        duration = obs.frame_time * (obs.ngroups + 1) * nints
        for number in range(1, activity.dithers + 1):
            step = (number - 1) * obs.dither_step
            jitter = rng.normal(0.0, 0.004, size=2)  # arcsec of pointing error
            east, north = rotate(step + jitter[0], 0.6 * step + jitter[1], obs.roll)
            pointing = offset(*base, east, north)
            start = moment
            for detector, optics in activity.optics.items():
                dx, dy, width, height = aperture_offset(detector, obs.aperture)
                centre = offset(*pointing, *rotate(dx, dy, obs.roll))
                footprint = Footprint(*centre, width, height, obs.roll)
                for segment in range(1, activity.segments + 1):
                    per_segment = nints // activity.segments
                    first = (segment - 1) * per_segment + 1
                    last = segment * per_segment
                    seg_start = start + timedelta(seconds=duration * (first - 1) / nints)
                    seg_end = start + timedelta(seconds=duration * last / nints)
                    exposures.append(
                        Exposure(
                            program=recipe, obs=obs, visit=1, activity=act_index,
                            number=number, numdthpt=activity.dithers,
                            segment=segment if obs.tso else None, segments=activity.segments,
                            detector=detector, optics=optics,
                            obs_id=naming.exposure_obs_id(
                                recipe.proposal_id, obs.number, 1, obs.visit_group, 1,
                                act_index, number, detector, segment if obs.tso else None,
                            ),
                            suffixes=suffixes, start=seg_start, end=seg_end, nints=nints,
                            int_start=first, int_end=last, footprint=footprint,
                            level3=activity.level3,
                        )
                    )  # fmt: skip
            overhead = float(rng.uniform(40.0, 90.0))
            moment = start + timedelta(seconds=round(duration + overhead, 3))
    if not exposures:
        raise ValueError(f"observation {obs.number} of {recipe.proposal_id} is empty")
    return exposures


def _group_level3(
    recipe: ProgramRecipe, obs: ObservationRecipe, exposures: list[Exposure]
) -> list[Level3]:
    groups: dict[str, list[Exposure]] = {}
    for exposure in exposures:
        if not exposure.level3:
            continue
        if obs.exp_type == "MIR_MRS":
            key = str(exposure.optics["CHANNEL"])[0]
        else:
            key = naming.opt_elements(obs.instrument, exposure.optics, obs.subarray, obs.tso)
        groups.setdefault(key, []).append(exposure)
    products = []
    for key, members in groups.items():
        elements = key
        if obs.exp_type == "MIR_MRS":
            elements = naming.mrs_elements(key, (str(m.optics["BAND"]) for m in members))
        obs_id = naming.level3_obs_id(recipe.proposal_id, obs.number, obs.instrument, elements)
        footprint = enclosing([m.footprint for m in members])
        for member in members:
            member.level3_id = obs_id
        products.append(Level3(obs_id, recipe, obs, members, obs.level3_suffixes, footprint))
    return products


def _level2_type(obs: ObservationRecipe) -> str:
    if obs.tso:
        return "tso-spec2"
    return "image2" if obs.exp_type.endswith("_IMAGE") else "spec2"


def _level3_type(obs: ObservationRecipe) -> str:
    if obs.tso:
        return "tso3"
    return "image3" if obs.exp_type.endswith("_IMAGE") else "spec3"


def _associate(plan: ProgramPlan) -> None:
    """Level-2 associations per exposure, then level-3 ones per stage-3 product."""
    program = plan.recipe.proposal_id
    count = 0
    for exposure in plan.exposures:
        count += 1
        asn_type = _level2_type(exposure.obs)
        name = naming.asn_name(program, exposure.obs.number, plan.processed, asn_type, count)
        member_file = f"{exposure.obs_id}_{_LEVEL2_FOR[asn_type]}.fits"
        rule = {"image2": "Asn_Lv2Image", "spec2": "Asn_Lv2Spec"}.get(asn_type, "Asn_Lv2SpecTSO")
        plan.associations.append(
            Association(
                name, asn_type, rule, exposure.obs.number, [(exposure.obs_id, [member_file])]
            )
        )
        exposure.asn2 = name
    for product in plan.level3:
        count += 1
        asn_type = _level3_type(product.obs)
        name = naming.asn_name(program, product.obs.number, plan.processed, asn_type, count)
        kind = "calints" if product.obs.tso else "cal"
        members = [f"{m.obs_id}_{kind}.fits" for m in product.members]
        rule = {"image3": "Asn_Lv3Image", "spec3": "Asn_Lv3SpecAux"}.get(asn_type, "Asn_Lv3TSO")
        plan.associations.append(
            Association(name, asn_type, rule, product.obs.number, [(product.obs_id, members)])
        )
        product.asn = name
        for member in product.members:
            member.asn3 = name
