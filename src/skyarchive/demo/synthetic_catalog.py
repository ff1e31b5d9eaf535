"""A large synthetic catalogue (metadata only) for latency benchmarks.

``build_synthetic_catalog(engine, observations=1_000_000, products_per_obs=20, seed=1)``
bulk-loads programs, observations with small JWST-like polygon footprints, their HEALPix
footprint cells, products and the observation/product membership straight into the catalog
tables of an empty (migrated) archive. No files are written: ``sha256`` and ``storage_key``
are fake, so downloads of these products fail; searches and product lists work as usual.
The home page's stored figures are counted from the loaded rows at the end
(:func:`skyarchive.search.summary.refresh_summary`).

Layout, chosen so benchmark queries have realistic selectivity:

* one program per 2,000 observations (ids 10000 and up); each observation takes one of eight
  instrument modes, so "proposal + instrument" selects about 250 rows;
* observations sit in fields of about 25 (gaussian scatter of 2 arcmin about a field centre
  spread uniformly over the sphere), so a 1-arcmin cone at an observation finds a handful;
* footprints are squares 2.2 arcmin on a side at a random position angle;
* the observation in the middle of the id range (:attr:`SyntheticSummary.big_obsid`) has
  ``big_obs_products`` products, for product-list benchmarks.

Footprint cells are computed for all footprints at once (vertices, centre and 16 points per
edge, through ``cdshealpix.nested.lonlat_to_healpix``) rather than per footprint with
:func:`skyarchive.sky.cells.region_cells`; for footprints smaller than a cell this gives the
same cells except, at worst, a sliver under about 8 arcsec across (checked in the tests).

Rows are inserted in key order (ids, file names and ``dataURI`` all increase together), so
every B-tree grows at its end. SQLite gets executemany in large transactions with journal and
sync turned off for the load only; PostgreSQL gets ``COPY`` with foreign-key triggers off for
the load transaction (the data are consistent by construction), then ``ANALYZE``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.coordinates import Latitude, Longitude
from cdshealpix import nested
from sqlalchemy import Connection, Engine, Table, func, select
from sqlalchemy.engine.interfaces import DBAPIConnection

from skyarchive.db.catalogue_generation import mark_catalogue_written
from skyarchive.db.tables import (
    footprint_cells,
    footprint_vertices,
    observation_products,
    observation_tokens,
    product_keywords,
    products,
    programs,
)
from skyarchive.db.tables import observations as observations_table
from skyarchive.demo.synthetic_keywords import keyword_file_chunks
from skyarchive.search.keyword_store import refresh_counts
from skyarchive.search.summary import refresh_summary
from skyarchive.search.tokens import token_rows
from skyarchive.sky.cells import CELL_DEPTH
from skyarchive.sky.stored_footprints import stored_vertices

__all__ = ["INSTRUMENTS", "SyntheticSummary", "build_synthetic_catalog"]

#: (instrument_name, filters, dataproduct_type, exp_type, em_min nm, em_max nm)
INSTRUMENTS: tuple[tuple[str, str, str, str, float, float], ...] = (
    ("NIRCAM/IMAGE", "F200W", "image", "NRC_IMAGE", 1755.0, 2226.0),
    ("NIRCAM/IMAGE", "F444W", "image", "NRC_IMAGE", 3880.0, 4986.0),
    ("NIRSPEC/MSA", "F170LP;G235M", "spectrum", "NRS_MSASPEC", 1660.0, 3070.0),
    ("NIRSPEC/IFU", "F290LP;G395H", "cube", "NRS_IFU", 2870.0, 5270.0),
    ("MIRI/IMAGE", "F770W", "image", "MIR_IMAGE", 6581.0, 8687.0),
    ("MIRI/IFU", "CH1", "cube", "MIR_MRS", 4900.0, 7650.0),
    ("NIRISS/WFSS", "F150W;GR150R", "spectrum", "NIS_WFSS", 1330.0, 1670.0),
    ("NIRCAM/GRISM", "F322W2;GRISMR", "spectrum", "NRC_WFSS", 2413.0, 4083.0),
)
OBS_PER_PROGRAM = 2_000
OBS_PER_FIELD = 25
FIRST_PROPOSAL = 10_000
_CATEGORIES = ("GO", "GO", "GO", "GTO", "ERS", "DD", "CAL", "COM")
_SIDE_DEG = 2.2 / 60.0
_FIELD_SIGMA_DEG = 2.0 / 60.0
_EDGE_SAMPLES = 16
_MJD_START = 59_760.0  # 2022-07-01
_MJD_NOW = 61_000.0
# (suffix, productType, subgroup, description, recommended, calib_level, type)
_PRODUCT_KINDS: tuple[tuple[str, str, str, str, bool, int, str], ...] = (
    ("uncal.fits", "SCIENCE", "UNCAL", "exposure/raw", False, 1, "S"),
    ("rate.fits", "SCIENCE", "RATE", "exposure/countrate", False, 2, "S"),
    ("cal.fits", "SCIENCE", "CAL", "exposure/calibrated", True, 2, "S"),
    ("i2d.fits", "SCIENCE", "I2D", "combined/resampled", True, 3, "D"),
    ("trapsfilled.fits", "AUXILIARY", "TRAPSFILLED", "exposure/traps", False, 2, "S"),
    ("thumb.jpg", "PREVIEW", "", "preview/thumbnail", False, 2, "S"),
    ("asn.json", "INFO", "ASN", "association", True, 3, "D"),
    ("pool.csv", "INFO", "POOL", "association pool", False, 3, "D"),
)
_OBS_CHUNK = 20_000
_CELL_CHUNK = 50_000
_OBSID_BITS = 38  # cells at depth 10 are < 2**24, so cell << 38 | obsid fits an int64
_PRODUCT_CHUNK = 200_000


@dataclass(frozen=True)
class SyntheticSummary:
    """What :func:`build_synthetic_catalog` wrote, and how long each part took (seconds)."""

    observations: int
    products: int
    programs: int
    footprint_cells: int
    big_obsid: int
    big_obs_products: int
    first_obsid: int
    seconds: dict[str, float]

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())


def build_synthetic_catalog(
    engine: Engine,
    *,
    observations: int,
    products_per_obs: int | Sequence[int],
    seed: int,
    big_obs_products: int = 10_000,
    keyword_files: int | None = None,
) -> SyntheticSummary:
    """Bulk-load a synthetic catalogue into the (empty, migrated) archive behind ``engine``.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        A SQLite or PostgreSQL engine whose schema is at the newest revision.
    observations : int
        Number of observations (>= 1).
    products_per_obs : int or sequence of int
        Products of each observation; a sequence is cycled over the observations.
    seed : int
        Same seed, same catalogue.
    big_obs_products : int
        Products of the one big observation (:attr:`SyntheticSummary.big_obsid`).
    keyword_files : int, optional
        Instead of ``products_per_obs`` generic products: this many JWST science files with
        header keywords (``product_keywords`` rows), spread evenly over the observations
        (:mod:`skyarchive.demo.synthetic_keywords`); no big observation.

    Returns
    -------
    SyntheticSummary
    """
    if observations < 1:
        raise ValueError("observations must be >= 1")
    if keyword_files is not None:
        if keyword_files < 0:
            raise ValueError("keyword_files must be non-negative")
        counts = np.full(observations, keyword_files // observations, dtype=np.int64)
        counts[: keyword_files % observations] += 1
        big_obs_products = 0
    else:
        counts = np.resize(np.asarray(products_per_obs, dtype=np.int64).ravel(), observations)
    if counts.size == 0 or (counts < 0).any():
        raise ValueError("products_per_obs must be non-negative")
    check_empty(engine)
    rng = np.random.default_rng(seed)
    first_obsid = 1
    big_index = observations // 2
    if keyword_files is None:
        counts[big_index] = big_obs_products
    timings: dict[str, float] = {}
    began = time.perf_counter()
    obs = _observation_columns(rng, observations, first_obsid)
    cells = _footprint_cells(obs["corners_ra"], obs["corners_dec"], obs["obsid"])
    timings["generate observations"] = time.perf_counter() - began
    n_programs = -(-observations // OBS_PER_PROGRAM)
    loader = (
        _PostgresLoader(engine) if engine.dialect.name == "postgresql" else _SqliteLoader(engine)
    )
    with loader:
        began = time.perf_counter()
        loader.load(programs, _program_rows(rng, n_programs))
        loader.load(observations_table, _observation_rows(obs))
        loader.load(footprint_cells, zip(cells[0].tolist(), cells[1].tolist(), strict=True))
        loader.load(footprint_vertices, _vertex_rows(obs))
        loader.load(observation_tokens, _token_rows(obs))
        timings["load observations"] = time.perf_counter() - began
        began = time.perf_counter()
        if keyword_files is None:
            n_products = loader.load_products(_product_chunks(obs, counts))
        else:
            n_products = loader.load_products(_keyword_file_chunks(obs, counts, seed))
        timings["load products"] = time.perf_counter() - began
        began = time.perf_counter()
        loader.finish()
        timings["finish (analyze)"] = time.perf_counter() - began
    began = time.perf_counter()
    with engine.begin() as conn:
        refresh_summary(conn)  # the home page's figures, counted from the loaded rows
        refresh_counts(conn)  # the keyword tables' files per exposure type
    timings["summary figures"] = time.perf_counter() - began
    return SyntheticSummary(
        observations=observations,
        products=n_products,
        programs=n_programs,
        footprint_cells=len(cells[0]),
        big_obsid=first_obsid + big_index,
        big_obs_products=big_obs_products,
        first_obsid=first_obsid,
        seconds=timings,
    )


def check_empty(engine: Engine) -> None:
    """ValueError unless the archive behind ``engine`` holds no programs, observations or
    products (a synthetic catalogue's ids would collide with existing rows)."""
    with engine.connect() as conn:
        for table in (programs, observations_table, products):
            found = conn.execute(select(func.count()).select_from(table)).scalar()
            if found:
                raise ValueError(
                    f"the archive is not empty: its {table.name} table holds {found:,} "
                    f"row{'' if found == 1 else 's'}; "
                    "a synthetic catalogue is loaded into an empty archive only"
                )


# ---------------------------------------------------------------- observations and footprints


def _observation_columns(rng: np.random.Generator, n: int, first_obsid: int) -> dict:
    n_fields = max(1, -(-n // OBS_PER_FIELD))
    field_ra = rng.uniform(0.0, 360.0, n_fields)
    field_dec = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n_fields)))
    field = rng.integers(0, n_fields, n)
    dec = np.clip(field_dec[field] + rng.normal(0.0, _FIELD_SIGMA_DEG, n), -89.5, 89.5)
    cos_dec = np.maximum(np.cos(np.radians(dec)), 1e-3)
    ra = (field_ra[field] + rng.normal(0.0, _FIELD_SIGMA_DEG, n) / cos_dec) % 360.0
    angle = rng.uniform(0.0, 2.0 * np.pi, n)
    corners_ra, corners_dec = _square_corners(ra, dec, angle, _SIDE_DEG)
    t_min = rng.uniform(_MJD_START, _MJD_NOW, n)
    exptime = rng.choice([107.4, 322.1, 751.6, 1288.4, 2748.9], n)
    t_max = t_min + exptime / 86400.0 + 0.01
    program = np.arange(n) // OBS_PER_PROGRAM
    category = np.asarray(_CATEGORIES)[program % len(_CATEGORIES)]
    public_at_once = np.isin(category, ("ERS", "DD", "CAL", "COM"))
    release = np.where(public_at_once, t_max, t_max + 365.0)
    return {
        "obsid": np.arange(first_obsid, first_obsid + n, dtype=np.int64),
        "program": program,
        "obsnum": np.arange(n) % OBS_PER_PROGRAM + 1,
        "instrument": rng.integers(0, len(INSTRUMENTS), n),
        "category": category,
        "ra": ra,
        "dec": dec,
        "corners_ra": corners_ra,
        "corners_dec": corners_dec,
        "t_min": t_min,
        "t_max": t_max,
        "exptime": exptime,
        "release": release,
        "calib_level": rng.choice([2, 3], n, p=[0.7, 0.3]),
    }


def _square_corners(
    ra: np.ndarray, dec: np.ndarray, angle: np.ndarray, side: float
) -> tuple[np.ndarray, np.ndarray]:
    """Corners (N, 4) of squares of ``side`` degrees about (ra, dec), rotated by ``angle``."""
    half = math.radians(side / 2.0)
    offsets = np.array([(-1, -1), (1, -1), (1, 1), (-1, 1)], dtype=float) * half
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    xi = c * offsets[:, 0] - s * offsets[:, 1]  # tangent-plane offsets (radians)
    eta = s * offsets[:, 0] + c * offsets[:, 1]
    ra0, dec0 = np.radians(ra)[:, None], np.radians(dec)[:, None]
    denom = np.cos(dec0) - eta * np.sin(dec0)
    out_ra = ra0 + np.arctan2(xi, denom)
    out_dec = np.arctan2(np.sin(dec0) + eta * np.cos(dec0), np.hypot(xi, denom))
    return np.degrees(out_ra) % 360.0, np.degrees(out_dec)


def _footprint_cells(
    corners_ra: np.ndarray, corners_dec: np.ndarray, obsid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(cell, obsid) pairs, unique and sorted by cell then obsid, for all footprints."""
    keys = [
        _cell_keys(corners_ra[i : i + _CELL_CHUNK], corners_dec[i : i + _CELL_CHUNK],
                   obsid[i : i + _CELL_CHUNK])
        for i in range(0, len(obsid), _CELL_CHUNK)
    ]  # fmt: skip
    key = np.sort(np.concatenate(keys))
    return key >> _OBSID_BITS, key & ((1 << _OBSID_BITS) - 1)


def _cell_keys(corners_ra: np.ndarray, corners_dec: np.ndarray, obsid: np.ndarray) -> np.ndarray:
    """``cell << _OBSID_BITS | obsid`` of each footprint's distinct cells."""
    xyz = _xyz(corners_ra, corners_dec)  # (N, 4, 3)
    steps = np.linspace(0.0, 1.0, _EDGE_SAMPLES, endpoint=False)[None, None, :, None]
    nxt = np.roll(xyz, -1, axis=1)
    edges = xyz[:, :, None, :] * (1.0 - steps) + nxt[:, :, None, :] * steps  # (N, 4, S, 3)
    centre = xyz.sum(axis=1)
    points = np.concatenate([edges.reshape(len(xyz), -1, 3), centre[:, None, :]], axis=1)
    points /= np.linalg.norm(points, axis=-1, keepdims=True)
    lon = np.degrees(np.arctan2(points[..., 1], points[..., 0])) % 360.0
    lat = np.degrees(np.arcsin(np.clip(points[..., 2], -1.0, 1.0)))
    cells = np.asarray(
        nested.lonlat_to_healpix(
            Longitude(lon.ravel(), u.deg), Latitude(lat.ravel(), u.deg), CELL_DEPTH
        ),
        dtype=np.int64,
    ).reshape(lon.shape)
    cells.sort(axis=1)
    first = np.ones(cells.shape, dtype=bool)
    first[:, 1:] = cells[:, 1:] != cells[:, :-1]
    owner = np.broadcast_to(np.arange(len(obsid))[:, None], cells.shape)[first]
    # Like polygon_search, also keep neighbouring cells whose covering cap reaches the
    # footprint's covering cap (a superset of the cells the footprint touches).
    candidates = nested.neighbours(cells[first].astype(np.uint64), CELL_DEPTH).astype(np.int64)
    owner = np.broadcast_to(owner[:, None], candidates.shape).ravel()
    candidates = candidates.ravel()
    valid = candidates >= 0
    key = np.unique((candidates[valid] << _OBSID_BITS) | owner[valid])
    cell, owner = key >> _OBSID_BITS, key & ((1 << _OBSID_BITS) - 1)
    poly_centre = centre / np.linalg.norm(centre, axis=-1, keepdims=True)
    poly_radius = np.arccos(np.clip(np.einsum("nij,nj->ni", xyz, poly_centre), -1, 1)).max(1)
    lon_c, lat_c = nested.vertices(cell.astype(np.uint64), CELL_DEPTH)
    corners = _xyz(lon_c.deg, lat_c.deg)  # (M, 4, 3)
    cell_centre = corners.sum(axis=1)
    cell_centre /= np.linalg.norm(cell_centre, axis=-1, keepdims=True)
    cell_radius = np.arccos(np.clip(np.einsum("nij,nj->ni", corners, cell_centre), -1, 1)).max(1)
    gap = np.arccos(np.clip(np.einsum("ni,ni->n", cell_centre, poly_centre[owner]), -1, 1))
    keep = gap <= poly_radius[owner] + cell_radius * 1.05
    return (cell[keep] << _OBSID_BITS) | obsid[owner[keep]]


def _xyz(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    ra, dec = np.radians(ra), np.radians(dec)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


# ---------------------------------------------------------------------------------- rows


_PROGRAM_ORDER = (
    "proposal_id", "obs_collection", "title", "pi_name", "category", "subcategory", "cycle",
    "eap_months",
)  # fmt: skip


def _program_rows(rng: np.random.Generator, n: int) -> Iterator[tuple]:
    for index in range(n):
        yield (
            str(FIRST_PROPOSAL + index), "JWST", f"Synthetic program {index}",
            f"Investigator, {chr(65 + index % 26)}.", _CATEGORIES[index % len(_CATEGORIES)],
            None, 1 + index % 4, None,
        )  # fmt: skip


_OBSERVATION_ORDER = (
    "obsid", "obs_id", "status", "intentType", "obs_collection", "provenance_name",
    "instrument_name", "project", "filters", "wavelength_region", "target_name",
    "target_classification", "s_ra", "s_dec", "dataproduct_type", "proposal_pi", "calib_level",
    "t_min", "t_max", "t_exptime", "em_min", "em_max", "obs_title", "t_obs_release",
    "proposal_id", "proposal_type", "sequence_number", "s_region", "jpegURL", "dataURL",
    "mtFlag", "srcDen", "objID", "exp_type",
)  # fmt: skip


def _token_rows(obs: dict) -> Iterator[tuple]:
    """Parts of the multi-valued entries, as ingest records them (search/tokens.py)."""
    for values in _observation_dicts(obs):
        for token in token_rows(values["obsid"], values):
            yield (token["column_name"], token["token"], token["obsid"])


def _vertex_rows(obs: dict) -> Iterator[tuple]:
    """Each footprint's vertices, as ingest stores them (``ingest.catalog.replace_footprint``)."""
    for values in _observation_dicts(obs):
        vertices = stored_vertices(values["s_region"])
        if vertices is not None:
            yield values["obsid"], vertices


def _observation_rows(obs: dict) -> Iterator[tuple]:
    names = _OBSERVATION_ORDER
    for values in _observation_dicts(obs):
        yield tuple(values[name] for name in names)


def _observation_dicts(obs: dict) -> Iterator[dict]:
    """Each observation's catalogue row, by column name."""
    n = len(obs["obsid"])
    for start in range(0, n, _OBS_CHUNK):
        stop = min(n, start + _OBS_CHUNK)
        cols = {k: v[start:stop].tolist() for k, v in obs.items() if v.ndim == 1}
        corners = np.stack([obs["corners_ra"][start:stop], obs["corners_dec"][start:stop]], -1)
        for i, obsid in enumerate(cols["obsid"]):
            inst = INSTRUMENTS[cols["instrument"][i]]
            proposal = str(FIRST_PROPOSAL + cols["program"][i])
            obsnum = cols["obsnum"][i]
            obs_id = f"jw{proposal:0>5}-o{obsnum:05d}_s{obsid:09d}_{inst[0].split('/')[0].lower()}"
            poly = " ".join(f"{x:.7f}" for x in corners[i].ravel())
            yield {
                "obsid": obsid, "obs_id": obs_id, "status": "executed",
                "intentType": "science", "obs_collection": "JWST",
                "provenance_name": "CALJWST", "instrument_name": inst[0], "project": "JWST",
                "filters": inst[1], "wavelength_region": "INFRARED",
                "target_name": f"FIELD-{obsid // OBS_PER_FIELD}",
                "target_classification": None, "s_ra": cols["ra"][i], "s_dec": cols["dec"][i],
                "dataproduct_type": inst[2], "proposal_pi": "Investigator",
                "calib_level": cols["calib_level"][i], "t_min": cols["t_min"][i],
                "t_max": cols["t_max"][i], "t_exptime": cols["exptime"][i],
                "em_min": inst[4], "em_max": inst[5], "obs_title": "Synthetic observation",
                "t_obs_release": cols["release"][i], "proposal_id": proposal,
                "proposal_type": cols["category"][i], "sequence_number": None,
                "s_region": f"POLYGON ICRS {poly}", "jpegURL": None,
                "dataURL": f"mast:JWST/product/{obs_id}_cal.fits", "mtFlag": False,
                "srcDen": None, "objID": obsid, "exp_type": inst[3],
            }  # fmt: skip


_PRODUCT_ORDER = (
    "product_id", "productFilename", "dataURI", "owner_obsid", "obs_collection",
    "dataproduct_type", "description", "type", "productType", "productGroupDescription",
    "productSubGroupDescription", "productDocumentationURL", "project", "prvversion",
    "proposal_id", "size", "calib_level", "filters", "sha256", "storage_key", "file_date",
    "ingested_at",
)  # fmt: skip


#: Columns each table is loaded with (others, e.g. ones added by later migrations, get their
#: defaults).
_LOAD_COLUMNS = {
    "programs": _PROGRAM_ORDER,
    "observations": _OBSERVATION_ORDER,
    "footprint_cells": ("cell", "obsid"),
    "footprint_vertices": ("obsid", "xyz"),
    "products": _PRODUCT_ORDER,
    "observation_products": ("obsid", "product_id"),
    "observation_tokens": ("column_name", "token", "obsid"),
    "product_keywords": tuple(c.name for c in product_keywords.c),
}


def _keyword_file_chunks(obs: dict, counts: np.ndarray, seed: int) -> Iterator[tuple]:
    """(products, observation_products, product_keywords rows) of synthetic science files."""
    chunks = keyword_file_chunks(
        _observation_dicts(obs), counts.tolist(), product_columns=_PRODUCT_ORDER,
        keyword_columns=_LOAD_COLUMNS["product_keywords"], seed=seed + 1, chunk=_PRODUCT_CHUNK,
    )  # fmt: skip
    for chunk in chunks:
        yield chunk.products, chunk.links, chunk.keywords


def _product_chunks(obs: dict, counts: np.ndarray) -> Iterator[tuple[list[tuple], list[tuple]]]:
    """(products rows, observation_products rows) in chunks of about ``_PRODUCT_CHUNK``."""
    product_id = 1
    rows: list[tuple] = []
    links: list[tuple] = []
    kinds = [
        (suffix, desc, kind, ptype, "Minimum Recommended Products" if rec else None,
         sub or None, level)
        for suffix, ptype, sub, desc, rec, level, kind in _PRODUCT_KINDS
    ]  # fmt: skip
    n_kinds = len(kinds)
    for obsid, program, obsnum, instrument, count in zip(
        obs["obsid"].tolist(), obs["program"].tolist(), obs["obsnum"].tolist(),
        obs["instrument"].tolist(), counts.tolist(), strict=True,
    ):  # fmt: skip
        proposal = str(FIRST_PROPOSAL + program)
        _, filters, dtype, *_ = INSTRUMENTS[instrument]
        stem = f"jw{proposal:0>5}{obsnum:05d}_"
        for k in range(count):
            suffix, desc, kind, ptype, group, sub, level = kinds[k % n_kinds]
            name = f"{stem}{k:05d}_{suffix}"
            rows.append((
                product_id, name, "mast:JWST/product/" + name, obsid, "JWST", dtype, desc,
                kind, ptype, group, sub, None, "CALJWST", "1.14.0", proposal,
                2_000_000 + (product_id * 7919) % 100_000_000, level, filters,
                f"{product_id:064x}", "synthetic/" + name, "2024-01-01T00:00:00.000",
                "2024-01-02T00:00:00",
            ))  # fmt: skip
            links.append((obsid, product_id))
            product_id += 1
        if len(rows) >= _PRODUCT_CHUNK:
            yield rows, links
            rows, links = [], []
    if rows:
        yield rows, links


# ---------------------------------------------------------------------------------- loaders


def _driver(conn: Connection) -> DBAPIConnection:
    """The DB-API connection under ``conn``, for what SQLAlchemy does not wrap (PRAGMA, COPY)."""
    driver = conn.connection.dbapi_connection
    if driver is None:  # pragma: no cover - only once the connection has been invalidated
        raise RuntimeError("the database connection was invalidated during the load")
    return driver


class _SqliteLoader:
    """executemany in large transactions, journal and sync off for the load only."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.conn: Connection | None = None

    def __enter__(self) -> _SqliteLoader:
        self.conn = self.engine.connect()
        driver = _driver(self.conn)
        driver.commit()
        pragmas = ("journal_mode=OFF", "foreign_keys=OFF", "synchronous=OFF", "cache_size=-524288")
        for pragma in pragmas:
            driver.execute(f"PRAGMA {pragma}")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.conn is not None
        driver = _driver(self.conn)
        driver.commit()
        pragmas = ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL", "cache_size=-2000")
        for pragma in pragmas:
            driver.execute(f"PRAGMA {pragma}")
        self.conn.close()

    def _insert(self, table: Table, rows: Sequence[tuple]) -> None:
        assert self.conn is not None
        columns = _LOAD_COLUMNS[table.name]
        names = ", ".join(f'"{name}"' for name in columns)
        marks = ", ".join("?" for _ in columns)
        self.conn.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", rows)

    def load(self, table: Table, rows) -> None:  # type: ignore[no-untyped-def]
        assert self.conn is not None
        batch: list[tuple] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= _PRODUCT_CHUNK:
                self._insert(table, batch)
                batch = []
        if batch:
            self._insert(table, batch)
        self.conn.commit()

    def load_products(self, chunks) -> int:  # type: ignore[no-untyped-def]
        assert self.conn is not None
        total = 0
        for rows, links, *keywords in chunks:
            self._insert(products, rows)
            self._insert(observation_products, links)
            for keyword_rows in keywords:
                self._insert(product_keywords, keyword_rows)
            total += len(rows)
            if total % 2_000_000 < len(rows):
                self.conn.commit()
        self.conn.commit()
        return total

    def finish(self) -> None:
        assert self.conn is not None
        driver = _driver(self.conn)
        # A sampled ANALYZE (analysis_limit) makes every index look alike; the observations
        # table, where index choice matters, is analysed in full.
        driver.execute("ANALYZE observations")
        driver.execute("ANALYZE product_keywords")
        driver.commit()


class _PostgresLoader:
    """COPY in one transaction with foreign-key triggers off (session_replication_role)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.conn: Connection | None = None

    def __enter__(self) -> _PostgresLoader:
        self.conn = self.engine.connect()
        self.conn.exec_driver_sql("SET session_replication_role = replica")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.conn is not None
        if exc[0] is None:
            self.conn.commit()
        else:
            self.conn.rollback()
        self.conn.exec_driver_sql("SET session_replication_role = DEFAULT")
        self.conn.commit()
        self.conn.close()

    def _copy(self, table: Table, rows) -> None:  # type: ignore[no-untyped-def]
        assert self.conn is not None
        names = ", ".join(f'"{name}"' for name in _LOAD_COLUMNS[table.name])
        mark_catalogue_written(self.conn)  # COPY on the driver's cursor passes no statement watcher
        cursor = _driver(self.conn).cursor()
        with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def load(self, table: Table, rows) -> None:  # type: ignore[no-untyped-def]
        self._copy(table, rows)

    def load_products(self, chunks) -> int:  # type: ignore[no-untyped-def]
        total = 0
        for rows, links, *keywords in chunks:
            self._copy(products, rows)
            self._copy(observation_products, links)
            for keyword_rows in keywords:
                self._copy(product_keywords, keyword_rows)
            total += len(rows)
        return total

    def finish(self) -> None:
        assert self.conn is not None
        self.conn.commit()
        # VACUUM fills the visibility map that a bulk COPY leaves empty; without it counts
        # cannot be answered from an index alone. It cannot run inside a transaction.
        autocommit = self.conn.execution_options(isolation_level="AUTOCOMMIT")
        bulk = (programs, observations_table, footprint_cells, footprint_vertices, product_keywords)
        for table in bulk:
            autocommit.exec_driver_sql(f"VACUUM (ANALYZE) {table.name}")
        for name in (products.name, "observation_products"):
            autocommit.exec_driver_sql(f"ANALYZE {name}")
