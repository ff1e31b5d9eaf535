"""archive_state (link secret, the URL the server was reached by); Monthly; executed plans

Revision ID: 0016
Revises: 0015

Subscription e-mails are written by the worker, outside any request: ``archive_state`` keeps,
for every process, the secret that signs their one-click unsubscribe links and the public URL
the server last saw itself reached by (for links when ``base_url`` is not set).
``notification_events.planned_obs_id`` names the planned observation a New file executed, so
the e-mail can say so. Subscriptions may now be Monthly (only a column comment changes).
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

OLD_FREQUENCY = "fast|daily|weekly"
NEW_FREQUENCY = "fast|daily|weekly|monthly"


def _frequency_comment(comment: str, existing: str) -> None:
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.alter_column(
            "frequency", existing_type=sa.String(length=16), existing_nullable=False,
            comment=comment, existing_comment=existing,
        )  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "archive_state",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=400), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False, comment="Unix time of the last change"),
        sa.PrimaryKeyConstraint("name"),
    )
    op.add_column(
        "notification_events",
        sa.Column(
            "planned_obs_id", sa.String(length=64), nullable=True,
            comment="New files only: the planned observation their observation carried out",
        ),
    )  # fmt: skip
    _frequency_comment(NEW_FREQUENCY, OLD_FREQUENCY)


def downgrade() -> None:
    _frequency_comment(OLD_FREQUENCY, NEW_FREQUENCY)
    with op.batch_alter_table("notification_events") as batch:
        batch.drop_column("planned_obs_id")
    op.drop_table("archive_state")
