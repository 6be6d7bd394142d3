"""Runs without a person: the flow registry, what started each run, triggers and their ticks,
notifications and their deliveries.

Revision ID: 0010_headless_triggers
Revises: 0006_auth_hardening
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0010_headless_triggers"
down_revision = "0006_auth_hardening"
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
    op.create_table(
        "triggers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("spec_json", sa.Text(), nullable=False),
        sa.Column("flow_name", sa.String(length=200), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("input_json", sa.Text(), server_default="{}", nullable=False),
        sa.Column("state_json", sa.Text(), server_default="{}", nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("max_retries", sa.Integer(), server_default="0", nullable=False),
        sa.Column("interval_seconds", sa.Float(), nullable=False),
        sa.Column("next_check_at", Time, nullable=False),
        sa.Column("last_checked_at", Time, nullable=True),
        sa.Column("last_reason", sa.Text(), nullable=True),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        sa.ForeignKeyConstraint(["owner"], ["users.name"], name=op.f("fk_triggers_owner_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triggers")),
        sa.UniqueConstraint("name", name=op.f("uq_triggers_name")),
    )
    op.create_index("ix_triggers_due", "triggers", ["active", "next_check_at"], unique=False)
    op.create_table(
        "trigger_ticks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("trigger_id", sa.String(length=32), nullable=False),
        sa.Column("firing_key", sa.String(length=255), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", Time, nullable=True),
        sa.ForeignKeyConstraint(
            ["trigger_id"], ["triggers.id"], name=op.f("fk_trigger_ticks_trigger_id_triggers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trigger_ticks")),
        sa.UniqueConstraint("trigger_id", "firing_key", name=op.f("uq_trigger_ticks_trigger_id_firing_key")),
    )
    op.create_index("ix_trigger_ticks_pending", "trigger_ticks", ["outcome", "next_attempt_at"], unique=False)
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("flow_name", sa.String(length=200), nullable=True),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("created_at", Time, nullable=False),
        sa.ForeignKeyConstraint(
            ["owner"], ["users.name"], name=op.f("fk_notifications_owner_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_table(
        "notification_deliveries",
        sa.Column("notification_id", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("event_key", sa.String(length=255), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_notification_deliveries_notification_id_notifications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("notification_id", "run_id", "event_key", name=op.f("pk_notification_deliveries")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("notification_deliveries")
    op.drop_table("notifications")
    op.drop_index("ix_trigger_ticks_pending", table_name="trigger_ticks")
    op.drop_table("trigger_ticks")
    op.drop_index("ix_triggers_due", table_name="triggers")
    op.drop_table("triggers")
    op.drop_table("run_origins")
    op.drop_table("registered_flows")
