"""uws_jobs: asynchronous TAP jobs (UWS 1.1) in the catalogue

Revision ID: 0031
Revises: 0022

A job submitted to ``/vo/tap/async`` is a row here: every server process answers its phase
and any worker process may run it (under a lease, ``job_leases``). Nothing existing changes,
so an older archive upgrades in place.
"""

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0027"  # chained after main's 0027 at tap's merge of main; the lead re-chains at the merge
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "uws_jobs",
        sa.Column("job_id", sa.String(length=40), nullable=False, comment="Random, unguessable"),
        sa.Column("owner_id", sa.Integer(), comment="NULL: anonymous"),
        sa.Column("client", sa.String(length=64),
                  comment="Network address of an anonymous submitter"),
        sa.Column("run_id", sa.String(length=200)),
        sa.Column("phase", sa.String(length=12), nullable=False,
                  comment="PENDING|QUEUED|EXECUTING|COMPLETED|..."),
        sa.Column("parameters", sa.Text(), nullable=False,
                  comment="JSON object: upper-case name -> value"),
        sa.Column("execution_duration", sa.Integer(), nullable=False,
                  comment="Seconds; the limit enforced"),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("started_at", sa.Float()),
        sa.Column("finished_at", sa.Float()),
        sa.Column("destruction_at", sa.Float(), nullable=False,
                  comment="Unix time the job is deleted"),
        sa.Column("base_url", sa.String(length=400),
                  comment="Public URL the job was submitted through"),
        sa.Column("error", sa.Text()),
        sa.Column("result_key", sa.String(length=200), comment="Storage key of the result"),
        sa.Column("result_type", sa.String(length=100)),
        sa.Column("result_size", sa.BigInteger()),
        sa.Column("result_rows", sa.BigInteger()),
        sa.ForeignKeyConstraint(["owner_id"], ["users.user_id"],
                                name="fk_uws_jobs_owner_id_users"),
        sa.PrimaryKeyConstraint("job_id", name="pk_uws_jobs"),
    )  # fmt: skip
    op.create_index("ix_uws_jobs_owner_id_created_at", "uws_jobs", ["owner_id", "created_at"])
    op.create_index("ix_uws_jobs_client_created_at", "uws_jobs", ["client", "created_at"])
    op.create_index("ix_uws_jobs_phase", "uws_jobs", ["phase"])
    op.create_index("ix_uws_jobs_destruction_at", "uws_jobs", ["destruction_at"])


def downgrade() -> None:
    op.drop_table("uws_jobs")
