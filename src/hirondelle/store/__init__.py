"""The store: schema, queries and migrations. The only package that speaks SQL."""

from hirondelle.store.engine import Store, open_store

__all__ = ["Store", "open_store"]
