#!/bin/sh
# Creates the partner registry's role and database next to Temporal's, on the first start of the
# PostgreSQL container (/docker-entrypoint-initdb.d). The registry's tables are created by the
# worker's migrations (adapters/registry/schema.py) on its first start.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v role="${CSP_REGISTRY_USER:-csp}" \
  -v db="${CSP_REGISTRY_DB:-csp_registry}" \
  -v password="${CSP_REGISTRY_PASSWORD:?set CSP_REGISTRY_PASSWORD}" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"role";
SQL
