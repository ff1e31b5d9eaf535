"""keyword_counts: files per keyword table and exposure type, kept at ingest

Revision ID: 0026
Revises: 0022
Create Date: 2026-12-03 15:10:00

A keyword page's total (``Mast.Jwst.Filtered.*`` with no criterion or exposure types only)
and the exposure-type dialog's counts were counted per request from the (listed_in,
exp_type, ...) index: some 3.5 ms per 57,000 files on SQLite at a million files, more than
the rest of a 50-row page. The product writer now recounts the tables it touches
(``keyword_store.refresh_counts``) in its transaction; the upgrade counts the existing rows.
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "keyword_counts",
        sa.Column("listed_in", sa.String(length=16), nullable=False,
                  comment="Keyword table (NIRCAM..GUIDESTAR)"),
        sa.Column("exp_type", sa.String(length=120), nullable=False,
                  comment="Stored exp_type; '' when none"),
        sa.Column("files", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("listed_in", "exp_type"),
    )  # fmt: skip
    # Written out, not imported: a revision keeps the schema of its day.
    op.execute(
        "INSERT INTO keyword_counts (listed_in, exp_type, files)"
        " SELECT listed_in, coalesce(exp_type, ''), count(*) FROM product_keywords"
        " WHERE listed_in IS NOT NULL GROUP BY listed_in, exp_type"
    )


def downgrade() -> None:
    op.drop_table("keyword_counts")
