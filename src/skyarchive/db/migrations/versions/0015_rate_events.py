"""rate_events: requests counted against operator rate limits; login delays per address too

Revision ID: 0015
Revises: 0014

Anonymous staging requests make the archive send e-mail to an address the caller chooses;
each one is now counted (per recipient and per client address, as SHA-256 keys) so an hour's
count can be bounded in every server process. ``login_failures`` also keeps one row per failed
login keyed by the client address alone, so one address cannot try passwords on many accounts
at full speed: only the comment of its key changes.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

OLD_KEY_COMMENT = "SHA-256 of the email and client address"
NEW_KEY_COMMENT = "SHA-256 of the email and client address, or of the client address alone"


def _key_comment(comment: str, existing: str) -> None:
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.alter_column(
            "key", existing_type=sa.String(length=64), existing_nullable=False,
            comment=comment, existing_comment=existing,
        )  # fmt: skip


def upgrade() -> None:
    _key_comment(NEW_KEY_COMMENT, OLD_KEY_COMMENT)
    op.create_table(
        "rate_events",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column(
            "key",
            sa.String(length=64),
            nullable=False,
            comment="SHA-256 of what is counted (limit name and recipient or client address)",
        ),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_rate_events")),
    )
    with op.batch_alter_table("rate_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rate_events_key_at"), ["key", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_rate_events_at"), ["at"], unique=False)
    # Each insert prunes rows older than the window; without an index on the time alone that
    # prune reads the whole table, which grows under the very attack the table counts.
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_failures_at"), ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_failures_at"))
    with op.batch_alter_table("rate_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rate_events_at"))
        batch_op.drop_index(batch_op.f("ix_rate_events_key_at"))
    op.drop_table("rate_events")
    _key_comment(OLD_KEY_COMMENT, NEW_KEY_COMMENT)
