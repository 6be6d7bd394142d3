"""Steps record which version of their flow file they ran, and a warning for the flow writer.

Revision ID: 0011_step_code_and_warning
Revises: 0008_run_lifecycle
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_step_code_and_warning"
down_revision = "0008_run_lifecycle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("steps") as batch:
        batch.add_column(sa.Column("code_version", sa.String(64), nullable=True))
        batch.add_column(sa.Column("warning", sa.Text, nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("steps") as batch:
        batch.drop_column("warning")
        batch.drop_column("code_version")
