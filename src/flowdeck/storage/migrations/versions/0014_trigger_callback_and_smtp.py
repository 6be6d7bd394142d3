"""Triggers keep the callback they call when they fire; the SMTP server e-mail notifications go through.

Revision ID: 0014_trigger_callback_and_smtp
Revises: 0013_card_comments_and_notices
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0014_trigger_callback_and_smtp"
down_revision = "0013_card_comments_and_notices"
branch_labels = None
depends_on = None

Time = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("triggers") as batch:
        batch.add_column(sa.Column("callback_json", sa.Text, nullable=True))
    op.create_table(
        "smtp_servers",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer, nullable=False),
        sa.Column("security", sa.String(10), nullable=False),
        sa.Column("username", sa.String(255), nullable=True),
        sa.Column("password_token", sa.Text, nullable=True),
        sa.Column("sender", sa.String(255), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=True),
        sa.Column("updated_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_smtp_servers")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("smtp_servers")
    with op.batch_alter_table("triggers") as batch:
        batch.drop_column("callback_json")
