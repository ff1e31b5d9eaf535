"""The keyword store's (listed_in, exp_type) index covers every typed keyword

Revision ID: 0019
Revises: 0021
Create Date: 2026-12-03 09:00:00

The portal's keyword dialogs count each value of a keyword among the files the other
criteria leave ("NIS_SOSS (200 Total)"), and ``COUNT_BIG(*)`` counts a whole selection. At a
million files, reading the keyword rows for that (each carries the file's whole header as
JSON, about a kilobyte) took 120-330 ms per count on SQLite. The (listed_in, exp_type,
product_id) index now goes on with every other typed keyword, so such counts read the index
alone (an index-only scan on both backends), and pages of an exposure type still come from it
in product_id order. No data change: the typed columns are filled since schema 0001 and
folded since 0014.
"""

from alembic import op

revision = "0019"
down_revision = "0021"  # chained after main's 0021 at the merge of main
branch_labels = None
depends_on = None

_TABLE = "product_keywords"
_OLD = "ix_product_keywords_listed_in_exp_type_product_id"
_NEW = "ix_product_keywords_listed_in_exp_type_covering"
_COLUMNS = ["listed_in", "exp_type", "product_id", "filter", "detector", "pupil", "grating",
            "subarray", "readpatt", "category", "tsovisit", "nints", "ngroups", "effexptm",
            "expstart"]  # fmt: skip


def upgrade() -> None:
    op.create_index(_NEW, _TABLE, _COLUMNS)
    op.drop_index(_OLD, table_name=_TABLE)
    # Fresh statistics, so the planner knows the new index (SQLite's are read from
    # sqlite_stat1, which names indexes).
    op.execute(f"ANALYZE {_TABLE}")


def downgrade() -> None:
    op.create_index(_OLD, _TABLE, ["listed_in", "exp_type", "product_id"])
    op.drop_index(_NEW, table_name=_TABLE)
