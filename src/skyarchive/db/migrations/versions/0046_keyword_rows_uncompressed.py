"""Keyword rows kept uncompressed on PostgreSQL

Revision ID: 0046
Revises: 0045
Create Date: 2026-12-07 16:30:00

A MAST keyword answer reads each file's stored keyword columns and archive members (schemas
0043-0045), some 2 kB of text a file. PostgreSQL compresses the values of a row longer than
2 kB (``toast_tuple_target``), so every page of an answer decompressed them again: the page
statement took 850-870 µs with them against 450 µs for the same rows without them, and
445-580 µs with them uncompressed (docs/performance.md, the thirtieth pass). The table's
target is raised to the most a row can hold in its page (8,160 bytes): rows up to it are kept
as they are, larger ones still compressed or moved out of line as before.

Values already stored keep their form until they are written again: the keyword columns and
archive members of an archive upgraded from before 0045 are, by ``skyarchive keyword-columns``
or the worker. SQLite stores text as it is: nothing to do there.
"""

from alembic import op

revision = "0046"
down_revision = "0045"
branch_labels = None
depends_on = None

#: The most a row can hold in an 8 kB page: PostgreSQL's upper bound for the setting.
ROW_TARGET = 8160


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE product_keywords SET (toast_tuple_target = {ROW_TARGET})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE product_keywords RESET (toast_tuple_target)")
