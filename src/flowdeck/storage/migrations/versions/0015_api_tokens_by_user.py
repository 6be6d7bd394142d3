"""API tokens are found by their user through an index (the token quota counts them per user).

Revision ID: 0015_api_tokens_by_user
Revises: 0014_trigger_callback_and_smtp
"""

from alembic import op

revision = "0015_api_tokens_by_user"
down_revision = "0014_trigger_callback_and_smtp"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_index(op.f("ix_api_tokens_user_name"), "api_tokens", ["user_name"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    if op.get_bind().dialect.name in ("mysql", "mariadb"):
        # InnoDB dropped its own index of the foreign key when this one came: it must get one back
        # before this one goes, or the foreign key would be left without an index.
        op.create_index("fk_api_tokens_user_name_users", "api_tokens", ["user_name"], unique=False)
    op.drop_index(op.f("ix_api_tokens_user_name"), table_name="api_tokens")
