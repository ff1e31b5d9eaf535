"""Each keyword file's stored columns name their set of columns

Revision ID: 0044
Revises: 0043
Create Date: 2026-12-07 04:20:00

A MAST keyword answer writes each file's stored columns (schema 0043) into its rows as they
are, followed by the nulls of the table's columns the file lacks; those nulls are written once
per set of stored columns. Learning a file's set meant decoding its stored text, a sixth of a
keyword query's own work, only to throw the values away. The one product writer now stores the
identity of the set beside the text (``keyword_column_set``, a digest of the columns' names),
and a page looks the set up by it (``search/keyword_rows.py``).

Like schema 0043 this revision only adds the column: the code that writes it has another stamp,
so files stored before it are shaped from their headers per search, with the same answer,
until the worker's ``keyword-columns`` job (or ``skyarchive keyword-columns``) stores them
again.
"""

import sqlalchemy as sa
from alembic import op

revision = "0044"
down_revision = "0043"
branch_labels = None
depends_on = None


def upgrade() -> None:
    named = "Identity of the set of columns keyword_columns holds (schema 0044)"
    op.add_column("product_keywords", sa.Column("keyword_column_set", sa.String(16), comment=named))


def downgrade() -> None:
    op.drop_column("product_keywords", "keyword_column_set")
