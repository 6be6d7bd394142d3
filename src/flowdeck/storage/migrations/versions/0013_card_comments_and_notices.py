"""Comments on a run's cards, and the live notices (callbacks, comments) of a run's event stream.

Revision ID: 0013_card_comments_and_notices
Revises: 0012_callback_results
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0013_card_comments_and_notices"
down_revision = "0012_callback_results"
branch_labels = None
depends_on = None

Time = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "card_comments",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("card_id", sa.String(length=64), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_card_comments_run_id_runs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_comments")),
    )
    op.create_index("ix_card_comments_card", "card_comments", ["run_id", "card_id", "created_at"], unique=False)
    op.create_table(
        "run_notices",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("payload", sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb"), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_notices_run_id_runs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_notices")),
    )
    op.create_index("ix_run_notices_run", "run_notices", ["run_id", "id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    # Dropping a table drops its indexes; MariaDB refuses to drop first an index its foreign key uses.
    op.drop_table("run_notices")
    op.drop_table("card_comments")
