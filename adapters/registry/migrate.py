"""The registry's schema, managed by Alembic (adapters/registry/migrations), on SQLite and
PostgreSQL.

`upgrade_registry(url)` brings a database to the newest revision. On PostgreSQL it holds an
advisory lock for the whole upgrade, so replicas starting together migrate exactly once (the
others wait, then find nothing to do). A database from before Alembic (its versions in the table
`schema_migrations`, written by the earlier hand-written runner) is stamped with the matching
revision first, then upgraded: nothing is re-created and no row is touched.

    python -m adapters.registry.migrate upgrade      # CSP_REGISTRY_URL, or the embedded default
    python -m adapters.registry.migrate current
    python -m adapters.registry.migrate upgrade --url postgresql+asyncpg://...
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# pg_advisory_xact_lock key: the same one the hand-written runner used, so an old replica
# starting during a rolling upgrade waits for the new one too.
MIGRATION_LOCK_KEY = 0x43535052  # "CSPR"

LEGACY_REVISIONS = {
    1: "0001_initial",
    2: "0002_direct_bill",
    3: "0003_relationships",
    4: "0004_provider_operations",
}
"""Version N of the hand-written runner (table schema_migrations) = this Alembic revision (4: the
issue-14 branch's `_v_provider_operations`, the same three tables)."""


def alembic_config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: sa.Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _legacy_revision(connection: sa.Connection) -> str | None:
    if not sa.inspect(connection).has_table("schema_migrations"):
        return None
    versions = connection.execute(sa.text("SELECT version FROM schema_migrations")).scalars()
    newest = max(versions, default=0)
    return LEGACY_REVISIONS.get(newest)


def _upgrade(connection: sa.Connection, target: str) -> str:
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
        )
    config = alembic_config(connection)
    if current_revision(connection) is None:
        legacy = _legacy_revision(connection)
        if legacy is not None:
            command.stamp(config, legacy)
    command.upgrade(config, target)
    revision = current_revision(connection)
    assert revision is not None
    return revision


def upgrade_connection(connection: sa.Connection) -> str:
    """Upgrade to head on `connection`, in the caller's transaction; returns the revision."""
    return _upgrade(connection, "head")


async def upgrade_engine(engine: AsyncEngine, target: str = "head") -> str:
    """Upgrade in one transaction (PostgreSQL: under the advisory lock); returns the revision."""
    async with engine.begin() as connection:
        return await connection.run_sync(_upgrade, target)


async def upgrade_registry(url: str, target: str = "head") -> str:
    """Bring the registry at `url` (SQLAlchemy async URL) to `target`; returns its revision."""
    engine = create_async_engine(url)
    try:
        return await upgrade_engine(engine, target)
    finally:
        await engine.dispose()


async def registry_revision(url: str) -> str | None:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(current_revision)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m adapters.registry.migrate")
    parser.add_argument("action", choices=["upgrade", "current", "head"])
    parser.add_argument("--url", help="SQLAlchemy async URL (default: the settings')")
    args = parser.parse_args(argv)
    url = args.url
    if url is None:
        from runtime.settings import Settings
        from runtime.state_dir import prepare_state_dir

        settings = Settings()
        prepare_state_dir(settings.state_dir)
        url = settings.registry_database_url
    if args.action == "head":
        print(head_revision())
    elif args.action == "current":
        print(asyncio.run(registry_revision(url)) or "none")
    else:
        print(asyncio.run(upgrade_registry(url)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
