#!/bin/sh
# Creates the partner registry's role and database next to Temporal's, on the first start of the
# PostgreSQL container (/docker-entrypoint-initdb.d). The password comes from
# CSP_REGISTRY_PASSWORD_FILE (a compose secret) or CSP_REGISTRY_PASSWORD. The registry's tables
# are created by its Alembic migrations (adapters/registry/migrations) on the first start.
set -eu
if [ -n "${CSP_REGISTRY_PASSWORD_FILE:-}" ]; then
  CSP_REGISTRY_PASSWORD="$(cat "$CSP_REGISTRY_PASSWORD_FILE")"
fi
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v role="${CSP_REGISTRY_USER:-csp}" \
  -v db="${CSP_REGISTRY_DB:-csp_registry}" \
  -v password="${CSP_REGISTRY_PASSWORD:?set CSP_REGISTRY_PASSWORD_FILE or CSP_REGISTRY_PASSWORD}" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"role";
SQL
