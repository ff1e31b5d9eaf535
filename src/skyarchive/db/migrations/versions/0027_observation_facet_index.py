"""Two covering indexes of the portal's facet columns, led by the program

Revision ID: 0027
Revises: 0022
Create Date: 2026-12-03 15:20:00

The portal counts ten facets over every row a search matches ("Instrument: NIRCAM/IMAGE
(25,000 of 200,000)"). Found through the ``proposal_id`` index, those rows were read from the
wide ``observations`` table (titles, regions, URLs): 1.1-2.4 s for a 200,000-row result at a
million observations. Each index holds the program first (the commonest search, one or many
program IDs) and then every column a facet shows or a chosen facet value tests, so the
counts read a narrow copy of the rows and never the table (an index-only scan on PostgreSQL
once the visibility map is set; SQLite's rowid, the obsid, is in every index entry; PostgreSQL
gets ``obsid`` as an included column for the part-of-a-value matches). The counts group by a
prefix of one index or the other: the program and the facets with few values
(``ix_observations_facets``), the program and its targets
(``ix_observations_program_targets``), so the groups come in index order with no sort. No
data change.
"""

from alembic import op

revision = "0027"
down_revision = "0022"
branch_labels = None
depends_on = None

# Written out, not imported: a revision keeps the schema of its day.
_FEW = ["obs_collection", "instrument_name", "calib_level", "filters", "dataproduct_type",
        "wavelength_region", "intentType"]  # fmt: skip
INDEXES = {
    "ix_observations_facets": ["proposal_id", *_FEW, "t_obs_release", "target_name"],
    "ix_observations_program_targets": ["proposal_id", "target_name", *_FEW, "t_obs_release"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "observations", columns, postgresql_include=["obsid"])
    # Fresh statistics, so the planner weighs the new indexes (SQLite reads sqlite_stat1).
    op.execute("ANALYZE observations")


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="observations")
