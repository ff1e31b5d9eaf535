"""Session details (last seen, client, browser) and one-time password-reset links

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 06:20:00

The account page lists a user's sessions so they can end the ones they do not recognise; a
session now remembers when it was last used and from which address and browser it started.
Password-reset links are stored as the SHA-256 of their secret, like API tokens.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


OLD_KEY_COMMENT = "SHA-256 of the email or client address"
NEW_KEY_COMMENT = "SHA-256 of the email and client address"


def _key_comment(comment: str, existing: str) -> None:
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.alter_column(
            "key", existing_type=sa.String(length=64), existing_nullable=False,
            comment=comment, existing_comment=existing,
        )  # fmt: skip


def upgrade() -> None:
    # Login delays now count failures per (account, client address): one key for both.
    _key_comment(NEW_KEY_COMMENT, OLD_KEY_COMMENT)
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_seen_at", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "client_address",
                sa.String(length=64),
                nullable=True,
                comment="Address the session was started from",
            )
        )
        batch_op.add_column(
            sa.Column(
                "user_agent",
                sa.String(length=300),
                nullable=True,
                comment="Browser the session was started with (truncated)",
            )
        )
    op.create_table(
        "password_resets",
        sa.Column("token_hash", sa.String(length=64), nullable=False, comment="SHA-256 hex"),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name=op.f("fk_password_resets_user_id_users")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_password_resets")),
    )
    with op.batch_alter_table("password_resets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_password_resets_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    _key_comment(OLD_KEY_COMMENT, NEW_KEY_COMMENT)
    with op.batch_alter_table("password_resets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_password_resets_user_id"))
    op.drop_table("password_resets")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("user_agent")
        batch_op.drop_column("client_address")
        batch_op.drop_column("last_seen_at")
