"""The keyword table each file is listed in, stored with its keywords; typed text folded

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 07:45:00

Keyword search worked out per query, for every file, whether another file of its exposure
reached a higher product level (a correlated subquery, most of a query's time at a million
files). The answer is now stored at ingest in ``product_keywords.listed_in`` (the table that
lists the file, or NULL) and indexed with the columns searched. This revision works it out
once for the rows an older archive holds, by the rule the search used until now.

The typed text columns (exp_type, filter, ...) serve criteria only and are now stored
lower-case, so a criterion compares them as they are and their indexes serve it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_FOLDED = "instrume detector exp_type filter pupil grating subarray readpatt targname category"
_INDEXED = ("exp_type", "filter", "detector")
_INSTRUMENTS = "('NIRCAM', 'NIRISS', 'NIRSPEC', 'MIRI', 'FGS')"


def _rank(t: str) -> str:
    kind = f'upper({t}."productSubGroupDescription")'
    return (
        f"CASE WHEN {t}.calib_level = 1 THEN 1"
        f" WHEN {kind} IN ('RAMP', 'RATE', 'RATEINTS', 'TRAPSFILLED') THEN 2"
        f" WHEN {kind} IN ('CRF', 'CRFINTS') THEN 0"
        f" WHEN {t}.calib_level = 2 THEN 3 ELSE 4 END"
    )


_HIGHER_IN_EXPOSURE = (
    "EXISTS (SELECT 1 FROM products s JOIN product_keywords sk ON sk.product_id = s.product_id"
    ' WHERE substr(s."productFilename", 1, 25) = substr(p."productFilename", 1, 25)'
    f" AND s.calib_level IN (1, 2) AND {_rank('s')} > {_rank('p')})"
)

_LISTING = (
    "UPDATE product_keywords SET listed_in = (SELECT CASE"
    " WHEN p.obs_collection <> 'JWST' THEN NULL"
    " WHEN substr(p.\"productSubGroupDescription\", 1, 3) = 'GS-' THEN 'GUIDESTAR'"
    " WHEN product_keywords.instrume IS NULL"
    f" OR upper(product_keywords.instrume) NOT IN {_INSTRUMENTS} THEN NULL"
    " WHEN p.calib_level IS NOT NULL AND p.calib_level NOT IN (1, 2)"
    " THEN upper(product_keywords.instrume)"
    f" WHEN {_rank('p')} > 0 AND NOT {_HIGHER_IN_EXPOSURE} THEN upper(product_keywords.instrume)"
    " END FROM products p WHERE p.product_id = product_keywords.product_id)"
)


# No batch mode (table copy): it would reflect ``products`` through the foreign key, and its
# expression index cannot be reflected. Both backends add and drop a column in place
# (SQLite since 3.35).
_TABLE = "product_keywords"


def upgrade() -> None:
    op.add_column(
        _TABLE,
        sa.Column("listed_in", sa.String(16),
                  comment="Keyword table listing the file (NIRCAM..FGS, GUIDESTAR); "
                  "NULL: none (schema 0014)"),
    )  # fmt: skip
    op.execute(_LISTING)
    folded = ", ".join(f'"{name}" = lower("{name}")' for name in _FOLDED.split())
    op.execute(f"UPDATE product_keywords SET {folded}")
    op.drop_index("ix_product_keywords_instrume_exp_type", table_name=_TABLE)
    op.create_index("ix_product_keywords_listed_in_product_id", _TABLE, ["listed_in", "product_id"])
    for name in _INDEXED:  # product_id last: pages come in order from the index
        op.create_index(f"ix_product_keywords_listed_in_{name}_product_id", _TABLE,
                        ["listed_in", name, "product_id"])  # fmt: skip


def downgrade() -> None:
    for name in _INDEXED:
        op.drop_index(f"ix_product_keywords_listed_in_{name}_product_id", table_name=_TABLE)
    op.drop_index("ix_product_keywords_listed_in_product_id", table_name=_TABLE)
    op.create_index("ix_product_keywords_instrume_exp_type", _TABLE, ["instrume", "exp_type"])
    op.execute("ALTER TABLE product_keywords DROP COLUMN listed_in")
    # the typed text stays lower-case: the older search compared it lower-cased anyway
