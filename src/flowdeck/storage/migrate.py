"""Running the Alembic migrations programmatically (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

__all__ = ["alembic_config", "current_revision", "migrations_dir", "upgrade"]

_MIGRATIONS = Path(__file__).with_name("migrations")


def migrations_dir() -> Path:
    """Where the Alembic environment and revisions live."""
    return _MIGRATIONS


def alembic_config(engine: Engine) -> Config:
    """An Alembic configuration pointing at flowdeck's migrations and ``engine``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.attributes["engine"] = engine
    return cfg


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database in place to ``revision``; a no-op when it is there already."""
    cfg = alembic_config(engine)
    script = ScriptDirectory.from_config(cfg)
    target = script.get_current_head() if revision == "head" else revision
    if current_revision(engine) == target:
        return
    command.upgrade(cfg, revision)
