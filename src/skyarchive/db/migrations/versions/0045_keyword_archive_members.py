"""Each keyword file's archive columns stored with its keyword columns

Revision ID: 0045
Revises: 0044
Create Date: 2026-12-07 15:00:00

A MAST keyword answer's row begins with some twenty archive columns (the file's id, name,
file set, product level, size, checksum, ingest dates, data URI, release): its page statement
read them from the products and observations rows, working out the file set and the product
level per row, and each was turned into JSON text per search, about half of a keyword query's
own work (docs/performance.md, issue 20). Those that only the file's own ingest changes are
now stored by the one product writer beside its keyword columns, as the members of a JSON
object (``archive_members``); the release's three are still joined in per search, since
release dates change without an ingest.

Like schemas 0043 and 0044 this revision only adds the column (the members are made in
Python): the code that writes it has another stamp, so files stored before it are written
from their products rows per search, with the same answer, until the worker's
``keyword-columns`` job (or ``skyarchive keyword-columns``) stores them again.
"""

import sqlalchemy as sa
from alembic import op

revision = "0045"
down_revision = "0044"
branch_labels = None
depends_on = None


def upgrade() -> None:
    stored = "JSON members: the archive columns only the file's ingest changes (schema 0045)"
    op.add_column("product_keywords", sa.Column("archive_members", sa.Text, comment=stored))


def downgrade() -> None:
    op.drop_column("product_keywords", "archive_members")
