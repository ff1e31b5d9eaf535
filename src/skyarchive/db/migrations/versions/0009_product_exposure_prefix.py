"""An index on the exposure part of a product's file name, for keyword search

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 02:30:00

JWST keyword search lists an exposure's files only at the highest level the exposure reached,
so for each file it looks for files of the same exposure (the first 25 characters of the
name, ``jw01091002001_03102_00001``) at a higher level; this index finds them directly.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

NAME = "ix_products_exposure_name"


def upgrade() -> None:
    op.create_index(NAME, "products", [sa.text('substr("productFilename", 1, 25)')])


def downgrade() -> None:
    op.drop_index(NAME, table_name="products")
