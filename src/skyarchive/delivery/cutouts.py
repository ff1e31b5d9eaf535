"""Cutouts: a piece of a calibrated image around a sky position, as FITS (with WCS) or PNG.

A cutout is a way bytes of a file leave the archive, so it takes the ``caller`` and applies the
one access rule to the file it is cut from (no cutout of exclusive-access data for those who
may not download the file). The file is read through the storage seam (its local path, or its
bytes copied to a temporary file from object storage); astrocut cuts it, keeping the WCS.
Only level-2/3 images are cut: ``_cal`` and ``_i2d`` FITS files.
"""

from __future__ import annotations

import io
import math
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from astropy.io.fits.verify import VerifyWarning

from skyarchive.access.policy import Caller
from skyarchive.access.rights import now_mjd
from skyarchive.archive import Archive
from skyarchive.delivery.files import ProductFile, authorise, find_product, read_bytes
from skyarchive.errors import BadQuery

#: Cutout sides a caller may ask for, in arcseconds.
MIN_SIZE_ARCSEC = 1.0
MAX_SIZE_ARCSEC = 600.0
#: File kinds a cutout is cut from: calibrated exposures and resampled (combined) images.
CUTTABLE_SUFFIXES = ("_cal.fits", "_i2d.fits")
FORMATS = ("fits", "png")


@dataclass(frozen=True)
class Cutout:
    """The answer: its bytes, the name to offer them under and their media type."""

    content: bytes
    filename: str
    media_type: str


def check_position(ra: float, dec: float, size_arcsec: float) -> None:
    """BadQuery unless ``ra`` is in [0, 360) deg, ``dec`` in [-90, 90] deg and the size within
    [MIN_SIZE_ARCSEC, MAX_SIZE_ARCSEC] arcsec (numbers that are not finite included)."""
    if not (math.isfinite(ra) and 0.0 <= ra < 360.0):
        raise BadQuery(f"ra {ra} deg is outside [0, 360) deg.")
    if not (math.isfinite(dec) and -90.0 <= dec <= 90.0):
        raise BadQuery(f"dec {dec} deg is outside [-90, 90] deg.")
    if not (math.isfinite(size_arcsec) and MIN_SIZE_ARCSEC <= size_arcsec <= MAX_SIZE_ARCSEC):
        limits = f"[{MIN_SIZE_ARCSEC:g}, {MAX_SIZE_ARCSEC:g}] arcsec"
        raise BadQuery(f"size {size_arcsec} arcsec is outside {limits}.")


def cutout(
    archive: Archive,
    *,
    caller: Caller,
    uri: str,
    ra: float,
    dec: float,
    size_arcsec: float,
    fmt: str = "fits",
) -> Cutout:
    """A cutout of the image ``uri`` centred on (``ra``, ``dec``) (ICRS, degrees), ``size_arcsec``
    on a side, as FITS (the cut image HDU with its WCS) or PNG (asinh stretch).

    Raises
    ------
    BadQuery
        Coordinates or size out of range, an unknown format, a file that is not an image this
        archive cuts, or a position outside the image.
    NotFound
        No such file.
    Unauthorized, Forbidden
        The caller may not read the file (exclusive access).
    """
    fmt = (fmt or "fits").strip().lower()
    if fmt not in FORMATS:
        raise BadQuery(f"Unknown cutout format {fmt!r}; choose fits or png.")
    check_position(ra, dec, size_arcsec)
    with archive.engine.connect() as conn:
        product = find_product(conn, uri)
    authorise(caller, product, now=now_mjd())
    if not product.filename.lower().endswith(CUTTABLE_SUFFIXES):
        raise BadQuery(
            f"{product.filename} is not an image cutouts are made from; give a calibrated "
            f"(_cal.fits) or resampled (_i2d.fits) image."
        )
    with _local_file(archive, product) as path:
        made = _cut(path, product.filename, ra, dec, size_arcsec)
    stem = f"{product.filename.rsplit('.', 1)[0]}_{ra:.5f}_{dec:+.5f}_{size_arcsec:g}arcsec"
    if fmt == "png":
        return Cutout(_png(made), f"{stem}.png", "image/png")
    out = io.BytesIO()
    with warnings.catch_warnings():
        # Pipeline headers carry cards whose comments FITS must shorten: fixed, not news.
        warnings.simplefilter("ignore", VerifyWarning)
        made.writeto(out, output_verify="silentfix")
    return Cutout(out.getvalue(), f"{stem}.fits", "application/fits")


@contextmanager
def _local_file(archive: Archive, product: ProductFile) -> Iterator[Path]:
    path = archive.storage.local_path(product.storage_key)
    if path is not None:
        yield path
        return
    with tempfile.NamedTemporaryFile(suffix=".fits") as copy:
        for chunk in read_bytes(archive.storage, product, 0, product.size - 1):
            copy.write(chunk)
        copy.flush()
        yield Path(copy.name)


def _cut(path: Path, filename: str, ra: float, dec: float, size_arcsec: float):  # type: ignore[no-untyped-def]
    """The cut HDUList (primary header and the cut image with its WCS)."""
    import astropy.units as u
    from astrocut import FITSCutout
    from astropy.coordinates import SkyCoord

    centre = SkyCoord(ra * u.deg, dec * u.deg, frame="icrs")
    try:
        made = FITSCutout([str(path)], centre, cutout_size=size_arcsec * u.arcsec)
        cutouts = made.fits_cutouts
    except Exception as exc:  # astrocut says "no overlap" in several ways (ValueError, ...)
        raise BadQuery(
            f"Position {ra:.5f} {dec:+.5f} is not inside {filename} ({_reason(exc)})."
        ) from exc
    if not cutouts:
        raise BadQuery(f"Position {ra:.5f} {dec:+.5f} is not inside {filename}.")
    return cutouts[0]


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def _png(hdus) -> bytes:  # type: ignore[no-untyped-def]
    """The cut image with an asinh stretch, as PNG (north up as the file's WCS has it)."""
    import numpy as np
    from astrocut import normalize_img
    from PIL import Image

    data = next(h.data for h in hdus if getattr(h, "data", None) is not None and h.data.ndim == 2)
    finite = np.nan_to_num(np.asarray(data, dtype=float), nan=float(np.nanmin(data)))
    scaled = normalize_img(finite, stretch="asinh", minmax_percent=[0.5, 99.5])
    image = Image.fromarray(np.flipud(scaled).astype(np.uint8))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
