"""delivery_requests.base_url: the public URL a request was made through

Revision ID: 0013
Revises: 0012

The staging job runs in the worker, which has no HTTP request: the links in its e-mail and
manifest start with the URL the client used when it asked (behind a proxy, the public one).
Rows made before this revision keep NULL and fall back to the ``base_url`` setting.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "delivery_requests",
        sa.Column(
            "base_url",
            sa.String(400),
            nullable=True,
            comment="Public URL of the archive as the requester reached it (for links)",
        ),
    )


def downgrade() -> None:
    with op.batch_alter_table("delivery_requests") as batch:
        batch.drop_column("base_url")
