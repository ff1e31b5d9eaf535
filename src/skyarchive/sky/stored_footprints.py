"""Footprints as the catalogue stores them, many at a time: each plain polygon's vertices
stored beside its STC-S text (:func:`stored_vertices`, schema 0041), and the distance from one
position to each of many stored footprints (:func:`s_region_distances_arcsec`, a cone's exact
test), with the geometry of their edges that no cone changes kept per process.

The geometry itself, and every other footprint (circles, unions, anything unusual), is
:mod:`skyarchive.sky.regions`'; the answers are the same as its :func:`distances_arcsec` of the
parsed texts, to the last bit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

import numpy as np
import numpy.typing as npt

from skyarchive.kept import Kept
from skyarchive.sky.regions import (
    FRAME_TOKENS,
    RAD_TO_ARCSEC,
    PolygonGeometry,
    distances_arcsec,
    geometry_distances,
    joined_geometry,
    parse_s_region,
    radec_to_xyz,
)

__all__ = ["s_region_distances_arcsec", "simple_polygon_vertices", "stored_vertices"]


# A ring's edge table: what joined_geometry makes of its edges, one row an edge, in columns
# (the polygon's own values on each of its rows), so that the tables of many rings joined
# are the geometry of them all (_geometry_of_tables) at the cost of one concatenation.
_A, _B, _NORMAL, _START_SIDE, _END_SIDE = (slice(i, i + 3) for i in range(0, 15, 3))
_NORMAL_LEN, _AB, _FOLLOWING, _AREA_LEFT, _INTERIOR_LEFT = range(15, 20)
_EDGE_COLUMNS = 20


def _edge_table(
    g: PolygonGeometry, starts: np.ndarray, counts: np.ndarray
) -> npt.NDArray[np.float64]:
    """The edge tables of the rings of ``g``, joined (``starts`` and ``counts`` as
    :func:`joined_geometry` took and gave them); ``following`` is kept relative to each
    ring's first edge."""
    table = np.empty((len(g.a), _EDGE_COLUMNS))
    table[:, _A], table[:, _B], table[:, _NORMAL] = g.a, g.b, g.normal
    table[:, _START_SIDE], table[:, _END_SIDE] = g.start_side, g.end_side
    table[:, _NORMAL_LEN], table[:, _AB] = g.normal_len, g.ab
    table[:, _FOLLOWING] = g.following - np.repeat(starts, counts)
    table[:, _AREA_LEFT] = np.repeat(g.area_left, counts)
    table[:, _INTERIOR_LEFT] = np.repeat(g.interior_left, counts)
    return table


def _geometry_of_tables(
    table: np.ndarray, counts: np.ndarray
) -> tuple[PolygonGeometry, np.ndarray]:
    """:func:`joined_geometry` of rings of ``counts`` vertices, from their edge tables
    joined: the same numbers, made once per ring (the tables are per ring) and only read."""
    starts = np.zeros(len(counts), dtype=np.intp)
    np.cumsum(counts[:-1], out=starts[1:])
    geometry = PolygonGeometry(
        a=table[:, _A],
        b=table[:, _B],
        following=np.repeat(starts, counts) + table[:, _FOLLOWING].astype(np.intp),
        normal=table[:, _NORMAL],
        normal_len=table[:, _NORMAL_LEN],
        start_side=table[:, _START_SIDE],
        end_side=table[:, _END_SIDE],
        ab=table[:, _AB],
        area_left=table[starts, _AREA_LEFT],
        interior_left=table[starts, _INTERIOR_LEFT] > 0.5,
    )
    return geometry, starts


#: Footprints whose edge tables a process keeps: about 1 kB each for a quadrilateral.
KEPT_EDGE_TABLES = 16_384
#: Edge tables of stored footprints, by their stored vertices (the bytes themselves, so a
#: footprint that changes is another key, and a table is never stale), for the cones that meet
#: them again: making them was half of a cone's exact test (about 60 of 150 µs for the 40
#: footprints of a 1′ cone on the demo archive). Shared by a process's search threads, read
#: only.
_KEPT_EDGES: Kept[np.ndarray] = Kept(KEPT_EDGE_TABLES)


def simple_polygon_vertices(text: str) -> tuple[list[float], list[float]] | None:
    """RA and Dec lists of a plain ``POLYGON [frame] ra dec ...`` text, else None.

    Only for footprints already validated at ingest; anything unusual (other shapes, unions,
    repeated vertices) returns None and takes the full parser. Plain Python: a footprint has a
    handful of vertices, too few for numpy's per-call cost to pay off.
    """
    values = _polygon_numbers(text)
    if values is None or not all(map(math.isfinite, values)):
        return None
    ra, dec = values[0::2], values[1::2]
    if any(abs(d) > 90.0 for d in dec):
        return None
    if any(ra[i] == ra[i + 1] and dec[i] == dec[i + 1] for i in range(len(ra) - 1)):
        return None
    return ra, dec


#: How :func:`stored_vertices` writes a vertex's coordinates: float64, little-endian.
_STORED = np.dtype("<f8")
_STORED_VERTEX_BYTES = 3 * _STORED.itemsize


def stored_vertices(text: str | None) -> bytes | None:
    """The vertices of a plain polygon footprint as stored beside its text: the unit vector
    ``x y z`` of each vertex of the open ring, as :data:`_STORED` numbers. None for any other
    footprint (circles, unions, polygons :func:`simple_polygon_vertices` refuses), which
    :func:`s_region_distances_arcsec` reads from its text."""
    simple = None if not text else simple_polygon_vertices(text)
    if simple is None:
        return None
    return radec_to_xyz(*simple).astype(_STORED).tobytes()


def s_region_distances_arcsec(
    texts: Sequence[str], ra: float, dec: float, vertices: Sequence[bytes | None] = ()
) -> np.ndarray:
    """Distances (arcsec, 0 inside) from ``(ra, dec)`` to many stored ``s_region`` texts.

    Same result as ``distances_arcsec([parse_s_region(t) for t in texts], ra, dec)``, with
    plain polygons handled in one vectorised pass: each text is only split into numbers here,
    and the checks of :func:`simple_polygon_vertices` run over all vertices at once (a
    search's cost was in per-footprint Python checks, not in the geometry). ``vertices``,
    when given, holds each text's :func:`stored_vertices` (or None): a footprint's stored
    vertices are read instead of its text, whose numbers cost more to parse than the test,
    and the geometry of their edges that no cone changes is kept (:data:`_KEPT_EDGES`).
    """
    out = np.empty(len(texts))
    tables: list[np.ndarray | None] = []  # each ring's edge table; None until made
    sizes: list[int] = []  # each ring's number of vertices
    owners: list[int] = []  # each ring's footprint
    fresh: list[tuple[int, bytes]] = []  # (ring, its stored vertices) whose table is to be made
    kept = _KEPT_EDGES.find
    for index, blob in enumerate(vertices):
        if blob is None:
            continue
        count, rest = divmod(len(blob), _STORED_VERTEX_BYTES)
        if rest or count < 3:
            # not whole vertices of a ring (none of our writers makes one): read from its
            # text, as if nothing were stored, rather than failing the search
            continue
        table = kept(blob)
        if table is None:
            fresh.append((len(tables), blob))
        tables.append(table)
        sizes.append(count)
        owners.append(index)
    others = (
        _parsed_rings(texts, set(owners), tables, sizes, owners) if len(owners) < len(texts) else []
    )
    if tables:
        if fresh:
            _make_edge_tables(fresh, tables)
        joined = np.concatenate(cast("list[np.ndarray]", tables))  # every table made now
        g, starts = _geometry_of_tables(joined, np.array(sizes))
        point = radec_to_xyz(ra, dec)[None, :]
        out[owners] = geometry_distances(g, starts, point)[0] * RAD_TO_ARCSEC
    if others:
        others.sort()
        regions = [parse_s_region(texts[i]) for i in others]
        out[others] = distances_arcsec(regions, ra, dec)
    return out


def _parsed_rings(
    texts: Sequence[str],
    read: set[int],
    tables: list[np.ndarray | None],
    sizes: list[int],
    owners: list[int],
) -> list[int]:
    """The plain polygons among ``texts`` not ``read`` from their stored vertices, split into
    numbers and added as rings of their own edge tables (made, not kept: a text has no
    stored vertices to keep them by); the indexes of the other footprints, for the full
    parser."""
    ring_ra: list[float] = []
    ring_dec: list[float] = []
    counts: list[int] = []
    ring_owner: list[int] = []
    others: list[int] = []
    for index, text in enumerate(texts):
        if index in read:
            continue
        values = _polygon_numbers(text)
        if values is None:
            others.append(index)
        else:
            ring_ra += values[0::2]
            ring_dec += values[1::2]
            counts.append(len(values) // 2)
            ring_owner.append(index)
    if not counts:
        return others
    ras, decs, parsed = np.array(ring_ra), np.array(ring_dec), np.array(counts)
    starts = np.concatenate([[0], np.cumsum(parsed)[:-1]])
    unusual = _unusual_rings(ras, decs, starts)
    parsed_owners = np.array(ring_owner)
    if unusual.any():  # to the full parser, as simple_polygon_vertices would send them
        others += parsed_owners[unusual].tolist()
        kept = np.repeat(~unusual, parsed)
        ras, decs = ras[kept], decs[kept]
        parsed, parsed_owners = parsed[~unusual], parsed_owners[~unusual]
    if len(parsed):
        g, starts = joined_geometry(radec_to_xyz(ras, decs).reshape(-1, 3), parsed)
        table = _edge_table(g, starts, parsed)
        tables += np.split(table, starts[1:])
        sizes += parsed.tolist()
        owners += parsed_owners.tolist()
    return others


def _make_edge_tables(fresh: list[tuple[int, bytes]], tables: list[np.ndarray | None]) -> None:
    """The edge tables of the ``fresh`` rings (each with its stored vertices), made at once,
    put in their places in ``tables`` and kept under their vertices."""
    blobs = [blob for _, blob in fresh]
    counts = np.array([len(blob) // _STORED_VERTEX_BYTES for blob in blobs])
    a = np.frombuffer(b"".join(blobs), dtype=_STORED).reshape(-1, 3)
    g, starts = joined_geometry(a, counts)
    made = np.split(_edge_table(g, starts, counts), starts[1:])
    for (ring, blob), table in zip(fresh, made, strict=True):
        table = table.copy()
        table.flags.writeable = False  # shared: a search only reads it
        tables[ring] = _KEPT_EDGES.keep(bytes(blob), table)


def _polygon_numbers(text: str) -> list[float] | None:
    """The numbers ``ra dec ra dec ...`` of a ``POLYGON [frame] ...`` text, the closing vertex
    dropped, when there are at least three vertices; else None (for the full parser).

    No check of the numbers themselves: :func:`simple_polygon_vertices` makes them for one
    footprint, :func:`_unusual_rings` over many at once.
    """
    tokens = text.split()
    if not tokens or tokens[0].upper() != "POLYGON":
        return None
    start = 1
    while start < len(tokens) and tokens[start].upper() in FRAME_TOKENS:
        start += 1
    try:
        values = list(map(float, tokens[start:]))
    except ValueError:
        return None
    if len(values) < 6 or len(values) % 2:
        return None
    if values[0] == values[-2] and values[1] == values[-1]:
        del values[-2:]
    return values if len(values) >= 6 else None


def _unusual_rings(ras: np.ndarray, decs: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Which of the joined rings (vertices from ``starts``) :func:`simple_polygon_vertices`
    would refuse: a number not finite, a Dec beyond 90 degrees, or a vertex repeated next to
    itself."""
    bad = ~(np.isfinite(ras) & np.isfinite(decs)) | (np.abs(decs) > 90.0)
    repeated = (ras[1:] == ras[:-1]) & (decs[1:] == decs[:-1])
    repeated[starts[1:] - 1] = False  # a ring's last vertex and the next ring's first
    bad[:-1] |= repeated
    return np.logical_or.reduceat(bad, starts)
