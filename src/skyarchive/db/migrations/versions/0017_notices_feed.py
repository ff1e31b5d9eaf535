"""notice_reads and feed_tokens: in-portal notices read up to a time, secret Atom feed addresses

Revision ID: 0017
Revises: 0016

Notices are the subscription events the e-mails are made from, so no notice table: a user
keeps only the time up to which they have read them. The feed's secret address is stored as
SHA-256, one per user; making a new one replaces (revokes) the old.
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notice_reads",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "read_until",
            sa.Float(),
            nullable=False,
            comment="Notices up to this Unix time are read",
        ),  # fmt: skip
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name=op.f("fk_notice_reads_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notice_reads")),
    )
    op.create_table(
        "feed_tokens",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False, comment="SHA-256 hex"),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name=op.f("fk_feed_tokens_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_feed_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_feed_tokens_token_hash")),
    )


def downgrade() -> None:
    op.drop_table("feed_tokens")
    op.drop_table("notice_reads")
