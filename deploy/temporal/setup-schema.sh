#!/bin/sh
# The `temporal-schema` one-shot of docker-compose.yml (image temporalio/admin-tools): creates
# Temporal's databases on PostgreSQL when missing and upgrades both schemas to the versions this
# admin-tools release ships. Running it again is a no-op; run it before every server upgrade.
set -eu
: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${POSTGRES_PWD:?}"
export SQL_PLUGIN="${DB:-postgres12}"
export SQL_HOST="$POSTGRES_SEEDS"
export SQL_PORT="${DB_PORT:-5432}"
export SQL_USER="$POSTGRES_USER"
export SQL_PASSWORD="$POSTGRES_PWD"
SCHEMA_ROOT="${TEMPORAL_SCHEMA_ROOT:-/etc/temporal/schema/postgresql/v12}"

for pair in "${DBNAME:-temporal}:temporal" "${VISIBILITY_DBNAME:-temporal_visibility}:visibility"; do
  db="${pair%%:*}"
  schema="${pair#*:}"
  # `create` fails when the database exists; the next two steps fail loudly if it truly is missing.
  temporal-sql-tool --db "$db" create || echo "database $db exists"
  temporal-sql-tool --db "$db" setup-schema -v 0.0
  temporal-sql-tool --db "$db" update-schema -d "$SCHEMA_ROOT/$schema/versioned"
done
echo "Temporal schemas are up to date"
