"""delivery: download baskets and delivery requests (bundles, scripts, staging)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "baskets",
        sa.Column("basket_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column(
            "cookie_hash", sa.String(length=64), nullable=True,
            comment="SHA-256 of an anonymous cookie",
        ),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name=op.f("fk_baskets_user_id_users")
        ),
        sa.PrimaryKeyConstraint("basket_id", name=op.f("pk_baskets")),
        sa.UniqueConstraint("cookie_hash", name=op.f("uq_baskets_cookie_hash")),
        sa.UniqueConstraint("user_id", name=op.f("uq_baskets_user_id")),
    )  # fmt: skip
    op.create_table(
        "basket_items",
        sa.Column("basket_id", sa.Integer(), nullable=False),
        sa.Column("obsid", sa.BigInteger(), nullable=False),
        sa.Column("added_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["basket_id"], ["baskets.basket_id"], name=op.f("fk_basket_items_basket_id_baskets")
        ),
        sa.ForeignKeyConstraint(
            ["obsid"], ["observations.obsid"], name=op.f("fk_basket_items_obsid_observations")
        ),
        sa.PrimaryKeyConstraint("basket_id", "obsid", name=op.f("pk_basket_items")),
    )
    op.create_table(
        "basket_removed",
        sa.Column("basket_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["basket_id"], ["baskets.basket_id"], name=op.f("fk_basket_removed_basket_id_baskets")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.product_id"],
            name=op.f("fk_basket_removed_product_id_products"),
        ),
        sa.PrimaryKeyConstraint("basket_id", "product_id", name=op.f("pk_basket_removed")),
    )  # fmt: skip
    op.create_table(
        "delivery_requests",
        sa.Column("request_id", sa.String(length=40), nullable=False,
                  comment="Random, unguessable"),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("basket_id", sa.Integer(), nullable=True),
        sa.Column("format", sa.String(length=16), nullable=False,
                  comment="zip|tar|tar.gz|curl|staging"),
        sa.Column("status", sa.String(length=16), nullable=False,
                  comment="queued|running|done|failed|expired"),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("remove_completed", sa.Boolean(), nullable=False),
        sa.Column("files_total", sa.Integer(), nullable=False),
        sa.Column("bytes_total", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("excluded", sa.Text(), nullable=True,
                  comment="JSON list of requested files left out, with reasons"),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=True),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.Column("expires_at", sa.Float(), nullable=True),
        sa.Column("notified_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["basket_id"], ["baskets.basket_id"],
            name=op.f("fk_delivery_requests_basket_id_baskets"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name=op.f("fk_delivery_requests_user_id_users")
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_delivery_requests")),
    )  # fmt: skip
    with op.batch_alter_table("delivery_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delivery_requests_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_delivery_requests_user_id"), ["user_id"], unique=False)
    op.create_table(
        "delivery_files",
        sa.Column("request_id", sa.String(length=40), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("path", sa.String(length=400), nullable=False,
                  comment="<collection>/<obs_id>/<file>"),
        sa.Column("state", sa.String(length=16), nullable=False,
                  comment="pending|done|missing"),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.product_id"],
            name=op.f("fk_delivery_files_product_id_products"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["delivery_requests.request_id"],
            name=op.f("fk_delivery_files_request_id_delivery_requests"),
        ),
        sa.PrimaryKeyConstraint("request_id", "product_id", name=op.f("pk_delivery_files")),
    )  # fmt: skip
    with op.batch_alter_table("delivery_files", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_delivery_files_request_id_state"), ["request_id", "state"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("delivery_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_files_request_id_state"))
    op.drop_table("delivery_files")
    with op.batch_alter_table("delivery_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_requests_user_id"))
        batch_op.drop_index(batch_op.f("ix_delivery_requests_status"))
    op.drop_table("delivery_requests")
    op.drop_table("basket_removed")
    op.drop_table("basket_items")
    op.drop_table("baskets")
