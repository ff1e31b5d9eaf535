"""A narrow index of the grid's sortable columns, led by the program; the restricted rows'
facet columns beside their release dates

Revision ID: 0037
Revises: 0032
Create Date: 2026-12-03 22:00:00

The portal's grid sorts a search's rows by any visible column. A page of 50 of the 200,000
rows of a search by a hundred programs, sorted by exposure time, read and sorted all 200,000
wide rows (0.3-1.9 s at a million observations). The page's obsids are now taken first, from
an index that holds the program, the sorted column and the obsid, and only then its rows. The
facet indexes of schema 0027 hold most of the grid's columns; this one holds the others
(start time, exposure length, RA, Dec, observation ID).

A program search's restricted observations (not yet public) are counted live beside the
stored facet counts, and with facet values ticked they are grouped by combination and tested
against those values: ``ix_observations_program_release`` (program, release date) now carries
the facet columns and the target, so that reads the index alone (30,000 rows of a 200,000-row
result when 15% of it is in its exclusive-access year). No data change.
"""

from alembic import op

revision = "0037"
down_revision = "0032"
branch_labels = None
depends_on = None

INDEX = "ix_observations_program_sort"
RELEASE = "ix_observations_program_release"
# Written out, not imported: a revision keeps the schema of its day.
_COLUMNS = ["proposal_id", "t_min", "t_exptime", "s_ra", "s_dec", "obs_id"]
_FACETS = ["obs_collection", "instrument_name", "calib_level", "filters", "dataproduct_type",
           "wavelength_region", "intentType", "target_name"]  # fmt: skip


def upgrade() -> None:
    op.create_index(INDEX, "observations", _COLUMNS, postgresql_include=["obsid"])
    op.drop_index(RELEASE, table_name="observations")
    op.create_index(RELEASE, "observations", ["proposal_id", "t_obs_release", *_FACETS],
                    postgresql_include=["obsid"])  # fmt: skip
    op.execute("ANALYZE observations")  # the planner weighs the new indexes


def downgrade() -> None:
    op.drop_index(RELEASE, table_name="observations")
    op.create_index(RELEASE, "observations", ["proposal_id", "t_obs_release"])
    op.drop_index(INDEX, table_name="observations")
