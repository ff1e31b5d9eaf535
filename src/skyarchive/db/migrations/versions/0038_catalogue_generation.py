"""The catalogue's generation, and an index of release dates, for the MAST answer cache

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-03 22:00:00

Each server process keeps recent MAST search answers (then ``api/mast/answer_cache.py``; since
2026-12-04 ``api/answer_cache.py``). An answer
stays right while no write has touched the catalogue and no observation has reached its release
date since it was computed. ``catalogue_generation`` holds one counter that every catalogue
write bumps in its own transaction (``db/catalogue_generation.py``), so every process sees the
change with the rows; ``ix_observations_t_obs_release`` finds the next release date after now
in one index probe instead of a scan of the observations.
"""

import sqlalchemy as sa
from alembic import op

revision = "0038"
down_revision = "0037"
branch_labels = None
depends_on = None

RELEASE_INDEX = "ix_observations_t_obs_release"


def upgrade() -> None:
    table = op.create_table(
        "catalogue_generation",
        sa.Column("id", sa.Integer, primary_key=True, comment="Always 1: the table holds one row"),
        sa.Column(
            "generation", sa.BigInteger, nullable=False, comment="Bumped by every catalogue write"
        ),
    )
    op.bulk_insert(table, [{"id": 1, "generation": 1}])
    op.create_index(RELEASE_INDEX, "observations", ["t_obs_release"])


def downgrade() -> None:
    op.drop_index(RELEASE_INDEX, table_name="observations")
    op.drop_table("catalogue_generation")
