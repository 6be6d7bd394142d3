"""Connection params whose names look secret are kept encrypted, apart from the plain params;
connections record who stored them (admin-only params count only when an admin did) and whether
their targets are checked on every use (added through the server by a non-admin).

Revision ID: 0004_connection_hardening
Revises: 0007_one_shares_table
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_connection_hardening"
down_revision = "0007_one_shares_table"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("connections") as batch:
        batch.add_column(sa.Column("secret_params_token", sa.Text, nullable=True))
        batch.add_column(sa.Column("created_by", sa.String(200), nullable=True))
        batch.add_column(sa.Column("restricted", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("restricted")
        batch.drop_column("created_by")
        batch.drop_column("secret_params_token")
