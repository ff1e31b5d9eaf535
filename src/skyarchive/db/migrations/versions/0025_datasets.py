"""datasets and dataset_observations: data sets of observations with a DOI

Revision ID: 0025
Revises: 0019

A signed-in user gathers observations into a data set, describes it and reserves a DOI for
it (issue 18 §3). Nothing existing changes, so an older archive upgrades in place.
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0019"  # the lead re-chains revisions at the merge
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("doi", sa.String(length=200), nullable=False,
                  comment="Lower case, e.g. 10.5072/x"),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("creators", sa.Text(), nullable=False,
                  comment="JSON list of names, 'Family, Given'"),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("related_identifier", sa.String(length=200),
                  comment="The paper: a DOI or an ADS bibcode"),
        sa.Column("related_type", sa.String(length=16), comment="DOI | bibcode"),
        sa.Column("state", sa.String(length=16), nullable=False,
                  comment="draft | registered | findable"),
        sa.Column("agency", sa.String(length=16), nullable=False, comment="local | datacite"),
        sa.Column("publication_year", sa.Integer(), nullable=False),
        sa.Column("observation_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.user_id"], name=op.f("fk_datasets_owner_id_users")
        ),
        sa.PrimaryKeyConstraint("dataset_id", name=op.f("pk_datasets")),
        sa.UniqueConstraint("doi", name=op.f("uq_datasets_doi")),
    )  # fmt: skip
    op.create_table(
        "dataset_observations",
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("obsid", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.dataset_id"],
            name=op.f("fk_dataset_observations_dataset_id_datasets"),
        ),
        sa.ForeignKeyConstraint(
            ["obsid"], ["observations.obsid"],
            name=op.f("fk_dataset_observations_obsid_observations"),
        ),
        sa.PrimaryKeyConstraint("dataset_id", "obsid", name=op.f("pk_dataset_observations")),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("dataset_observations")
    op.drop_table("datasets")
