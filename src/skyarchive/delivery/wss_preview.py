"""The OPD preview of a wavefront sensing product: its ``RESULT_PHASE`` map as a PNG with a
colour bar and the RMS in nm, read through :func:`file_answer` (the one access rule)."""

from __future__ import annotations

import io

import numpy as np
from astropy.io import fits
from PIL import Image, ImageDraw

from skyarchive.access.policy import Caller
from skyarchive.archive import Archive
from skyarchive.delivery.service import file_answer, file_bytes
from skyarchive.errors import NotFound

MAP_SIZE = 256
BAR_WIDTH = 18
LABEL_WIDTH = 64
MARGIN = 8

# A diverging blue-white-red colour ramp of our own: OPD is signed, zero is the mean wavefront.
_RAMP = np.array([[33, 102, 172], [146, 197, 222], [247, 247, 247], [244, 165, 130], [178, 24, 43]],
                 dtype="float64")  # fmt: skip


def _colours(fraction: np.ndarray) -> np.ndarray:
    """RGB of fractions in [0, 1] along the ramp."""
    position = np.clip(fraction, 0, 1) * (len(_RAMP) - 1)
    low = np.floor(position).astype(int).clip(0, len(_RAMP) - 2)
    weight = (position - low)[..., None]
    return (_RAMP[low] * (1 - weight) + _RAMP[low + 1] * weight).astype("uint8")


def opd_preview_png(archive: Archive, *, caller: Caller, filename: str) -> bytes:
    """A PNG of the OPD map of WSS product ``filename`` (nm, symmetric scale, RMS written).

    Raises
    ------
    NotFound
        No such file, or no RESULT_PHASE extension in it.
    Unauthorized, Forbidden
        The caller may not read the file.
    """
    answer = file_answer(archive, caller=caller, uri=f"mast:JWST/product/{filename}",
                         range_header=None)  # fmt: skip
    data = b"".join(file_bytes(archive, answer))
    with fits.open(io.BytesIO(data)) as hdul:
        if "RESULT_PHASE" not in hdul:
            raise NotFound(f"{filename} has no RESULT_PHASE extension to preview.")
        opd_nm = np.asarray(hdul["RESULT_PHASE"].data, dtype="float64") * 1000.0
    pupil = np.isfinite(opd_nm) & (opd_nm != 0)
    values = opd_nm[pupil]
    rms = float(values.std()) if values.size else 0.0
    limit = float(np.percentile(np.abs(values), 99.5)) if values.size else 1.0
    limit = limit or 1.0
    rgb = _colours((opd_nm + limit) / (2 * limit))
    rgb[~pupil] = (255, 255, 255)
    image = Image.fromarray(rgb[::-1]).resize((MAP_SIZE, MAP_SIZE), Image.Resampling.NEAREST)
    width = MAP_SIZE + 2 * MARGIN + BAR_WIDTH + LABEL_WIDTH
    height = MAP_SIZE + 2 * MARGIN + 18
    canvas = Image.new("RGB", (width, height), "white")
    canvas.paste(image, (MARGIN, MARGIN))
    ramp = _colours(np.linspace(1, 0, MAP_SIZE))[:, None, :].repeat(BAR_WIDTH, axis=1)
    bar_x = MARGIN * 2 + MAP_SIZE
    canvas.paste(Image.fromarray(ramp), (bar_x, MARGIN))
    draw = ImageDraw.Draw(canvas)
    for fraction, value in ((0.0, limit), (0.5, 0.0), (1.0, -limit)):
        y = MARGIN + int(fraction * (MAP_SIZE - 1))
        draw.line([(bar_x + BAR_WIDTH, y), (bar_x + BAR_WIDTH + 4, y)], fill="black")
        draw.text((bar_x + BAR_WIDTH + 6, max(0, y - 6)), f"{value:+.0f} nm", fill="black")
    draw.text((MARGIN, MAP_SIZE + MARGIN + 3), f"RMS {rms:.1f} nm", fill="black")
    out = io.BytesIO()
    canvas.save(out, "PNG")
    return out.getvalue()
