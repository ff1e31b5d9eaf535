"""MOC coverage of the archive (MOC 2.0, built with mocpy) for Aladin, TOPCAT and the registry.

The coverage is the union of the executed observations' footprints (planned ones hold no data
yet), optionally of one collection or instrument. It is read from the footprint cell index
(``footprint_cells``: every depth-10 HEALPix cell a footprint touches, a cover that never
misses a footprint, see ``sky/cells.py``), so a MOC costs one indexed query and mocpy's
normalisation, not a pass over the footprints' geometry; its resolution is that of the index,
about 3.4 arcmin.

Built MOCs are kept in the process (:class:`MocCache`) under the catalogue's *fingerprint*:
the stored summary figures (rewritten by every writer of catalogue rows, ``search/summary.py``)
and the newest obsid and product id. Any ingest, replacement or removal changes one of them,
so the next request rebuilds; nothing needs to be told.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, func, or_, select

from skyarchive.db.tables import footprint_cells, observations, products, summary_digest
from skyarchive.errors import BadQuery
from skyarchive.sky.cells import CELL_DEPTH

#: How a MOC may be asked for, and the media type of each answer.
FORMATS = {
    "fits": "application/fits",
    "ascii": "text/plain; charset=utf-8",
    "json": "application/json",
}
MAX_FILTER_CHARS = 100


@dataclass(frozen=True)
class Coverage:
    """Which observations a MOC covers: all, or those of one collection and/or instrument.

    ``instrument`` matches without case, the whole name or its part before ``/`` (``NIRCAM``
    takes ``NIRCAM/IMAGE`` and ``NIRCAM/GRISM``).
    """

    collection: str | None = None
    instrument: str | None = None

    def __post_init__(self) -> None:
        for name in ("collection", "instrument"):
            value = getattr(self, name)
            if value is not None and (len(value) > MAX_FILTER_CHARS or not value.strip()):
                raise BadQuery(f"{name} {value[:40]!r} is empty or longer than 100 characters.")


def parse_format(value: str | None) -> str:
    """``fits`` (the default), ``ascii`` or ``json``.

    Raises
    ------
    BadQuery
        Any other format, naming those there are.
    """
    chosen = (value or "fits").strip().lower()
    if chosen not in FORMATS:
        raise BadQuery(f"MOC format {value!r} is not written here; give fits, ascii or json.")
    return chosen


def coverage_cells(conn: Connection, coverage: Coverage) -> np.ndarray:
    """The depth-:data:`CELL_DEPTH` cells the chosen observations' footprints touch."""
    chosen = select(observations.c.obsid).where(observations.c.status == "executed")
    if coverage.collection:
        chosen = chosen.where(
            func.lower(observations.c.obs_collection) == coverage.collection.strip().lower()
        )
    if coverage.instrument:
        wanted = coverage.instrument.strip().lower()
        name = func.lower(observations.c.instrument_name)
        chosen = chosen.where(or_(name == wanted, name.like(f"{_escaped(wanted)}/%", escape="\\")))
    query = select(footprint_cells.c.cell).where(footprint_cells.c.obsid.in_(chosen)).distinct()
    return np.fromiter((cell for (cell,) in conn.execute(query)), dtype=np.uint64)


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def build_moc(cells: np.ndarray):  # type: ignore[no-untyped-def]
    """The mocpy MOC of ``cells`` (depth :data:`CELL_DEPTH`)."""
    from mocpy import MOC

    depths = np.full(cells.shape, CELL_DEPTH, dtype=np.uint8)
    return MOC.from_healpix_cells(cells, depth=depths, max_depth=CELL_DEPTH)


def moc_bytes(moc, fmt: str) -> bytes:  # type: ignore[no-untyped-def]
    """The MOC serialised: FITS (MOC 2.0, NUNIQ-ordered so MOC 1 readers take it too), the
    ASCII serialisation (``10/1-3 100``) or mocpy's JSON."""
    if fmt == "fits":
        keywords = {"ORIGIN": "skyarchive"}
        hdus = moc.serialize(format="fits", optional_kw_dict=keywords, v1_compatible=True)
        out = io.BytesIO()
        hdus.writeto(out)
        return out.getvalue()
    return (moc.to_string(format=fmt) + "\n").encode("utf-8")


def fingerprint(conn: Connection) -> str:
    """What changes whenever the catalogue's observations or files change (module docstring)."""
    figures = conn.execute(select(summary_digest.c.figures).order_by(summary_digest.c.name)).all()
    newest = conn.execute(select(func.max(observations.c.obsid))).scalar()
    newest_file = conn.execute(select(func.max(products.c.product_id))).scalar()
    text = repr(([f for (f,) in figures], newest, newest_file))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class MocCache:
    """Serialised MOCs of this process, by (fingerprint, coverage, format); a few kept."""

    def __init__(self, size: int = 32) -> None:
        self._size = size
        self._kept: OrderedDict[tuple[str, Coverage, str], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def answer(self, conn: Connection, coverage: Coverage, fmt: str) -> bytes:
        """The MOC of ``coverage`` as ``fmt``, built now if the catalogue changed since."""
        key = (fingerprint(conn), coverage, fmt)
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
        made = moc_bytes(build_moc(coverage_cells(conn, coverage)), fmt)
        with self._lock:
            self._kept[key] = made
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)
        return made


#: The cache every request of this process shares.
MOCS = MocCache()
