"""Alembic environment: the engine comes from `hirondelle.store.migrate`, never from a file."""

from alembic import context

from hirondelle.store.schema import metadata

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
