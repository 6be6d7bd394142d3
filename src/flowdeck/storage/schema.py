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
    sa.Column("user_name", Name, sa.ForeignKey("users.name", ondelete="CASCADE"), nullable=False),
    sa.Column("token_hash", sa.String(128), nullable=False, unique=True),
    sa.Column("label", Name, nullable=True),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("last_used_at", Time, nullable=True),
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

run_shares = sa.Table(
    "run_shares",
    metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("principal_kind", sa.String(10), primary_key=True),
    sa.Column("principal", Name, primary_key=True),
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
    sa.Column(
        "lineage_id", sa.String(32), sa.ForeignKey("asset_lineages.id", ondelete="CASCADE"), nullable=False
    ),
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

asset_shares = sa.Table(
    "asset_shares",
    metadata,
    sa.Column(
        "lineage_id", sa.String(32), sa.ForeignKey("asset_lineages.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("principal_kind", sa.String(10), primary_key=True),
    sa.Column("principal", Name, primary_key=True),
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
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.UniqueConstraint("owner", "name"),
)

connection_shares = sa.Table(
    "connection_shares",
    metadata,
    sa.Column(
        "connection_id", sa.String(32), sa.ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("principal_kind", sa.String(10), primary_key=True),
    sa.Column("principal", Name, primary_key=True),
)
