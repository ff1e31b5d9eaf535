"""HiPS tiles (IVOA HiPS 1.0) as HEALPix maths: where a tile lives and which sky it shows.

A tile of order ``k`` is the NESTED HEALPix cell ``npix`` at depth ``k``; an image tile of
``width`` = 2**w pixels holds the cells of depth ``k + w`` inside it. Inside the tile, a cell's
NESTED index (the last ``2w`` bits) de-interleaves into face coordinates (``ix`` from the even
bits, ``iy`` from the odd ones), and the PNG/JPEG image shows ``ix`` down the rows (row 0 at
the top) and ``iy`` along the columns. This is the layout Aladin and ``reproject`` read: the
tests check it against the tile WCS ``reproject`` builds. The HEALPix maths is cdshealpix's.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import numpy as np
from cdshealpix import nested

from skyarchive.errors import BadQuery

#: Tiles of this order are gathered into the ``Allsky`` image (HiPS 1.0 §4.3.3).
ALLSKY_ORDER = 3
#: Tiles across one row of the ``Allsky`` image.
ALLSKY_COLUMNS = 27
#: The deepest order this archive builds (pixels of ~0.2 arcsec with 512-pixel tiles).
MAX_ORDER = 20


def tile_path(order: int, npix: int, extension: str) -> str:
    """The tile's path in a HiPS: ``Norder{k}/Dir{D}/Npix{n}.{ext}``, D = n // 10000 * 10000."""
    return f"Norder{order}/Dir{npix // 10000 * 10000}/Npix{npix}.{extension}"


def width_bits(width: int) -> int:
    """log2 of a tile width (a power of two from 8 to 4096)."""
    bits = int(width).bit_length() - 1
    if width < 8 or width > 4096 or 1 << bits != width:
        raise BadQuery(f"HiPS tile width {width} is not a power of two from 8 to 4096.")
    return bits


def interleave(ix: np.ndarray, iy: np.ndarray, bits: int) -> np.ndarray:
    """The NESTED sub-index of face coordinates (``ix`` on the even bits, ``iy`` on the odd)."""
    out = np.zeros(np.broadcast(ix, iy).shape, dtype=np.uint64)
    x, y = ix.astype(np.uint64), iy.astype(np.uint64)
    for bit in range(bits):
        one = np.uint64(1)
        out |= ((x >> np.uint64(bit)) & one) << np.uint64(2 * bit)
        out |= ((y >> np.uint64(bit)) & one) << np.uint64(2 * bit + 1)
    return out


@lru_cache(maxsize=4)
def _tile_offsets(width: int) -> np.ndarray:
    """Sub-indices of a tile's cells in image order (rows = ``ix``, columns = ``iy``)."""
    rows, columns = np.mgrid[0:width, 0:width]
    return interleave(rows, columns, width_bits(width))


def tile_cells(order: int, npix: int, width: int) -> tuple[np.ndarray, int]:
    """The NESTED indices (depth ``order + log2 width``) of a tile's pixels, shaped as the image."""
    bits = width_bits(width)
    base = np.uint64(npix) << np.uint64(2 * bits)
    return base + _tile_offsets(width), order + bits


def tile_sky(order: int, npix: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """RA and Dec (degrees) of the centre of every pixel of a tile, shaped as its image."""
    cells, depth = tile_cells(order, npix, width)
    lon, lat = nested.healpix_to_lonlat(cells.ravel(), depth)
    shape = cells.shape
    return (
        np.asarray(lon.to_value("deg")).reshape(shape),
        np.asarray(lat.to_value("deg")).reshape(shape),
    )


def tiles_touching(ra: np.ndarray, dec: np.ndarray, order: int) -> np.ndarray:
    """NESTED indices of the order-``order`` tiles a convex polygon (corners in degrees) touches.

    The polygon is widened by its own size's worth of tiles only through cdshealpix's cover,
    which may include a few tiles that merely border it: a tile that receives no pixel is
    simply not written.
    """
    import astropy.units as u

    cells, _depth, _full = nested.polygon_search(
        np.asarray(ra) * u.deg, np.asarray(dec) * u.deg, order, flat=True
    )
    return np.unique(np.asarray(cells, dtype=np.int64))


def cells_inside(ra: np.ndarray, dec: np.ndarray, order: int, width: int) -> np.ndarray:
    """The tile pixels (NESTED cells of depth ``order + log2 width``) a convex polygon touches."""
    import astropy.units as u

    depth = order + width_bits(width)
    cells, _depth, _full = nested.polygon_search(
        np.asarray(ra) * u.deg, np.asarray(dec) * u.deg, depth, flat=True
    )
    return np.unique(np.asarray(cells, dtype=np.uint64))


def deinterleave(sub: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """The face coordinates (ix, iy) of NESTED sub-indices: the inverse of :func:`interleave`."""
    ix = np.zeros(sub.shape, dtype=np.int64)
    iy = np.zeros(sub.shape, dtype=np.int64)
    values = sub.astype(np.uint64)
    one = np.uint64(1)
    for bit in range(bits):
        ix |= ((values >> np.uint64(2 * bit)) & one).astype(np.int64) << bit
        iy |= ((values >> np.uint64(2 * bit + 1)) & one).astype(np.int64) << bit
    return ix, iy


def by_tile(
    cells: np.ndarray, order: int, width: int
) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Cells of a tile-pixel depth grouped by tile: (npix, image rows, columns, RA, Dec)."""
    bits = width_bits(width)
    if not cells.size:
        return
    lon, lat = nested.healpix_to_lonlat(cells, order + bits)
    ra, dec = np.asarray(lon.to_value("deg")), np.asarray(lat.to_value("deg"))
    tiles = cells >> np.uint64(2 * bits)
    rows, columns = deinterleave(cells & np.uint64((1 << 2 * bits) - 1), bits)
    for npix in np.unique(tiles):
        mine = tiles == npix
        yield int(npix), rows[mine], columns[mine], ra[mine], dec[mine]


def order_for_pixel_scale(scale_deg: float, width: int) -> int:
    """The lowest order whose tile pixels are no coarser than ``scale_deg`` (at most MAX_ORDER)."""
    for order in range(MAX_ORDER + 1):
        if pixel_size_deg(order, width) <= scale_deg:
            return order
    return MAX_ORDER


def pixel_size_deg(order: int, width: int) -> float:
    """The mean size of a tile pixel: the square root of a depth ``order + log2 width`` cell."""
    depth = order + width_bits(width)
    return float(np.degrees(np.sqrt(4 * np.pi / (12 * 4**depth))))


def allsky_shape() -> tuple[int, int]:
    """(rows, columns) of tiles in the ``Allsky`` image of order :data:`ALLSKY_ORDER`."""
    tiles = 12 * 4**ALLSKY_ORDER
    return -(-tiles // ALLSKY_COLUMNS), ALLSKY_COLUMNS


def parse_properties(text: str) -> dict[str, str]:
    """The ``key = value`` lines of a HiPS ``properties`` file (comments left out)."""
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs if not key.lstrip().startswith("#")}
