"""The initial schema.

Until the first release, this revision creates the tables of `schema.py` as they are; from the first
release on, every schema change is a new numbered revision with explicit operations.

Revision ID: 0001
Revises:
"""

from alembic import op

from hirondelle.store.schema import metadata

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    metadata.create_all(op.get_bind())
