"""Subscriptions to a program's data, and the events waiting to be e-mailed

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 10:00:00
"""

import time

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("obs_collection", sa.String(length=32), nullable=False, comment="JWST or HST"),
        sa.Column("proposal_id", sa.String(length=32), nullable=False,
                  comment="Unpadded, e.g. '1558'"),
        sa.Column("kinds", sa.String(length=64), nullable=False,
                  comment="Comma-separated: New,First,..."),
        sa.Column("frequency", sa.String(length=16), nullable=False, comment="fast|daily|weekly"),
        sa.Column("created_at", sa.Float(), nullable=False, comment="Only later events are sent"),
        sa.Column("last_sent_at", sa.Float(), nullable=True, comment="Time of the last e-mail"),
        sa.Column("claimed_until", sa.Float(), nullable=True,
                  comment="A sender owns it until then (no double sends)"),
        sa.ForeignKeyConstraint(["user_id"], ["users.user_id"],
                                name=op.f("fk_subscriptions_user_id_users")),
        sa.PrimaryKeyConstraint("subscription_id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint("user_id", "obs_collection", "proposal_id",
                            name=op.f("uq_subscriptions_user_id_obs_collection_proposal_id")),
    )  # fmt: skip
    op.create_index(
        op.f("ix_subscriptions_obs_collection_proposal_id"),
        "subscriptions",
        ["obs_collection", "proposal_id"],
    )
    op.create_table(
        "notification_events",
        sa.Column("event_id", sa.String(length=36), nullable=False,
                  comment="uuid4, as in the JSON attachment"),
        sa.Column("obs_collection", sa.String(length=32), nullable=False),
        sa.Column("proposal_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False,
                  comment="New|First|Reprocessed|Public"),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("fileset", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False,
                  comment="SHA-256, or release MJD for Public"),
        sa.Column("archived_date", sa.String(length=40), nullable=True,
                  comment="ISO UTC time the file version was archived"),
        sa.Column("release_mjd", sa.Float(), nullable=True,
                  comment="Release date of a Public event; NULL: look it up"),
        sa.Column("arrival_checked", sa.Boolean(), nullable=False,
                  comment="False for New events not yet checked for being public on arrival"),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_notification_events")),
        sa.UniqueConstraint("kind", "filename", "version",
                            name=op.f("uq_notification_events_kind_filename_version")),
    )  # fmt: skip
    op.create_index(
        op.f("ix_notification_events_obs_collection_proposal_id_created_at"),
        "notification_events",
        ["obs_collection", "proposal_id", "created_at"],
    )
    op.create_table(
        "notification_deliveries",
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("sent_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"], ["subscriptions.subscription_id"],
            name=op.f("fk_notification_deliveries_subscription_id_subscriptions"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["notification_events.event_id"],
            name=op.f("fk_notification_deliveries_event_id_notification_events"),
        ),
        sa.PrimaryKeyConstraint("subscription_id", "event_id",
                                name=op.f("pk_notification_deliveries")),
    )  # fmt: skip
    op.create_index(
        op.f("ix_notification_deliveries_event_id"), "notification_deliveries", ["event_id"]
    )
    state = op.create_table(
        "notification_state",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Float(), nullable=False,
                  comment="e.g. the Unix time of the last release check"),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_notification_state")),
    )  # fmt: skip
    # Releases before this upgrade are history: the first check looks only at later ones.
    op.bulk_insert(state, [{"name": "release_check", "value": time.time()}])


def downgrade() -> None:
    op.drop_table("notification_state")
    op.drop_index(op.f("ix_notification_deliveries_event_id"), table_name="notification_deliveries")
    op.drop_table("notification_deliveries")
    op.drop_index(
        op.f("ix_notification_events_obs_collection_proposal_id_created_at"),
        table_name="notification_events",
    )
    op.drop_table("notification_events")
    op.drop_index(op.f("ix_subscriptions_obs_collection_proposal_id"), table_name="subscriptions")
    op.drop_table("subscriptions")
