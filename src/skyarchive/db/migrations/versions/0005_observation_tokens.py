"""Parts of multi-valued columns, and lower() indexes for case-insensitive criteria

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 13:05:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The ;-separated CAOM columns, as of this revision.
SEPARATED = ("obs_collection", "project", "filters", "wavelength_region", "target_classification")


def upgrade() -> None:
    tokens = op.create_table(
        "observation_tokens",
        sa.Column("column_name", sa.String(length=32), nullable=False),
        sa.Column("token", sa.String(length=120), nullable=False,
                  comment="One lower-case part of the value"),
        sa.Column("obsid", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["obsid"], ["observations.obsid"],
                                name=op.f("fk_observation_tokens_obsid_observations")),
        sa.PrimaryKeyConstraint("column_name", "token", "obsid",
                                name=op.f("pk_observation_tokens")),
    )  # fmt: skip
    op.create_index(
        op.f("ix_observation_tokens_obsid"), "observation_tokens", ["obsid"], unique=False
    )
    op.create_index(
        "ix_observations_lower_collection_instrument",
        "observations",
        [sa.text("lower(obs_collection)"), sa.text("lower(instrument_name)")],
    )
    op.create_index(
        "ix_observations_lower_instrument", "observations", [sa.text("lower(instrument_name)")]
    )
    op.create_index("ix_observations_lower_target", "observations", [sa.text("lower(target_name)")])

    # Backfill the parts of entries already in the archive.
    connection = op.get_bind()
    columns = ", ".join(SEPARATED)
    rows = connection.execute(sa.text(f"SELECT obsid, {columns} FROM observations"))
    batch: list[dict] = []
    for row in rows:
        for name, value in zip(SEPARATED, row[1:], strict=True):
            if isinstance(value, str) and ";" in value:
                parts = {p.strip().lower()[:120] for p in value.split(";")} - {""}
                batch += [{"column_name": name, "token": p, "obsid": row[0]} for p in parts]
        if len(batch) >= 10_000:
            connection.execute(tokens.insert(), batch)
            batch = []
    if batch:
        connection.execute(tokens.insert(), batch)


def downgrade() -> None:
    op.drop_index("ix_observations_lower_target", table_name="observations")
    op.drop_index("ix_observations_lower_instrument", table_name="observations")
    op.drop_index("ix_observations_lower_collection_instrument", table_name="observations")
    op.drop_index(op.f("ix_observation_tokens_obsid"), table_name="observation_tokens")
    op.drop_table("observation_tokens")
