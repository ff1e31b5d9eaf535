"""A plain polygon footprint's vertices stored as numbers beside its text

Revision ID: 0041
Revises: 0040
Create Date: 2026-12-05 21:00:00

A cone's exact test parsed every candidate's ``s_region`` text into numbers, which cost more
than the test itself (about half of it for a cone of 40 footprints). The vertices of each
plain polygon are now stored as unit vectors (``footprint_vertices``, written with the
footprint's cells); other footprints have no row and are read from their text. This revision
stores those of an existing archive, a batch of observations at a time.
"""

import math

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = "0041"
down_revision = "0040"
branch_labels = None
depends_on = None

_BATCH = 10_000
# Written out, not imported: a revision keeps the rules of its day (and the db layer does not
# reach up to sky/). The rule is the search's (sky/stored_footprints.stored_vertices) for the
# footprints it reads: any text this does not take has no row and is read from its text, as
# before.
_FRAMES = frozenset({"ICRS", "FK5", "J2000", "GEOCENTER", "TOPOCENTER", "BARYCENTER",
                     "HELIOCENTER", "UNKNOWNFRAME", "UNKNOWNREFPOS", "SPHERICAL2"})  # fmt: skip


def _vertices(text: str) -> bytes | None:
    """The unit vectors of a plain ``POLYGON [frame] ra dec ...`` footprint's vertices (the
    ring open, float64 little-endian x y z each), or None."""
    words = text.split()
    if not words or words[0].upper() != "POLYGON":
        return None
    start = 1
    while start < len(words) and words[start].upper() in _FRAMES:
        start += 1
    try:
        values = [float(word) for word in words[start:]]
    except ValueError:
        return None
    if len(values) < 6 or len(values) % 2:
        return None
    if values[0] == values[-2] and values[1] == values[-1]:
        del values[-2:]
    ra, dec = values[0::2], values[1::2]
    if (
        len(ra) < 3 or not all(map(math.isfinite, values)) or any(abs(d) > 90.0 for d in dec)
        or any(ra[i] == ra[i + 1] and dec[i] == dec[i + 1] for i in range(len(ra) - 1))
    ):  # fmt: skip
        return None
    ra_r, dec_r = np.radians(np.asarray(ra, dtype=float)), np.radians(np.asarray(dec, dtype=float))
    cos_dec = np.cos(dec_r)
    xyz = np.stack([cos_dec * np.cos(ra_r), cos_dec * np.sin(ra_r), np.sin(dec_r)], axis=-1)
    return xyz.astype("<f8").tobytes()


def upgrade() -> None:
    op.create_table(
        "footprint_vertices",
        sa.Column("obsid", sa.BigInteger, primary_key=True),
        sa.Column(
            "xyz",
            sa.LargeBinary,
            nullable=False,
            comment="x y z of each vertex, float64 little-endian, open ring",
        ),
        sa.ForeignKeyConstraint(
            ["obsid"], ["observations.obsid"], name="fk_footprint_vertices_obsid_observations"
        ),
        sa.PrimaryKeyConstraint("obsid", name="pk_footprint_vertices"),
    )
    conn = op.get_bind()
    footprints = sa.text(
        "SELECT obsid, s_region FROM observations WHERE obsid > :after AND s_region IS NOT NULL"
        " ORDER BY obsid LIMIT :batch"
    )
    insert = sa.text("INSERT INTO footprint_vertices (obsid, xyz) VALUES (:obsid, :xyz)")
    insert = insert.bindparams(sa.bindparam("xyz", type_=sa.LargeBinary))
    after = -(2**63)
    while True:
        batch = conn.execute(footprints, {"after": after, "batch": _BATCH}).all()
        if not batch:
            break
        rows = [{"obsid": obsid, "xyz": _vertices(text)} for obsid, text in batch]
        rows = [row for row in rows if row["xyz"] is not None]
        if rows:
            conn.execute(insert, rows)
        after = batch[-1][0]


def downgrade() -> None:
    op.drop_table("footprint_vertices")
