"""edb_mnemonics, edb_samples, edb_rollups: the engineering database (JWST EDB)

Revision ID: 0023
Revises: 0025

Telemetry time series keyed by mnemonic: an inventory, the samples (one narrow table keyed by
mnemonic and time, WITHOUT ROWID on SQLite so a time window is one contiguous range of the
primary key), and min/max rollups at fixed bucket widths for plots of long spans.
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0025"  # after main's 0025 (datasets), merged in; the lead re-chains at the merge
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "edb_mnemonics",
        sa.Column("mnemonic_id", sa.Integer(), nullable=False),
        sa.Column("mnemonic", sa.String(length=64), nullable=False,
                  comment="Upper case, SA_ZATTEST1"),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("unit", sa.String(length=32), nullable=True),
        sa.Column("subsystem", sa.String(length=32), nullable=True,
                  comment="From the name: INRS (NIRSpec), SA (attitude)..."),
        sa.Column("sql_data_type", sa.String(length=16), nullable=False,
                  comment="float, int, tinyint"),
        sa.Column("sample_count", sa.BigInteger(), nullable=False),
        sa.Column("first_us", sa.BigInteger(), nullable=True,
                  comment="Time of the first sample, µs since 1970 UTC"),
        sa.Column("last_us", sa.BigInteger(), nullable=True,
                  comment="Time of the last sample, µs since 1970 UTC"),
        sa.PrimaryKeyConstraint("mnemonic_id", name=op.f("pk_edb_mnemonics")),
        sa.UniqueConstraint("mnemonic", name=op.f("uq_edb_mnemonics_mnemonic")),
    )  # fmt: skip
    op.create_table(
        "edb_samples",
        sa.Column("mnemonic_id", sa.Integer(), nullable=False),
        sa.Column("t_us", sa.BigInteger(), nullable=False, comment="µs since 1970-01-01 UTC"),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("mnemonic_id", "t_us", name=op.f("pk_edb_samples")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "edb_rollups",
        sa.Column("mnemonic_id", sa.Integer(), nullable=False),
        sa.Column("width_s", sa.Integer(), nullable=False, comment="Bucket width in seconds"),
        sa.Column("bucket_us", sa.BigInteger(), nullable=False,
                  comment="Bucket start, µs since 1970"),
        sa.Column("min_value", sa.Float(), nullable=False),
        sa.Column("max_value", sa.Float(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("mnemonic_id", "width_s", "bucket_us", name=op.f("pk_edb_rollups")),
        sqlite_with_rowid=False,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("edb_rollups")
    op.drop_table("edb_samples")
    op.drop_table("edb_mnemonics")
