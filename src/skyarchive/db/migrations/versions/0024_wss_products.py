"""wss_products: wavefront sensing (WSS) OPD products

Revision ID: 0024
Revises: 0023

One row per WSS file beside its product row: the columns of Mast.Jwst.Filtered.Wss, the RMS
of the OPD read at ingest, and the date from which it is public (on arrival, as at MAST).
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wss_products",
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("corr_id", sa.String(length=32), nullable=False,
                  comment="Analysis id, R2022083106"),
        sa.Column("apername", sa.String(length=32), nullable=False, comment="NRCA3_FP1"),
        sa.Column("ap_type", sa.String(length=16), nullable=False,
                  comment="OPD for wavefront maps"),
        sa.Column("date_obs_mjd", sa.Float(), nullable=False,
                  comment="Start of the sensing exposure, MJD"),
        sa.Column("visit_id", sa.String(length=16), nullable=True,
                  comment="Without the leading V: 01163111001"),
        sa.Column("obs_id", sa.String(length=64), nullable=True,
                  comment="Its last five characters are the OSS activity"),
        sa.Column("rms_nm", sa.Float(), nullable=True, comment="RMS of the OPD over the pupil, nm"),
        sa.Column("released_mjd", sa.Float(), nullable=False,
                  comment="Public from (MJD): on arrival"),
        sa.ForeignKeyConstraint(["product_id"], ["products.product_id"],
                                name=op.f("fk_wss_products_product_id_products")),
        sa.PrimaryKeyConstraint("product_id", name=op.f("pk_wss_products")),
    )  # fmt: skip
    op.create_index(
        op.f("ix_wss_products_ap_type_date_obs_mjd"), "wss_products", ["ap_type", "date_obs_mjd"]
    )
    op.create_index(op.f("ix_wss_products_date_obs_mjd"), "wss_products", ["date_obs_mjd"])


def downgrade() -> None:
    op.drop_table("wss_products")
