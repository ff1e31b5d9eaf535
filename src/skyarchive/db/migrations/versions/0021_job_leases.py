"""job_leases: one holder per job at a time, across every worker process

Revision ID: 0021
Revises: 0017

With several ``skyarchive worker`` processes on Redis, the same staging request or periodic
job can reach two of them (a re-enqueue after a kill, each consumer's own schedule). A job
runs only while its worker holds the job's row here; a killed worker's lease runs out and
another takes the job over.
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0017"  # chained after main's 0017 at the merge of main
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_leases",
        sa.Column(
            "name", sa.String(length=200), nullable=False,
            comment="The job: 'staging:<id>', 'notify'",
        ),
        sa.Column(
            "holder", sa.String(length=100), nullable=False, comment="host, pid and a random part"
        ),
        sa.Column(
            "expires_at", sa.Float(), nullable=False, comment="Unix time; renewed while it runs"
        ),
        sa.PrimaryKeyConstraint("name"),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("job_leases")
