"""keyword_counts: files per keyword table and exposure type, kept at ingest; typed date_obs_mjd

Revision ID: 0026
Revises: 0027
Create Date: 2026-12-03 15:10:00

A keyword page's total (``Mast.Jwst.Filtered.*`` with no criterion or exposure types only)
and the exposure-type dialog's counts were counted per request from the (listed_in,
exp_type, ...) index: some 3.5 ms per 57,000 files on SQLite at a million files, more than
the rest of a 50-row page. The product writer now recounts the tables it touches
(``keyword_store.refresh_counts``) in its transaction; the upgrade counts the existing rows.

``product_keywords.date_obs_mjd`` holds DATE-OBS (with TIME-OBS) as MJD, so a date criterion,
a sort on the date and the date dialog's range read a number instead of parsing the JSON
header of every matching file; (listed_in, exp_type, date_obs_mjd, product_id) serves them
from an index. The upgrade works the dates out from the stored headers in batches.
"""

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0027"
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
    op.add_column("product_keywords", sa.Column(
        "date_obs_mjd", sa.Float(), nullable=True,
        comment="DATE-OBS (with TIME-OBS) as MJD (schema 0026)"))  # fmt: skip
    _fill_dates(op.get_bind())
    op.create_index("ix_product_keywords_listed_in_exp_type_date_obs_mjd", "product_keywords",
                    ["listed_in", "exp_type", "date_obs_mjd", "product_id"])  # fmt: skip
    op.execute("ANALYZE product_keywords")  # the planner weighs the new index


_BATCH = 5000
_MJD_OF_UNIX_EPOCH = 40587.0


def _fill_dates(conn: sa.Connection) -> None:
    """DATE-OBS of every stored header as MJD, read in product_id order, batch by batch."""
    read = sa.text("SELECT product_id, header FROM product_keywords WHERE product_id > :after"
                   " ORDER BY product_id LIMIT :n")  # fmt: skip
    write = sa.text("UPDATE product_keywords SET date_obs_mjd = :mjd WHERE product_id = :id")
    after = -1
    while rows := conn.execute(read, {"after": after, "n": _BATCH}).all():
        after = rows[-1][0]
        dated = [{"id": pid, "mjd": mjd} for pid, text in rows
                 if (mjd := _date_obs_mjd(text)) is not None]  # fmt: skip
        if dated:
            conn.execute(write, dated)


def _date_obs_mjd(text: str | None) -> float | None:
    """The rule ingest applies (``keyword_store.keyword_row``) as of this revision; written
    out, since ``db/`` may not import ``search/`` (docs/architecture.md)."""
    try:
        header = json.loads(text or "{}")
    except ValueError:
        return None
    value = header.get("DATE-OBS") if isinstance(header, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str) or not value.strip():
        return None
    if "T" not in value:
        value = f"{value}T{header.get('TIME-OBS') or '00:00:00'}"
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() / 86400.0 + _MJD_OF_UNIX_EPOCH


def downgrade() -> None:
    op.drop_index("ix_product_keywords_listed_in_exp_type_date_obs_mjd",
                  table_name="product_keywords")  # fmt: skip
    op.drop_column("product_keywords", "date_obs_mjd")
    op.drop_table("keyword_counts")
