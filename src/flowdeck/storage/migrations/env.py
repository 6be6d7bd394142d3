"""Alembic environment: runs flowdeck's migrations on the engine handed in by flowdeck."""

from __future__ import annotations

from alembic import context

from flowdeck.storage.schema import metadata

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
