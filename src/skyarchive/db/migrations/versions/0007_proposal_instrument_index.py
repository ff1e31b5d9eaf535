"""An index for the commonest MAST query: one program's observations with one instrument

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 14:20:00

``query_criteria(proposal_id=..., instrument_name=...)`` used the ``proposal_id`` index and
then read every observation of the program to compare instruments; with both in one index
only the matching rows are read.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

NAME = "ix_observations_proposal_lower_instrument"


def upgrade() -> None:
    op.create_index(
        NAME, "observations", [sa.text("proposal_id"), sa.text("lower(instrument_name)")]
    )


def downgrade() -> None:
    op.drop_index(NAME, table_name="observations")
