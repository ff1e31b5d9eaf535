"""Replacement history of products (which version replaced which, and when)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 06:30:00

Ingest replaces an archived file only by a version with a newer FITS ``DATE``; each replacement
is recorded here with both checksums and dates, so an operator can tell what was served before.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "product_versions",
        sa.Column("version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("productFilename", sa.String(length=200), nullable=False),
        sa.Column("old_sha256", sa.String(length=64), nullable=False),
        sa.Column("new_sha256", sa.String(length=64), nullable=False),
        sa.Column("old_file_date", sa.String(length=32), nullable=True,
                  comment="FITS DATE of the replaced version"),
        sa.Column("new_file_date", sa.String(length=32), nullable=True,
                  comment="FITS DATE of the version that replaced it"),
        sa.Column("old_storage_key", sa.String(length=300), nullable=True,
                  comment="Removed from storage once the new row committed"),
        sa.Column("replaced_at", sa.String(length=32), nullable=False,
                  comment="ISO UTC time of the replacement"),
        sa.ForeignKeyConstraint(["product_id"], ["products.product_id"],
                                name=op.f("fk_product_versions_product_id_products")),
        sa.PrimaryKeyConstraint("version_id", name=op.f("pk_product_versions")),
        comment="Replacement history: one row each time a newer version replaced a product's file",
    )  # fmt: skip
    op.create_index(op.f("ix_product_versions_product_id"), "product_versions", ["product_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_product_versions_product_id"), table_name="product_versions")
    op.drop_table("product_versions")
