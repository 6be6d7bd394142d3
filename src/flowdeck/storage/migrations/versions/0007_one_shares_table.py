"""One shares table for runs, asset lineages and connections.

The rows of ``run_shares``, ``asset_shares`` and ``connection_shares`` move into ``shares`` (keyed
by resource kind ``run``/``asset``/``connection`` and the resource's id), and the three tables go.
Downgrading moves them back.

Revision ID: 0007_one_shares_table
Revises: 0010_headless_triggers
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_one_shares_table"
down_revision = "0010_headless_triggers"
branch_labels = None
depends_on = None

# (old table, its resource id column, the resource kind, the table the id refers to)
OLD_TABLES = [
    ("run_shares", "run_id", "run", "runs"),
    ("asset_shares", "lineage_id", "asset", "asset_lineages"),
    ("connection_shares", "connection_id", "connection", "connections"),
]


def upgrade() -> None:
    """Create ``shares``, copy the three tables' rows into it, drop the three tables."""
    op.create_table(
        "shares",
        sa.Column("resource_kind", sa.String(length=20), nullable=False),
        sa.Column("resource_id", sa.String(length=32), nullable=False),
        sa.Column("principal_kind", sa.String(length=10), nullable=False),
        sa.Column("principal", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("resource_kind", "resource_id", "principal_kind", "principal", name=op.f("pk_shares")),
    )
    op.create_index("ix_shares_principal", "shares", ["principal_kind", "principal"], unique=False)
    shares = sa.table(
        "shares",
        sa.column("resource_kind"),
        sa.column("resource_id"),
        sa.column("principal_kind"),
        sa.column("principal"),
    )
    for table_name, id_column, kind, _target in OLD_TABLES:
        old = sa.table(table_name, sa.column(id_column), sa.column("principal_kind"), sa.column("principal"))
        op.execute(
            shares.insert().from_select(
                ["resource_kind", "resource_id", "principal_kind", "principal"],
                sa.select(sa.literal(kind, sa.String(20)), old.c[id_column], old.c.principal_kind, old.c.principal),
            )
        )
        op.drop_table(table_name)


def downgrade() -> None:
    """Recreate the three tables and move each kind's rows back (shares of other kinds are lost)."""
    shares = sa.table(
        "shares",
        sa.column("resource_kind"),
        sa.column("resource_id"),
        sa.column("principal_kind"),
        sa.column("principal"),
    )
    for table_name, id_column, kind, target in OLD_TABLES:
        op.create_table(
            table_name,
            sa.Column(id_column, sa.String(length=32), nullable=False),
            sa.Column("principal_kind", sa.String(length=10), nullable=False),
            sa.Column("principal", sa.String(length=200), nullable=False),
            sa.ForeignKeyConstraint(
                [id_column], [f"{target}.id"], name=op.f(f"fk_{table_name}_{id_column}_{target}"), ondelete="CASCADE"
            ),
            sa.PrimaryKeyConstraint(id_column, "principal_kind", "principal", name=op.f(f"pk_{table_name}")),
        )
        old = sa.table(table_name, sa.column(id_column), sa.column("principal_kind"), sa.column("principal"))
        op.execute(
            old.insert().from_select(
                [id_column, "principal_kind", "principal"],
                sa.select(shares.c.resource_id, shares.c.principal_kind, shares.c.principal).where(
                    shares.c.resource_kind == kind,
                    shares.c.resource_id.in_(sa.select(sa.table(target, sa.column("id")).c.id)),
                ),
            )
        )
    op.drop_index("ix_shares_principal", table_name="shares")
    op.drop_table("shares")
