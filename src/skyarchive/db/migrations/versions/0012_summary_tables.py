"""Stored figures of what the archive holds, for the home page

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 06:30:00

The home page counted whole tables on every request (seconds at a million observations).
Observations per collection, program and instrument, and files and bytes per collection and
program, are now stored and recounted by the writers (``search/summary.py``). This revision
counts them from the rows an older archive already holds.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "summary_observations",
        sa.Column("obs_collection", sa.String(32), nullable=False),
        sa.Column("proposal_id", sa.String(32), nullable=False,
                  comment="'' for observations without"),
        sa.Column("instrument_name", sa.String(40), nullable=False, comment="'' when unknown"),
        sa.Column("observations", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("obs_collection", "proposal_id", "instrument_name",
                                name=op.f("pk_summary_observations")),
    )  # fmt: skip
    op.create_table(
        "summary_files",
        sa.Column("obs_collection", sa.String(32), nullable=False),
        sa.Column("proposal_id", sa.String(32), nullable=False, comment="'' for files without"),
        sa.Column("files", sa.BigInteger, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("obs_collection", "proposal_id", name=op.f("pk_summary_files")),
    )
    op.create_table(
        "summary_digest",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("figures", sa.Text, nullable=False,
                  comment="JSON, rebuilt with the summary rows"),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_summary_digest")),
    )  # fmt: skip
    # the digest is built by the next write; until then the page sums the rows counted here
    op.execute(
        "INSERT INTO summary_observations"
        " (obs_collection, proposal_id, instrument_name, observations)"
        " SELECT obs_collection, COALESCE(proposal_id, ''), COALESCE(instrument_name, ''),"
        " COUNT(*) FROM observations"
        " GROUP BY obs_collection, COALESCE(proposal_id, ''), COALESCE(instrument_name, '')"
    )
    op.execute(
        "INSERT INTO summary_files (obs_collection, proposal_id, files, bytes)"
        " SELECT obs_collection, COALESCE(proposal_id, ''), COUNT(*), COALESCE(SUM(size), 0)"
        " FROM products GROUP BY obs_collection, COALESCE(proposal_id, '')"
    )


def downgrade() -> None:
    op.drop_table("summary_digest")
    op.drop_table("summary_files")
    op.drop_table("summary_observations")
