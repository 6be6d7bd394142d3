"""Runs without a person: the flow registry and what started each run.

Revision ID: 0010_headless_triggers
Revises: 0003_mysql_microseconds
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0010_headless_triggers"
down_revision = "0003_mysql_microseconds"
branch_labels = None
depends_on = None

Time = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "registered_flows",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("ref", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("registered_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_registered_flows")),
    )
    op.create_table(
        "run_origins",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("started_by", sa.Text(), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_origins_run_id_runs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_run_origins")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("run_origins")
    op.drop_table("registered_flows")
