"""Each keyword file's table columns stored ready

Revision ID: 0043
Revises: 0042
Create Date: 2026-12-06 05:30:00

A keyword query's own work was mostly turning each file's stored header into the keyword
tables' columns (some 250 of them, each value as its column shows it): 0.75 ms of CPU for a
page of 36 files. The one product writer now stores that outcome beside the header
(``keyword_columns``, JSON by column name) with a stamp of the code that made it
(``keyword_columns_stamp``), and a page whose files all carry the current stamp merges them
into its rows (``search/keyword_rows.py``).

The columns are made by Python (the converters of ``search/keyword_rows.py``), not SQL, so this
revision only adds them: files ingested before it are shaped from their headers per search,
as before, with the same answer, until ``skyarchive keyword-columns`` writes theirs.
"""

import sqlalchemy as sa
from alembic import op

revision = "0043"
down_revision = "0042"
branch_labels = None
depends_on = None


def upgrade() -> None:
    shown = "JSON: the keyword tables' columns the header fills, as shown (schema 0043)"
    made_by = "The code keyword_columns were made by; another's are not read (schema 0043)"
    op.add_column("product_keywords", sa.Column("keyword_columns", sa.Text(), comment=shown))
    op.add_column(
        "product_keywords",
        sa.Column("keyword_columns_stamp", sa.String(16), comment=made_by),
    )


def downgrade() -> None:
    op.drop_column("product_keywords", "keyword_columns_stamp")
    op.drop_column("product_keywords", "keyword_columns")
