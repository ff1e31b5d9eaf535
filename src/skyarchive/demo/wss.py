"""Synthetic wavefront sensing (WSS) products for the demo: a few OPD maps two to three days
apart, as the routine wavefront monitoring makes them.

Each file is ``<corr_id>-<apername>-<n>.fits``: a primary header with the keywords of
``Mast.Jwst.Filtered.Wss`` and an OPD in extension ``RESULT_PHASE`` (256×256, microns, zero
outside a circular pupil with a central obstruction), made of a few low-order aberrations and
mid-frequency ripple whose RMS drifts between maps. A second extension holds the pupil mask,
standing in for the further phase-retrieval extensions of real products.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from astropy.io import fits

SIZE = 256
#: (sensing time, aperture, analysis suffix) of each demo OPD map.
DEMO_SENSINGS = (
    (datetime(2022, 6, 28, 3, 12, 5), "NRCA3_FP1"),
    (datetime(2022, 6, 30, 21, 40, 51), "NRCA3_FP1"),
    (datetime(2022, 7, 3, 8, 2, 17), "NRCA3_FP1"),
    (datetime(2022, 7, 5, 14, 55, 0), "NRCA1_FP6"),
    (datetime(2022, 7, 8, 1, 20, 44), "NRCA3_FP1"),
    (datetime(2022, 7, 10, 19, 3, 29), "NRCA3_FP1"),
)


def write_demo_wss(out_dir: Path, *, seed: int = 1) -> list[Path]:
    """Write the demo's WSS products into ``out_dir``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    y, x = (np.mgrid[0:SIZE, 0:SIZE] - (SIZE - 1) / 2) / (SIZE / 2)
    radius, angle = np.hypot(x, y), np.arctan2(y, x)
    pupil = (radius <= 0.98) & (radius >= 0.22)
    written = []
    for index, (moment, aperture) in enumerate(DEMO_SENSINGS, start=1):
        corr_id = f"R{moment:%Y%m%d}{index:02d}"
        opd_um = _opd(radius, angle, pupil, rng, drift=index)
        primary = fits.PrimaryHDU()
        header = primary.header
        visit = f"01163{100 + index:03d}001"
        header.update({
            "TELESCOP": "JWST", "ORIGIN": "skyarchive demo", "PROGRAM": "01163",
            "OBSERVTN": f"{100 + index:03d}", "VISIT_ID": visit, "ACT_ID": "01",
            "OBS_ID": f"V{visit}P0000000002101", "CORR_ID": corr_id, "APERNAME": aperture,
            "AP_TYPE": "OPD", "DATE-OBS": f"{moment:%Y-%m-%d}",
            "TIME-OBS": f"{moment:%H:%M:%S.%f}"[:12],
            "DATE": f"{moment + timedelta(hours=6):%Y-%m-%dT%H:%M:%S}",
        })  # fmt: skip
        phase = fits.ImageHDU(opd_um.astype("float32"), name="RESULT_PHASE")
        mask = fits.ImageHDU(pupil.astype("uint8"), name="PUPIL_MASK")
        path = out_dir / f"{corr_id}-{aperture}-1.fits"
        fits.HDUList([primary, phase, mask]).writeto(path, overwrite=True)
        written.append(path)
    return written


def _opd(
    radius: np.ndarray, angle: np.ndarray, pupil: np.ndarray, rng: np.random.Generator, drift: int
) -> np.ndarray:
    """An OPD in microns: defocus, astigmatism, coma, trefoil and ripple, zero off the pupil."""
    r = radius
    terms = (
        (0.012 + 0.002 * drift) * (2 * r**2 - 1),  # focus drifts between sensings
        0.018 * r**2 * np.cos(2 * angle),
        0.010 * (3 * r**3 - 2 * r) * np.sin(angle),
        0.008 * r**3 * np.cos(3 * angle + 0.3 * drift),
        0.004 * np.sin(14 * r * np.cos(angle - 0.7)) * np.cos(11 * r * np.sin(angle)),
    )
    opd = np.sum(terms, axis=0) + rng.normal(0, 0.002, r.shape)
    # scaled to the 60-80 nm RMS the telescope's wavefront shows
    return np.where(pupil, 5.0 * (opd - opd[pupil].mean()), 0.0)
