"""Triggers keep the callback they call when they fire (by reference) and its arguments.

Revision ID: 0012_gaps_trigger_callback
Revises: 0011_step_code_and_warning
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_gaps_trigger_callback"
down_revision = "0011_step_code_and_warning"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("triggers") as batch:
        batch.add_column(sa.Column("callback_json", sa.Text, nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("triggers") as batch:
        batch.drop_column("callback_json")
