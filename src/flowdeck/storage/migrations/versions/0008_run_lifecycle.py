"""The action in flight and its lease on the run row; where a forked run came from.

Revision ID: 0008_run_lifecycle
Revises: 0004_connection_hardening
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0008_run_lifecycle"
down_revision = "0004_connection_hardening"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("action", sa.String(10), nullable=True))
        batch.add_column(sa.Column("action_by", sa.String(200), nullable=True))
        batch.add_column(sa.Column("action_at", _TIME, nullable=True))
        batch.add_column(sa.Column("action_token", sa.String(36), nullable=True))
        batch.add_column(sa.Column("lease_until", _TIME, nullable=True))
        batch.add_column(sa.Column("lease_holder", sa.String(64), nullable=True))
        batch.add_column(sa.Column("forked_from", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        for name in ("forked_from", "lease_holder", "lease_until", "action_token", "action_at", "action_by", "action"):
            batch.drop_column(name)
