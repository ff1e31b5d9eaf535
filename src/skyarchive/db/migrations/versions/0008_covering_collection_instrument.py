"""PostgreSQL: the (mission, instrument) index also carries the raw columns

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 15:10:00

PostgreSQL considers an index-only scan only when every column a query mentions is in the
index; for ``lower(obs_collection)`` it wants ``obs_collection`` itself too, so counts of
"mission + instrument" read the whole table (200 ms at a million observations). With the raw
columns included the count is answered from the index (about 10 ms). SQLite already answers
it from the expression index: nothing changes there.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

NAME = "ix_observations_lower_collection_instrument"
EXPRESSIONS = [sa.text("lower(obs_collection)"), sa.text("lower(instrument_name)")]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(NAME, table_name="observations")
    op.create_index(NAME, "observations", EXPRESSIONS,
                    postgresql_include=["obs_collection", "instrument_name"])  # fmt: skip


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(NAME, table_name="observations")
    op.create_index(NAME, "observations", EXPRESSIONS)
