"""An index of programs.pi_user_id, for the caller's programs

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-04 13:00:00

Every request with an API token or a session finds the programs its user may read, the ones
they lead (``programs.pi_user_id``) among them, in the same statement as the token
(``access/caller.py``). Without an index that arm reads the whole programs table. No data
change.
"""

from alembic import op

revision = "0039"
down_revision = "0038"
branch_labels = None
depends_on = None

INDEX = "ix_programs_pi_user_id"


def upgrade() -> None:
    op.create_index(INDEX, "programs", ["pi_user_id"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="programs")
