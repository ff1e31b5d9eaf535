"""HiPS tile maths (sky/hips_tiles.py) against cdshealpix's own answers and the HiPS layout.

The layout reference: in a HiPS PNG tile the first row runs along the HEALPix ``iy`` axis of
the tile's southern corner and the rows go down along ``ix`` (Aladin's and ``reproject``'s
tiles: read from the tile WCS ``reproject.hips`` 0.21 writes, checked once when this was
written). So the PNG's top-left pixel touches the tile's South vertex, the bottom-left its
East vertex, the top-right its West vertex and the bottom-right its North vertex, which the
tests take from ``cdshealpix.nested.vertices`` (returned South, East, North, West).
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from cdshealpix import nested

from skyarchive.errors import BadQuery
from skyarchive.sky import hips_tiles

WIDTH = 16


def _sep_arcsec(ra1, dec1, ra2, dec2) -> np.ndarray:  # type: ignore[no-untyped-def]
    one = SkyCoord(ra1 * u.deg, dec1 * u.deg)
    return one.separation(SkyCoord(ra2 * u.deg, dec2 * u.deg)).to_value(u.arcsec)


def test_tile_paths_follow_hips_1_0() -> None:
    assert hips_tiles.tile_path(3, 517, "png") == "Norder3/Dir0/Npix517.png"
    assert hips_tiles.tile_path(9, 2118250, "png") == "Norder9/Dir2110000/Npix2118250.png"


@pytest.mark.parametrize(
    ("order", "npix"),
    [(3, 0), (3, 300), (3, 767), (5, 4 * 4**5 + 17), (6, 3 * 4**6 + 4**6 - 1), (2, 8 * 16)],
)
def test_every_tile_pixel_lies_in_its_tile_and_corners_match_the_vertices(order, npix) -> None:  # type: ignore[no-untyped-def]
    ra, dec = hips_tiles.tile_sky(order, npix, WIDTH)
    cells = nested.lonlat_to_healpix(ra.ravel() * u.deg, dec.ravel() * u.deg, order)
    assert set(np.asarray(cells).tolist()) == {npix}
    lon, lat = nested.vertices(np.array([npix], dtype=np.uint64), order)
    south, east, north, west = zip(lon.to_value(u.deg)[0], lat.to_value(u.deg)[0], strict=True)
    pixel = hips_tiles.pixel_size_deg(order, WIDTH) * 3600
    corners = {
        (0, 0): south,
        (WIDTH - 1, 0): east,
        (0, WIDTH - 1): west,
        (WIDTH - 1, WIDTH - 1): north,
    }
    for (row, column), (vra, vdec) in corners.items():
        assert _sep_arcsec(ra[row, column], dec[row, column], vra, vdec) < pixel, (row, column)


def test_tiles_touching_a_polygon_across_ra_0_and_at_a_pole() -> None:
    # a 2-degree square straddling RA = 0: its centre and corners are covered
    ra, dec = np.array([359.0, 1.0, 1.0, 359.0]), np.array([-1.0, -1.0, 1.0, 1.0])
    tiles = hips_tiles.tiles_touching(ra, dec, 5)
    probes = nested.lonlat_to_healpix(
        np.array([0.0, 359.1, 0.9, 0.9, 359.1]) * u.deg,
        np.array([0.0, -0.9, -0.9, 0.9, 0.9]) * u.deg,
        5,
    )
    assert set(np.asarray(probes).tolist()) <= set(tiles.tolist())
    # a cap around the north pole
    cap = hips_tiles.tiles_touching(np.array([0.0, 90, 180, 270]), np.full(4, 88.0), 4)
    pole = nested.lonlat_to_healpix(
        np.array([0.0, 123.0]) * u.deg, np.array([89.9, 89.99]) * u.deg, 4
    )
    assert set(np.asarray(pole).tolist()) <= set(cap.tolist())


def test_interleave_is_the_nested_sub_index() -> None:
    # cell (ix, iy) of a depth-3 face: the NESTED index of its centre inside face 0
    ra, dec = hips_tiles.tile_sky(0, 0, 8)
    for ix in range(8):
        for iy in range(8):
            sub = int(hips_tiles.interleave(np.array(ix), np.array(iy), 3))
            cell = nested.lonlat_to_healpix(
                ra[ix, iy : iy + 1] * u.deg, dec[ix, iy : iy + 1] * u.deg, 3
            )
            assert int(cell[0]) == sub


def test_orders_follow_the_pixel_scale() -> None:
    assert hips_tiles.pixel_size_deg(9, 512) == pytest.approx(0.000224, rel=0.01)  # ~0.8″
    assert hips_tiles.order_for_pixel_scale(0.000224 * 1.01, 512) == 9
    assert hips_tiles.order_for_pixel_scale(10.0, 512) == 0
    with pytest.raises(BadQuery, match="power of two"):
        hips_tiles.width_bits(500)


def test_cells_inside_a_polygon_come_back_grouped_by_tile_in_image_order() -> None:
    # a small square across a tile boundary at order 5: every cell is in its tile, at its pixel
    ra, dec = np.array([44.9, 45.1, 45.1, 44.9]), np.array([41.7, 41.7, 41.9, 41.9])
    cells = hips_tiles.cells_inside(ra, dec, 5, WIDTH)
    assert cells.size
    seen = 0
    for npix, rows, columns, cell_ra, cell_dec in hips_tiles.by_tile(cells, 5, WIDTH):
        tile_ra, tile_dec = hips_tiles.tile_sky(5, npix, WIDTH)
        assert np.allclose(tile_ra[rows, columns], cell_ra) and np.allclose(
            tile_dec[rows, columns], cell_dec
        )
        seen += rows.size
    assert seen == cells.size
    x, y = np.arange(WIDTH), np.arange(WIDTH)[::-1]
    assert [a.tolist() for a in hips_tiles.deinterleave(hips_tiles.interleave(x, y, 4), 4)] == [
        x.tolist(),
        y.tolist(),
    ]
