"""The archive's own sky: a HiPS (IVOA HiPS 1.0) built from its public calibrated images.

Which images: every resampled mosaic (``I2D``) whose observation is public now, and the
calibrated exposures (``CAL``) of programs that have no public mosaic, so each program shows
its data once, at its best. Only files that ``access.rights`` says are released go in: the
HiPS is served to everyone, so a file still in its exclusive-access period never reaches it.
Build again (``skyarchive hips build``) after an ingest or when data become public.

How: the tiles of the deepest order come from sampling each image (bilinear, through its
celestial WCS: astropy) at the centres of the HEALPix cells of each tile that image touches
(cdshealpix), averaging where images overlap; every lower order averages 2×2 blocks of its
four children; one pixel cut (the 0.5 and 99.5 percentiles of the images' pixels, asinh
stretch) makes them grey PNG tiles, transparent where there is no data. The tiles, an
``Allsky`` image and the ``properties`` file are written to a working directory and then
published through the storage (:mod:`skyarchive.ingest.hips_store`), so an archive on S3
serves its sky as a local one does, and a server never serves half a build.
"""

from __future__ import annotations

import io
import math
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning
from PIL import Image
from sqlalchemy import Connection, Engine, and_, exists, or_, select

from skyarchive.access.rights import now_mjd, released_clause
from skyarchive.db.tables import observations, products
from skyarchive.ingest import hips_store
from skyarchive.sky import hips_tiles
from skyarchive.sky.hips_tiles import ALLSKY_COLUMNS, ALLSKY_ORDER
from skyarchive.storage import Storage

#: The naming authority of a HiPS built without one (the ``vo_authority`` setting's default).
DEFAULT_AUTHORITY = "skyarchive.invalid"

TILE_WIDTH = 512
#: Deepest order unless the images ask for less: 512-pixel tiles of order 9 have ~0.8″ pixels.
DEFAULT_MAX_ORDER = 9
_SAMPLE_PER_IMAGE = 20_000  # pixels each image gives to the common pixel cut
_BATCH = 500  # file names asked about per query


@dataclass(frozen=True)
class HipsImage:
    filename: str
    storage_key: str
    program: str


@dataclass
class HipsReport:
    """What a build did: images used and skipped (with the reason), tiles written, time."""

    images: int = 0
    tiles: int = 0
    max_order: int = 0
    seconds: float = 0.0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    pixel_cut: tuple[float, float] = (0.0, 1.0)


def public_images(engine: Engine, *, now: float | None = None) -> list[HipsImage]:
    """The files a public sky is made of: public I2D mosaics, else public CAL exposures."""
    with engine.connect() as conn:
        return _sky_images(conn, now_mjd() if now is None else now)


def withdrawn_programs(conn: Connection, images: list[HipsImage]) -> list[str]:
    """The programs of which one of ``images`` (chosen as public) is no longer public now: its
    period changed while the build ran."""
    now = now_mjd()
    public: set[str] = set()
    names = [image.filename for image in images]
    for start in range(0, len(names), _BATCH):
        query = (
            select(products.c.productFilename)
            .join(observations, observations.c.obsid == products.c.owner_obsid)
            .where(products.c.productFilename.in_(names[start : start + _BATCH]),
                   released_clause(observations.c.t_obs_release, now))
        )  # fmt: skip
        public.update(conn.scalars(query))
    return sorted({image.program for image in images if image.filename not in public})


def program_sky_images(conn: Connection, program: str, *, now: float) -> set[str]:
    """The file names of ``program`` that a HiPS built at ``now`` would be made of."""
    return {image.filename for image in _sky_images(conn, now, program=program)}


def _sky_images(conn: Connection, moment: float, *, program: str | None = None) -> list[HipsImage]:
    owner = observations.c.obsid == products.c.owner_obsid
    public = released_clause(observations.c.t_obs_release, moment)
    kind = products.c.productSubGroupDescription
    mosaic = products.alias("mosaic")
    mosaic_owner = observations.alias("mosaic_owner")
    program_has_mosaic = exists(
        select(mosaic.c.product_id)
        .join(mosaic_owner, mosaic_owner.c.obsid == mosaic.c.owner_obsid)
        .where(
            mosaic.c.proposal_id == products.c.proposal_id,
            mosaic.c.productSubGroupDescription == "I2D",
            released_clause(mosaic_owner.c.t_obs_release, moment),
        )
    )
    query = (
        select(products.c.productFilename, products.c.storage_key, products.c.proposal_id)
        .join(observations, owner)
        .where(
            public,
            products.c.productFilename.like("%.fits"),
            or_(kind == "I2D", and_(kind == "CAL", ~program_has_mosaic)),
        )
        .order_by(products.c.productFilename)
    )
    if program is not None:
        query = query.where(products.c.proposal_id == program)
    return [
        HipsImage(row.productFilename, row.storage_key, str(row.proposal_id))
        for row in conn.execute(query)
    ]


@dataclass
class _Image:
    data: np.ndarray
    wcs: WCS


def _read_image(storage: Storage, key: str) -> _Image:
    """The first 2-D image HDU with a celestial WCS (``SCI`` first), read through the storage."""
    path = storage.local_path(key)
    source: str | io.BytesIO = str(path) if path else io.BytesIO(b"".join(storage.open_range(key)))
    with fits.open(source, memmap=False) as hdus, warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        candidates = sorted(hdus, key=lambda hdu: hdu.name != "SCI")
        for hdu in candidates:
            if not isinstance(hdu, fits.PrimaryHDU | fits.ImageHDU) or hdu.data is None:
                continue
            wcs = WCS(hdu.header).celestial
            if wcs.naxis != 2 or not wcs.has_celestial:
                continue
            data = np.asarray(hdu.data, dtype=np.float64)
            if data.ndim > 2:
                data = data.reshape((-1, *data.shape[-2:]))[0]
            if data.ndim == 2:
                return _Image(data, wcs)
    raise ValueError("no 2-D image with a celestial WCS")


def _pixel_scale_deg(wcs: WCS) -> float:
    return float(np.sqrt(abs(np.linalg.det(wcs.pixel_scale_matrix))))


def _bilinear(data: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values of ``data`` at pixel positions (0-based, FITS x = column), and where defined."""
    ny, nx = data.shape
    inside = (x > -0.5) & (x < nx - 0.5) & (y > -0.5) & (y < ny - 0.5)
    xc, yc = np.clip(x, 0, nx - 1), np.clip(y, 0, ny - 1)
    x0 = np.clip(np.floor(xc).astype(int), 0, max(nx - 2, 0))
    y0 = np.clip(np.floor(yc).astype(int), 0, max(ny - 2, 0))
    x1, y1 = np.minimum(x0 + 1, nx - 1), np.minimum(y0 + 1, ny - 1)
    fx, fy = xc - x0, yc - y0
    value = (
        data[y0, x0] * (1 - fx) * (1 - fy) + data[y0, x1] * fx * (1 - fy)
        + data[y1, x0] * (1 - fx) * fy + data[y1, x1] * fx * fy
    )  # fmt: skip
    good = inside & np.isfinite(value)
    return np.where(good, value, 0.0), good


class _Mosaic:
    """Sum and weight of every tile of one order, filled image by image."""

    def __init__(self, order: int, width: int) -> None:
        self.order, self.width = order, width
        self.sums: dict[int, np.ndarray] = {}
        self.weights: dict[int, np.ndarray] = {}

    def add(self, image: _Image) -> None:
        """Sample ``image`` at the tile pixels inside its outline (not at whole tiles: a small
        image costs what it covers)."""
        ny, nx = image.data.shape
        corners = image.wcs.pixel_to_world_values(
            np.array([-0.5, nx - 0.5, nx - 0.5, -0.5]), np.array([-0.5, -0.5, ny - 0.5, ny - 0.5])
        )
        cells = hips_tiles.cells_inside(corners[0], corners[1], self.order, self.width)
        for npix, rows, columns, ra, dec in hips_tiles.by_tile(cells, self.order, self.width):
            x, y = image.wcs.world_to_pixel_values(ra, dec)
            value, good = _bilinear(image.data, np.asarray(x), np.asarray(y))
            if not good.any():
                continue
            if npix not in self.sums:
                self.sums[npix] = np.zeros((self.width, self.width), dtype=np.float32)
                self.weights[npix] = np.zeros((self.width, self.width), dtype=np.float32)
            # each cell appears once per image, so plain fancy indexing adds each value once
            self.sums[npix][rows, columns] += value
            self.weights[npix][rows, columns] += good

    def parent(self) -> _Mosaic:
        """The order above: each tile averages 2×2 blocks of its four children."""
        up = _Mosaic(self.order - 1, self.width)
        half = self.width // 2
        for npix in self.sums:
            parent, quarter = npix >> 2, npix & 3
            if parent not in up.sums:
                up.sums[parent] = np.zeros((self.width, self.width), dtype=np.float32)
                up.weights[parent] = np.zeros((self.width, self.width), dtype=np.float32)
            # the child's ix bit picks the rows, its iy bit the columns (hips_tiles' layout)
            rows = slice((quarter & 1) * half, (quarter & 1) * half + half)
            columns = slice((quarter >> 1) * half, (quarter >> 1) * half + half)
            up.sums[parent][rows, columns] += _block_sum(self.sums[npix])
            up.weights[parent][rows, columns] += _block_sum(self.weights[npix])
        return up

    def tiles(self) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        for npix in sorted(self.sums):
            weight = self.weights[npix]
            with np.errstate(invalid="ignore", divide="ignore"):
                yield npix, self.sums[npix] / weight, weight > 0


def _block_sum(array: np.ndarray) -> np.ndarray:
    rows, columns = array.shape
    return array.reshape(rows // 2, 2, columns // 2, 2).sum(axis=(1, 3))


def _grey(values: np.ndarray, covered: np.ndarray, cut: tuple[float, float]) -> Image.Image:
    """8-bit grey with alpha: asinh between the cut levels, transparent where nothing fell."""
    low, high = cut
    scaled = np.clip((np.nan_to_num(values) - low) / (high - low or 1.0), 0, 1)
    level = np.arcsinh(10 * scaled) / np.arcsinh(10)
    grey = (level * 255).round().astype(np.uint8)
    alpha = np.where(covered, 255, 0).astype(np.uint8)
    return Image.fromarray(np.dstack([grey, alpha]))  # two channels: grey and alpha (LA)


def build_hips(
    *,
    engine: Engine,
    storage: Storage,
    max_order: int | None = None,
    width: int = TILE_WIDTH,
    title: str = "skyarchive: public calibrated images",
    progress: Callable[[int, int], None] | None = None,
    authority: str = DEFAULT_AUTHORITY,
) -> HipsReport:
    """Build the archive's HiPS from its public images and serve it (replacing the former one
    whole, through the storage: :mod:`skyarchive.ingest.hips_store`).

    Parameters
    ----------
    max_order : int, optional
        The deepest tile order. By default, the order whose pixels match the finest image's
        pixels, at most :data:`DEFAULT_MAX_ORDER` (and at least 3, which ``Allsky`` needs).
    width : int
        Tile width in pixels (a power of two; 512 is what HiPS clients expect).
    progress : callable, optional
        Called with (images done, images in all) after each image.
    authority : str
        The archive's IVOA naming authority (the ``vo_authority`` setting): the HiPS's
        ``creator_did`` is ``ivo://<authority>/P/archive-sky``.

    Raises
    ------
    BadQuery
        A tile width that is not a power of two from 8 to 4096.
    """
    started = time.perf_counter()
    hips_tiles.width_bits(width)
    report = HipsReport()
    chosen = public_images(engine)
    images: list[tuple[str, _Image]] = []
    for image in chosen:
        try:
            images.append((image.filename, _read_image(storage, image.storage_key)))
        except Exception as exc:  # an unreadable file is reported, the sky is built without it
            report.skipped.append((image.filename, str(exc) or type(exc).__name__))
    finest = min((_pixel_scale_deg(img.wcs) for _name, img in images), default=1.0)
    deepest = max_order
    if deepest is None:
        deepest = min(hips_tiles.order_for_pixel_scale(finest, width), DEFAULT_MAX_ORDER)
    deepest = max(ALLSKY_ORDER, min(deepest, hips_tiles.MAX_ORDER))
    mosaic = _Mosaic(deepest, width)
    samples = []
    rng = np.random.default_rng(0)
    for done, (name, img) in enumerate(images, start=1):
        try:
            mosaic.add(img)
        except Exception as exc:  # a WCS that cannot be inverted, say: skip this image
            report.skipped.append((name, str(exc) or type(exc).__name__))
        else:
            report.images += 1
            finite = img.data[np.isfinite(img.data)]
            if finite.size:
                samples.append(rng.choice(finite, min(finite.size, _SAMPLE_PER_IMAGE)))
        if progress:
            progress(done, len(images))
    pool = np.concatenate(samples) if samples else np.array([0.0, 1.0])
    report.pixel_cut = (float(np.percentile(pool, 0.5)), float(np.percentile(pool, 99.5)))
    report.max_order = deepest
    with tempfile.TemporaryDirectory(prefix="hips-build-") as work:
        _write_tiles(Path(work), mosaic, report, width, title, finest, authority)
        programs = {image.program for image in chosen}
        hips_store.publish(engine, storage, Path(work), programs=programs,
                           withdrawn=lambda conn: withdrawn_programs(conn, chosen))  # fmt: skip
    report.seconds = time.perf_counter() - started
    return report


def _write_tiles(
    staging: Path,
    mosaic: _Mosaic,
    report: HipsReport,
    width: int,
    title: str,
    finest: float,
    authority: str,
) -> None:
    """Every order's tiles, ``Allsky``, ``Moc.fits`` and ``properties`` into ``staging``."""
    allsky_tiles: dict[int, Image.Image] = {}
    level = mosaic
    while True:
        for npix, values, covered in level.tiles():
            tile = _grey(values, covered, report.pixel_cut)
            path = staging / hips_tiles.tile_path(level.order, npix, "png")
            path.parent.mkdir(parents=True, exist_ok=True)
            tile.save(path, optimize=False)
            report.tiles += 1
            if level.order == ALLSKY_ORDER:
                allsky_tiles[npix] = tile
        if level.order == 0:
            break
        level = level.parent()
    _write_allsky(staging, allsky_tiles, width)
    sky_fraction = _write_moc(staging, mosaic)
    _write_properties(staging, report, mosaic, width, title, finest, authority, sky_fraction)


def _write_allsky(directory: Path, tiles: dict[int, Image.Image], width: int) -> None:
    """``Norder3/Allsky.png``: every order-3 tile shrunk to 64 pixels, 27 to a row."""
    thumb = min(64, width)
    rows, columns = hips_tiles.allsky_shape()
    sheet = Image.new("LA", (columns * thumb, rows * thumb), (0, 0))
    for npix, tile in tiles.items():
        row, column = divmod(npix, ALLSKY_COLUMNS)
        sheet.paste(
            tile.resize((thumb, thumb), Image.Resampling.BOX), (column * thumb, row * thumb)
        )
    path = directory / f"Norder{ALLSKY_ORDER}" / "Allsky.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


def _write_moc(directory: Path, mosaic: _Mosaic) -> float:
    """``Moc.fits``: the tiles of the deepest order that hold pixels (MOC 2.0, NUNIQ-ordered
    as Aladin reads it), so clients ask for no empty tile; returns its sky fraction."""
    from mocpy import MOC

    npixes = np.array(sorted(mosaic.sums), dtype=np.uint64)
    depths = np.full(npixes.shape, mosaic.order, dtype=np.uint8)
    moc = MOC.from_healpix_cells(npixes, depth=depths, max_depth=mosaic.order)
    moc.serialize(format="fits", v1_compatible=True).writeto(directory / "Moc.fits")
    return float(moc.sky_fraction)


def _write_properties(
    directory: Path,
    report: HipsReport,
    mosaic: _Mosaic,
    width: int,
    title: str,
    finest: float,
    authority: str,
    sky_fraction: float,
) -> None:
    """The ``properties`` file HiPS clients (Aladin) read first (HiPS 1.0 §4.4)."""
    npixes = sorted(mosaic.sums)
    depth = mosaic.order
    if npixes:
        from cdshealpix import nested

        lon, lat = nested.healpix_to_lonlat(np.array(npixes, dtype=np.uint64), depth)
        centre = _mean_direction(lon.to_value("deg"), lat.to_value("deg"))
    else:
        centre = (0.0, 0.0)
    fov = max(math.degrees(math.sqrt(4 * math.pi * max(sky_fraction, 1e-12))) * 2, 0.1)
    values = {
        "creator_did": f"ivo://{authority}/P/archive-sky",
        "obs_title": title,
        "obs_description": "Public calibrated images of this archive (I2D mosaics, else CAL "
        "exposures), reprojected to HEALPix; grey, asinh stretch.",
        "dataproduct_type": "image",
        "hips_version": "1.4",
        "hips_builder": "skyarchive (cdshealpix + astropy)",
        "hips_release_date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%MZ"),
        "hips_status": "public master clonableOnce",
        "hips_frame": "equatorial",
        "hips_order": str(depth),
        "hips_order_min": "0",
        "hips_tile_width": str(width),
        "hips_tile_format": "png",
        "hips_pixel_bitpix": "-64",
        "hips_pixel_cut": f"{report.pixel_cut[0]:.6g} {report.pixel_cut[1]:.6g}",
        "hips_pixel_scale": f"{hips_tiles.pixel_size_deg(depth, width):.6g}",
        "s_pixel_scale": f"{finest:.6g}",
        "hips_initial_ra": f"{centre[0]:.6f}",
        "hips_initial_dec": f"{centre[1]:.6f}",
        "hips_initial_fov": f"{min(fov, 180.0):.6g}",
        "moc_sky_fraction": f"{sky_fraction:.6g}",
        "skyarchive_images": str(report.images),
    }
    text = "".join(f"{key:<20} = {value}\n" for key, value in values.items())
    (directory / "properties").write_text(text, encoding="utf-8")


def _mean_direction(lon: np.ndarray, lat: np.ndarray) -> tuple[float, float]:
    ra, dec = np.radians(lon), np.radians(lat)
    x, y, z = (np.cos(dec) * np.cos(ra)).sum(), (np.cos(dec) * np.sin(ra)).sum(), np.sin(dec).sum()
    return float(np.degrees(np.arctan2(y, x)) % 360), float(
        np.degrees(np.arctan2(z, np.hypot(x, y)))
    )
