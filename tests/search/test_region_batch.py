"""The vectorised distance to stored footprints agrees with the one-region-at-a-time path."""

from __future__ import annotations

import numpy as np
import pytest

from skyarchive.kept import Kept
from skyarchive.sky import stored_footprints
from skyarchive.sky.regions import Polygon, distances_arcsec, parse_s_region
from skyarchive.sky.stored_footprints import s_region_distances_arcsec, stored_vertices


def footprint_texts() -> list[str]:
    rng = np.random.default_rng(3)
    texts = []
    for _ in range(200):
        ra, dec = rng.uniform(0, 360), rng.uniform(-89, 89)
        n = int(rng.integers(3, 7))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        size = rng.uniform(0.001, 0.2)
        cos_dec = max(np.cos(np.radians(dec)), 0.05)
        pts = [(ra + size * np.cos(t) / cos_dec, dec + size * np.sin(t)) for t in angles]
        body = " ".join(f"{x % 360:.8f} {min(max(y, -90), 90):.8f}" for x, y in pts)
        style = int(rng.integers(0, 3))
        if style == 1:
            body = f"ICRS {body} {pts[0][0] % 360:.8f} {pts[0][1]:.8f}"  # framed and closed
        texts.append(f"POLYGON {body}")
    texts += ["CIRCLE 10.0 20.0 0.1", "CIRCLE ICRS 359.99 -5 0.01",
              "UNION (POLYGON 1 1 1.1 1 1.1 1.1 POLYGON 2 2 2.1 2 2.1 2.1)"]  # fmt: skip
    return texts


def test_batch_distances_equal_single_region_distances() -> None:
    texts = footprint_texts()
    for ra, dec in [(0.0, 0.0), (359.9, -5.0), (120.0, 60.0), (10.02, 20.01)]:
        expected = distances_arcsec([parse_s_region(t) for t in texts], ra, dec)
        got = s_region_distances_arcsec(texts, ra, dec)
        assert got == pytest.approx(expected, abs=1e-6, rel=1e-9)


def test_unusual_polygons_in_a_batch_agree_with_the_full_parser() -> None:
    # A footprint the batch's vertex checks set aside (a vertex repeated next to itself) and one
    # they keep with a zero-length closing edge (closed twice), among plain ones on either
    # side, so a ring set aside does not shift its neighbours' vertices.
    plain = ["POLYGON 10 10 10.1 10 10.1 10.1 10 10.1", "POLYGON ICRS 10.05 9.9 10.2 10 10.05 10.2"]
    unusual = [
        "POLYGON 10 10 10.1 10 10.1 10 10.1 10.1 10 10.1",  # repeated vertex
        "POLYGON 10 10 10.1 10 10.1 10.1 10 10.1 10 10 10 10",  # closed twice
    ]
    texts = [plain[0], unusual[0], plain[1], unusual[1], plain[0]]
    for ra, dec in [(10.05, 10.05), (10.3, 10.0), (9.9, 9.8)]:
        expected = distances_arcsec([parse_s_region(t) for t in texts], ra, dec)
        got = s_region_distances_arcsec(texts, ra, dec)
        assert got == pytest.approx(expected, abs=1e-6, rel=1e-9)
        assert got[0] == got[4]  # the same footprint, wherever it stands in the batch


def test_stored_vertices_are_the_unit_vectors_of_a_plain_polygons_vertices() -> None:
    text = "POLYGON ICRS 10 20 10.1 20 10.1 20.1 10 20.1 10 20"  # framed and closed
    xyz = np.frombuffer(stored_vertices(text) or b"", dtype="<f8").reshape(-1, 3)
    polygon = parse_s_region(text)
    assert isinstance(polygon, Polygon)
    for (ra, dec), vector in zip(polygon.vertices, xyz, strict=True):
        ra_r, dec_r = np.radians(ra), np.radians(dec)
        expected = [np.cos(dec_r) * np.cos(ra_r), np.cos(dec_r) * np.sin(ra_r), np.sin(dec_r)]
        assert vector == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize(
    "text",
    [None, "", "CIRCLE 10 20 0.1", "UNION (POLYGON 1 1 1.1 1 1.1 1.1 POLYGON 2 2 2.1 2 2.1 2.1)",
     "POLYGON 10 10 10.1 10 10.1 10 10.1 10.1 10 10.1",  # a vertex repeated next to itself
     "POLYGON 10 10 10.1 nan 10.1 10.1", "POLYGON 10 91 10.1 10 10.1 10.1"],
)  # fmt: skip
def test_no_vertices_are_stored_for_what_the_search_reads_from_the_text(text: str | None) -> None:
    assert stored_vertices(text) is None


def test_stored_vertices_give_the_distances_their_texts_give() -> None:
    # every plain polygon stored, then every other one (a batch mixes both), the circle, the
    # union and the rings the search sets aside read from their texts
    texts = footprint_texts() + [
        "POLYGON 10 10 10.1 10 10.1 10 10.1 10.1 10 10.1",
        "POLYGON 10 10 10.1 10 10.1 10.1 10 10.1 10 10 10 10",
    ]
    every = [stored_vertices(text) for text in texts]
    assert sum(v is None for v in every) == 4 and every[-1] is not None
    halves = [v if i % 2 else None for i, v in enumerate(every)]
    for ra, dec in [(0.0, 0.0), (359.9, -5.0), (120.0, 60.0), (10.02, 20.01), (10.05, 10.05)]:
        from_texts = s_region_distances_arcsec(texts, ra, dec)
        for vertices in (every, halves):
            got = s_region_distances_arcsec(texts, ra, dec, vertices)
            assert got == pytest.approx(from_texts, abs=1e-9, rel=1e-12)


def test_a_stored_blob_that_is_not_a_ring_is_read_from_its_text() -> None:
    # a blob cut short, padded, or of fewer than three vertices (an operator's bad copy; our
    # writers make none) does not fail the search: that footprint is read from its text
    texts = footprint_texts()[:6]
    good = [stored_vertices(text) for text in texts]
    assert all(v is not None for v in good)
    broken: list[bytes | None] = [
        good[0][:-1], good[1] + b"\0", good[2][:48], b"", good[4], None,
    ]  # fmt: skip
    for ra, dec in [(0.0, 0.0), (120.0, 60.0)]:
        from_texts = s_region_distances_arcsec(texts, ra, dec)
        got = s_region_distances_arcsec(texts, ra, dec, broken)
        assert got == pytest.approx(from_texts, abs=1e-9, rel=1e-12)


def test_kept_edge_tables_give_the_distances_made_afresh_to_the_last_bit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A cone's exact test keeps each stored footprint's edge geometry (it depends on no
    cone): a footprint met again, alone or beside others, in any order, gets the very numbers
    it got when its geometry was made, and those of a footprint never kept before."""
    monkeypatch.setattr(stored_footprints, "_KEPT_EDGES", Kept(10_000))
    texts = footprint_texts()
    every = [stored_vertices(text) for text in texts]
    position = (10.02, 20.01)
    made = s_region_distances_arcsec(texts, *position, every)  # every table made here
    assert len(stored_footprints._KEPT_EDGES) == sum(v is not None for v in every)
    held = [v is not None for v in every]
    with monkeypatch.context() as nothing_made:  # every table kept: none is made again
        nothing_made.setattr(stored_footprints, "joined_geometry", None)
        again = s_region_distances_arcsec(
            [t for t, v in zip(texts, held, strict=True) if v], *position, [v for v in every if v]
        )
    assert np.array_equal(again, made[held])
    order = np.random.default_rng(5).permutation(len(texts))
    shuffled = s_region_distances_arcsec(
        [texts[i] for i in order], *position, [every[i] for i in order]
    )
    assert np.array_equal(shuffled, made[order])
    # half kept, half made now (a fresh cache holding every other footprint)
    monkeypatch.setattr(stored_footprints, "_KEPT_EDGES", Kept(10_000))
    s_region_distances_arcsec(texts[::2], *position, every[::2])
    mixed = s_region_distances_arcsec(texts, *position, every)
    assert np.array_equal(mixed, made)
    # a footprint whose vertices changed (its first kept) is a table of its own
    before = "POLYGON 10 20 10.04 20 10.04 20.02 10 20.02"
    after = "POLYGON 10 20 9.96 20 9.96 19.98 10 19.98"
    for text in (before, after):
        got = s_region_distances_arcsec([text], *position, [stored_vertices(text)])
        assert np.array_equal(got, s_region_distances_arcsec([text], *position))
    assert s_region_distances_arcsec([after], *position)[0] > 0.0


def test_edge_tables_kept_are_bounded_and_read_only(monkeypatch: pytest.MonkeyPatch) -> None:
    kept: Kept[np.ndarray] = Kept(8)
    monkeypatch.setattr(stored_footprints, "_KEPT_EDGES", kept)
    texts = [t for t in footprint_texts() if stored_vertices(t) is not None][:50]
    every = [stored_vertices(text) for text in texts]
    for ra, dec in [(0.0, 0.0), (120.0, 60.0)]:
        from_texts = s_region_distances_arcsec(texts, ra, dec)
        for start in range(0, len(texts), 5):  # searches of five footprints each
            got = s_region_distances_arcsec(
                texts[start : start + 5], ra, dec, every[start : start + 5]
            )
            assert np.array_equal(got, from_texts[start : start + 5])
        assert 0 < len(kept) <= 8
    table = next(iter(kept._built.values()))
    with pytest.raises(ValueError, match="read-only"):
        table[0, 0] = 1.0
