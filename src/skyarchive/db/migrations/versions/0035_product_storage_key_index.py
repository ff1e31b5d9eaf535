"""An index of products.storage_key, for the storage sweep

Revision ID: 0035
Revises: 0031
Create Date: 2026-12-03 18:40:00

``skyarchive storage sweep`` asks the catalogue, for every batch of stored objects it lists,
which of their keys a product row names. Without an index each batch would read the whole
products table. No data change.
"""

from alembic import op

revision = "0035"
down_revision = "0031"
branch_labels = None
depends_on = None

INDEX = "ix_products_storage_key"


def upgrade() -> None:
    op.create_index(INDEX, "products", ["storage_key"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="products")
