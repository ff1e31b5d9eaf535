"""A covering index of the portal's facet columns, led by the program

Revision ID: 0027
Revises: 0022
Create Date: 2026-12-03 15:20:00

The portal counts ten facets over every row a search matches ("Instrument: NIRCAM/IMAGE
(25,000 of 200,000)"). Found through the ``proposal_id`` index, those rows were read from the
wide ``observations`` table (titles, regions, URLs): 1.1-2.4 s for a 200,000-row result at a
million observations. This index holds the program first (the commonest search, one or many
program IDs) and then every column a facet shows or a chosen facet value tests, so the
counts read a narrow copy of the rows and never the table (an index-only scan on PostgreSQL
once the visibility map is set; SQLite's rowid, the obsid, is in every index entry; PostgreSQL
gets ``obsid`` as an included column for the part-of-a-value matches). No data change.
"""

from alembic import op

revision = "0027"
down_revision = "0022"
branch_labels = None
depends_on = None

NAME = "ix_observations_facets"
# Written out, not imported: a revision keeps the schema of its day.
COLUMNS = ["proposal_id", "obs_collection", "instrument_name", "calib_level", "filters",
           "dataproduct_type", "wavelength_region", "intentType", "t_obs_release", "target_name"]  # fmt: skip


def upgrade() -> None:
    op.create_index(NAME, "observations", COLUMNS, postgresql_include=["obsid"])
    # Fresh statistics, so the planner weighs the new index (SQLite reads sqlite_stat1).
    op.execute("ANALYZE observations")


def downgrade() -> None:
    op.drop_index(NAME, table_name="observations")
