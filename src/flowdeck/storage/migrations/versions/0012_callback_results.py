"""Callback outcomes a worker hands back to the process that fired the callback.

Revision ID: 0012_callback_results
Revises: 0011_step_code_and_warning
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0012_callback_results"
down_revision = "0011_step_code_and_warning"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "callback_results",
        sa.Column("token", sa.String(36), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("outcome", sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb"), nullable=True),
        sa.Column("error_type", sa.String(40), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("traceback", sa.Text, nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_callback_results_run_id_runs", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token", name="pk_callback_results"),
    )
    op.create_index("ix_callback_results_run_id", "callback_results", ["run_id"])


def downgrade() -> None:
    """Revert this revision."""
    # dropping the table drops its index (MariaDB refuses to drop first an index its foreign key uses)
    op.drop_table("callback_results")
