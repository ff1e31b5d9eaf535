"""Association pools and association files, as the JWST pipeline's asn generator writes them.

Ingest links exposures to their stage-3 products through these files, so member names must be
exactly the files written next to them.
"""

from __future__ import annotations

import json
from pathlib import Path

from skyarchive.demo.fits_writer import CAL_VER
from skyarchive.demo.naming import stamp
from skyarchive.demo.plan import ProgramPlan

POOL_COLUMNS = (
    "FILENAME", "OBS_ID", "PROGRAM", "OBS_NUM", "VISIT", "VISIT_ID", "VISITGRP", "SEQ_ID",
    "ACT_ID", "EXPOSURE", "EXP_TYPE", "INSTRUME", "DETECTOR", "CHANNEL", "BAND", "TARGETID",
    "TARGPROP", "TARGNAME", "FILTER", "PUPIL", "GRATING", "SUBARRAY", "ASN_CANDIDATE", "TSOVISIT",
)  # fmt: skip
_CONSTRAINTS = {
    "image2": "DMSAttrConstraint('{'name': 'program', 'sources': ['program']}')",
    "spec2": "DMSAttrConstraint('{'name': 'program', 'sources': ['program']}')",
}


def write_pool(directory: Path, plan: ProgramPlan) -> Path:
    """One row per uncal file of the program; ``NULL`` where a value does not apply."""
    program = plan.recipe.proposal_id
    lines = ["|".join(POOL_COLUMNS)]
    for exposure in plan.exposures:
        obs = exposure.obs
        optics = exposure.optics
        row = {
            "FILENAME": f"{exposure.obs_id}_uncal.fits",
            "OBS_ID": f"V{program:05d}{obs.number:03d}001P"
            f"{f'{obs.visit_group:02d}1{exposure.activity:02d}':0>13}",
            "PROGRAM": f"{program:05d}",
            "OBS_NUM": f"{obs.number:03d}",
            "VISIT": "001",
            "VISIT_ID": f"{program:05d}{obs.number:03d}001",
            "VISITGRP": f"{obs.visit_group:02d}",
            "SEQ_ID": "1",
            "ACT_ID": f"{exposure.activity:02d}",
            "EXPOSURE": str(exposure.number),
            "EXP_TYPE": obs.exp_type,
            "INSTRUME": obs.instrument,
            "DETECTOR": exposure.detector.upper(),
            "CHANNEL": optics.get("CHANNEL"),
            "BAND": optics.get("BAND"),
            "TARGETID": "1",
            "TARGPROP": obs.target.prop,
            "TARGNAME": obs.target.name,
            "FILTER": optics.get("FILTER"),
            "PUPIL": optics.get("PUPIL"),
            "GRATING": optics.get("GRATING"),
            "SUBARRAY": obs.subarray,
            "ASN_CANDIDATE": f"[('o{obs.number:03d}', 'observation')]",
            "TSOVISIT": "T" if obs.tso else "F",
        }
        lines.append(
            "|".join("NULL" if row[c] in (None, "") else str(row[c]) for c in POOL_COLUMNS)
        )
    path = directory / plan.pool
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_associations(directory: Path, plan: ProgramPlan) -> list[Path]:
    paths = []
    version = stamp(plan.processed)
    for asn in plan.associations:
        candidate = f"[('o{asn.observation:03d}', 'observation')]"
        content = {
            "asn_id": f"o{asn.observation:03d}",
            "asn_pool": plan.pool.removesuffix(".csv"),
            "asn_rule": asn.rule,
            "asn_type": asn.asn_type,
            "code_version": CAL_VER,
            "constraints": _CONSTRAINTS.get(
                asn.asn_type,
                f"DMSAttrConstraint('{{'name': 'asn_type', 'value': '{asn.asn_type}'}}')",
            ),
            "degraded_status": "No known degraded exposures in association.",
            "program": f"{plan.recipe.proposal_id:05d}",
            "target": "t001",
            "version_id": version,
            "products": [
                {
                    "name": name,
                    "members": [
                        {
                            "expname": member,
                            "exptype": "science",
                            "exposerr": "null",
                            "asn_candidate": candidate,
                        }
                        for member in members
                    ],
                }  # fmt: skip
                for name, members in asn.products
            ],
        }
        path = directory / asn.name
        path.write_text(json.dumps(content, indent=4) + "\n", encoding="utf-8")
        paths.append(path)
    return paths
