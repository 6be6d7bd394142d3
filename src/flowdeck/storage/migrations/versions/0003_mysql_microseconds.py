"""Microsecond timestamps on MySQL and MariaDB.

Their DATETIME keeps whole seconds by default, so two versions saved within one second could not be
told apart by time. PostgreSQL and SQLite keep microseconds already: nothing changes there.

Revision ID: 0003_mysql_microseconds
Revises: 0002_web_accounts
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003_mysql_microseconds"
down_revision = "0002_web_accounts"
branch_labels = None
depends_on = None

COLUMNS = [
    ("groups", "created_at", False),
    ("users", "created_at", False),
    ("api_tokens", "created_at", False),
    ("api_tokens", "last_used_at", True),
    ("asset_lineages", "created_at", False),
    ("connections", "created_at", False),
    ("connections", "updated_at", False),
    ("runs", "created_at", False),
    ("runs", "updated_at", False),
    ("web_sessions", "created_at", False),
    ("web_sessions", "expires_at", False),
    ("assets", "time_created", False),
    ("assets", "time_updated", False),
    ("future_elements", "created_at", False),
    ("outputs", "created_at", False),
    ("pages", "created_at", False),
    ("progress_events", "created_at", False),
    ("steps", "started_at", True),
    ("steps", "ended_at", True),
    ("uploads", "created_at", False),
]


def _alter(precision: int) -> None:
    if op.get_bind().dialect.name not in ("mysql", "mariadb"):
        return
    for table, column, nullable in COLUMNS:
        op.alter_column(
            table,
            column,
            type_=mysql.DATETIME(fsp=precision),
            existing_type=sa.DateTime(timezone=True),
            existing_nullable=nullable,
        )


def upgrade() -> None:
    """Apply this revision."""
    _alter(6)


def downgrade() -> None:
    """Revert this revision."""
    _alter(0)
