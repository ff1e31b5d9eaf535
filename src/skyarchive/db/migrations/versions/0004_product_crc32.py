"""products.crc32: each file's CRC-32, so zip bundles need not compute it while sending

Revision ID: 0004
Revises: 0003

Nullable: rows ingested before this revision keep NULL until a bundle computes the CRC-32
while streaming the file (and stores it) or a re-ingest of the unchanged file fills it in.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "products",
        sa.Column(
            "crc32",
            sa.BigInteger(),
            nullable=True,
            comment="CRC-32 of the file, for zip bundles; NULL until computed (older archives)",
        ),
    )


def downgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.drop_column("crc32")
