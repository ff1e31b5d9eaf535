"""Alembic environment: runs migrations on the engine skyarchive hands over."""

from alembic import context

from skyarchive.db.catalogue_generation import forget_generation_table
from skyarchive.db.tables import metadata

engine = context.config.attributes["engine"]
sqlite = engine.dialect.name == "sqlite"

with engine.connect() as connection:
    # The migrations' commit bumps the generation if they wrote catalogue rows: whether its
    # table exists is the schema this run leaves, not what the connection saw before.
    forget_generation_table(connection)
    if sqlite:
        # SQLite alters a table by copying it; foreign keys pointing at it must not fire
        # meanwhile (the pragma only works outside a transaction).
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=sqlite)
    with connection.begin():
        context.run_migrations()
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()
