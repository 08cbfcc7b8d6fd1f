"""The registry's Alembic migrations (SQLite and PostgreSQL). `adapters.registry.migrate` runs
them; `versions/` holds one file per revision, append only."""
