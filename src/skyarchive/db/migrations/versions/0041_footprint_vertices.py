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

import sqlalchemy as sa
from alembic import op

from skyarchive.sky.regions import stored_vertices

revision = "0041"
down_revision = "0040"
branch_labels = None
depends_on = None

_BATCH = 10_000


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
    # The rule that makes them is the search's own (sky/regions.py), imported rather than
    # written out: the stored numbers must be those the search would have parsed.
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
        rows = [{"obsid": obsid, "xyz": stored_vertices(text)} for obsid, text in batch]
        rows = [row for row in rows if row["xyz"] is not None]
        if rows:
            conn.execute(insert, rows)
        after = batch[-1][0]


def downgrade() -> None:
    op.drop_table("footprint_vertices")
