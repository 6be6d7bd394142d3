"""The tables of a flowdeck deployment, as SQLAlchemy Core metadata.

The migrations under ``storage/migrations`` create and upgrade these tables; a test checks that
the two agree.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

__all__ = ["metadata"]

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# MySQL/MariaDB DATETIME keeps whole seconds unless told otherwise (migration 0003).
Time = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
Name = sa.String(200)
Blob = sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")

users = sa.Table(
    "users",
    metadata,
    sa.Column("name", Name, primary_key=True),
    sa.Column("role", sa.String(20), nullable=False, server_default="user"),
    sa.Column("password_hash", sa.Text, nullable=True),
    sa.Column("created_at", Time, nullable=False),
)

groups = sa.Table(
    "groups",
    metadata,
    sa.Column("name", Name, primary_key=True),
    sa.Column("created_at", Time, nullable=False),
)

user_groups = sa.Table(
    "user_groups",
    metadata,
    sa.Column("user_name", Name, sa.ForeignKey("users.name", ondelete="CASCADE"), primary_key=True),
    sa.Column("group_name", Name, sa.ForeignKey("groups.name", ondelete="CASCADE"), primary_key=True),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    # Indexed: the token quota counts a user's tokens, and deleting a user deletes them.
    sa.Column("user_name", Name, sa.ForeignKey("users.name", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("token_hash", sa.String(128), nullable=False, unique=True),
    sa.Column("label", Name, nullable=True),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("last_used_at", Time, nullable=True),
    # Comma-separated scopes (read, write, admin); tokens made before scopes existed keep all three.
    sa.Column("scopes", sa.String(100), nullable=False, server_default="read,write,admin"),
)

# Failed logins per account ("u:<name>"), per client address ("a:<address>"), and addresses a user
# has logged in from ("k:<address> <name>"), so that every server process applies one back-off.
login_throttle = sa.Table(
    "login_throttle",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("last_at", Time, nullable=False),
    sa.Column("locked_until", Time, nullable=True),
)

web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("id_hash", sa.String(128), primary_key=True),
    sa.Column("user_name", Name, sa.ForeignKey("users.name", ondelete="CASCADE"), nullable=False),
    sa.Column("csrf_token", sa.String(128), nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("expires_at", Time, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("flow_name", Name, nullable=False),
    sa.Column("flow_ref", sa.Text, nullable=True),
    sa.Column("owner", Name, sa.ForeignKey("users.name"), nullable=False, index=True),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("current_step", Name, nullable=True),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    # The action in flight (start/next/back/rerun), who started it, when, its token, and the lease
    # the process carrying it out holds and renews; all NULL while the run is idle (migration 0008).
    sa.Column("action", sa.String(10), nullable=True),
    sa.Column("action_by", Name, nullable=True),
    sa.Column("action_at", Time, nullable=True),
    sa.Column("action_token", sa.String(36), nullable=True),
    sa.Column("lease_until", Time, nullable=True),
    sa.Column("lease_holder", sa.String(64), nullable=True),
    sa.Column("forked_from", sa.String(32), nullable=True),
)

steps = sa.Table(
    "steps",
    metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", Name, primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("step_type", sa.String(20), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False, server_default="0"),
    sa.Column("progress", sa.Float, nullable=False, server_default="0"),
    sa.Column("message", sa.Text, nullable=True),
    sa.Column("started_at", Time, nullable=True),
    sa.Column("ended_at", Time, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("traceback", sa.Text, nullable=True),
    sa.Column("code_version", sa.String(64), nullable=True),
    sa.Column("warning", sa.Text, nullable=True),
)

outputs = sa.Table(
    "outputs",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("step_name", Name, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("name", Name, nullable=False),
    sa.Column("codec", sa.String(32), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("inline_data", Blob, nullable=True),
    sa.Column("blob_key", sa.String(128), nullable=True, index=True),
    sa.Column("checksum", sa.String(64), nullable=True),
    sa.Column("created_at", Time, nullable=False),
    sa.Index("ix_outputs_lookup", "run_id", "name", "step_name", "id"),
)

progress_events = sa.Table(
    "progress_events",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("step_name", Name, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("completion", sa.Float, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("page_update", sa.Boolean, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Index("ix_progress_events_run", "run_id", "id"),
)

pages = sa.Table(
    "pages",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("step_name", Name, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("document", sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb"), nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.UniqueConstraint("run_id", "step_name", "attempt", "version"),
)

uploads = sa.Table(
    "uploads",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("step_name", Name, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("element_id", sa.String(64), nullable=False),
    sa.Column("element_title", sa.Text, nullable=False),
    sa.Column("filename", sa.Text, nullable=False),
    sa.Column("file_format", sa.String(20), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("blob_key", sa.String(128), nullable=False, index=True),
    sa.Column("checksum", sa.String(64), nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Index("ix_uploads_element", "run_id", "step_name", "element_id", "id"),
)

# The outcome of a callback a worker carried out, until the process that fired it reads it
# (``FLOWDECK_EXECUTOR=celery``); keyed by the callback's action token (migration 0012).
callback_results = sa.Table(
    "callback_results",
    metadata,
    sa.Column("token", sa.String(36), primary_key=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("outcome", sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb"), nullable=True),
    sa.Column("error_type", sa.String(40), nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("traceback", sa.Text, nullable=True),
    sa.Column("created_at", Time, nullable=False),
)

future_elements = sa.Table(
    "future_elements",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("source_step", Name, nullable=False),
    sa.Column("target_step", Name, nullable=False),
    sa.Column("element_id", sa.String(64), nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Index("ix_future_elements_target", "run_id", "target_step"),
)

asset_lineages = sa.Table(
    "asset_lineages",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("owner", Name, sa.ForeignKey("users.name"), nullable=False),
    sa.Column("label", Name, nullable=False),
    sa.Column("asset_type", sa.String(40), nullable=False),
    # '' stands for "no name" so that the uniqueness constraint holds on every database.
    sa.Column("name", Name, nullable=False, server_default=""),
    sa.Column("created_at", Time, nullable=False),
    sa.UniqueConstraint("owner", "label", "asset_type", "name"),
    sa.Index("ix_asset_lineages_label_type", "label", "asset_type"),
    sa.Index("ix_asset_lineages_type", "asset_type"),
)

assets = sa.Table(
    "assets",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("lineage_id", sa.String(32), sa.ForeignKey("asset_lineages.id", ondelete="CASCADE"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("asset_class", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("metadata_json", sa.Text, nullable=False, server_default="{}"),
    sa.Column("codec", sa.String(32), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("inline_data", Blob, nullable=True),
    sa.Column("blob_key", sa.String(128), nullable=True, index=True),
    sa.Column("checksum", sa.String(64), nullable=True),
    sa.Column("flow_id", sa.String(32), nullable=True),
    sa.Column("step_name", Name, nullable=True),
    sa.Column("created_by", Name, nullable=False),
    sa.Column("time_created", Time, nullable=False),
    sa.Column("time_updated", Time, nullable=False),
    sa.UniqueConstraint("lineage_id", "version"),
)

connections = sa.Table(
    "connections",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("owner", Name, sa.ForeignKey("users.name"), nullable=False),
    sa.Column("name", Name, nullable=False),
    sa.Column("conn_type", sa.String(20), nullable=False),
    sa.Column("host", sa.Text, nullable=True),
    sa.Column("port", sa.Integer, nullable=True),
    sa.Column("database", sa.Text, nullable=True),
    sa.Column("username", sa.Text, nullable=True),
    sa.Column("secret_token", sa.Text, nullable=True),
    sa.Column("params_json", sa.Text, nullable=False, server_default="{}"),
    # Params whose names look secret (sslpassword, token, ...), encrypted together as one JSON object.
    sa.Column("secret_params_token", sa.Text, nullable=True),
    # Who stored the connection (an admin may add one for its owner); NULL on rows older than this.
    sa.Column("created_by", Name, nullable=True),
    # Added through the server by a non-admin: its targets are checked on every use.
    sa.Column("restricted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.UniqueConstraint("owner", "name"),
)

# Who a run, an asset lineage or a connection is shared with. One table for the three kinds of
# resource, so one access module decides for all; the resource's own delete removes its rows.
shares = sa.Table(
    "shares",
    metadata,
    sa.Column("resource_kind", sa.String(20), primary_key=True),
    sa.Column("resource_id", sa.String(32), primary_key=True),
    sa.Column("principal_kind", sa.String(10), primary_key=True),
    sa.Column("principal", Name, primary_key=True),
    sa.Index("ix_shares_principal", "principal_kind", "principal"),
)

registered_flows = sa.Table(
    "registered_flows",
    metadata,
    sa.Column("name", Name, primary_key=True),
    # where the flow is defined: ``module:attr`` or ``/path/file.py:attr`` (as runs record it)
    sa.Column("ref", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("registered_by", Name, nullable=True),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
)

run_origins = sa.Table(
    "run_origins",
    metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    # who or what started the run: "user:alice", "api:alice", "cli:alice", "trigger:<name>", ...
    sa.Column("started_by", sa.Text, nullable=False),
    sa.Column("created_at", Time, nullable=False),
)

triggers = sa.Table(
    "triggers",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", Name, nullable=False, unique=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("spec_json", sa.Text, nullable=False),
    sa.Column("flow_name", Name, nullable=False),
    sa.Column("owner", Name, sa.ForeignKey("users.name"), nullable=False),
    sa.Column("input_json", sa.Text, nullable=False, server_default="{}"),
    # the callback called when it fires: {"callback": its reference, "kwargs", "flow_id", "step_name", ...}
    sa.Column("callback_json", sa.Text, nullable=True),
    # cursors, seen keys, hashes: whatever the kind needs to tell a new firing from an old one
    sa.Column("state_json", sa.Text, nullable=False, server_default="{}"),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("dry_run", sa.Boolean, nullable=False),
    sa.Column("max_retries", sa.Integer, nullable=False, server_default="0"),
    sa.Column("interval_seconds", sa.Float, nullable=False),
    sa.Column("next_check_at", Time, nullable=False),
    sa.Column("last_checked_at", Time, nullable=True),
    sa.Column("last_reason", sa.Text, nullable=True),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.Index("ix_triggers_due", "active", "next_check_at"),
)

trigger_ticks = sa.Table(
    "trigger_ticks",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("trigger_id", sa.String(32), sa.ForeignKey("triggers.id", ondelete="CASCADE"), nullable=False),
    # what this firing is about (a cron time, an object key and ETag, a count crossing, ...): unique
    # per trigger, so a firing is recorded, and so acted on, once
    sa.Column("firing_key", sa.String(255), nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("run_id", sa.String(32), nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("duration_ms", sa.Float, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", Time, nullable=True),
    sa.UniqueConstraint("trigger_id", "firing_key"),
    sa.Index("ix_trigger_ticks_pending", "outcome", "next_attempt_at"),
)

notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("owner", Name, sa.ForeignKey("users.name", ondelete="CASCADE"), nullable=False),
    # None: every flow of the owner (every flow of everyone for an admin's subscription)
    sa.Column("flow_name", Name, nullable=True),
    sa.Column("events", sa.Text, nullable=False),
    sa.Column("webhook_url", sa.Text, nullable=True),
    sa.Column("email", sa.Text, nullable=True),
    sa.Column("created_at", Time, nullable=False),
)

notification_deliveries = sa.Table(
    "notification_deliveries",
    metadata,
    sa.Column(
        "notification_id", sa.String(32), sa.ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("run_id", sa.String(32), primary_key=True),
    # the event and the step attempt it concerns, so a failure after a re-run is told again
    sa.Column("event_key", sa.String(255), primary_key=True),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("error", sa.Text, nullable=True),
)

# Comments people leave on a run's cards (cards with ``show_comments=True``), kept apart from the
# page versions so that adding one never makes a new page (migration 0012).
card_comments = sa.Table(
    "card_comments",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("card_id", sa.String(64), nullable=False),
    sa.Column("author", Name, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.Index("ix_card_comments_card", "run_id", "card_id", "created_at"),
)

# Live notices of a run besides step progress (a callback changed the page, a comment was added),
# read by every server process's event poller like progress events; kept a short while (migration 0012).
run_notices = sa.Table(
    "run_notices",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("payload", sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb"), nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Index("ix_run_notices_run", "run_id", "id"),
)

# the SMTP server e-mail notifications go through (one row, "default"); the password is encrypted
# under the deployment's keys, like connection secrets
smtp_servers = sa.Table(
    "smtp_servers",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("port", sa.Integer, nullable=False),
    sa.Column("security", sa.String(10), nullable=False),
    sa.Column("username", sa.String(255), nullable=True),
    sa.Column("password_token", sa.Text, nullable=True),
    sa.Column("sender", sa.String(255), nullable=False),
    sa.Column("updated_by", Name, nullable=True),
    sa.Column("updated_at", Time, nullable=False),
)
