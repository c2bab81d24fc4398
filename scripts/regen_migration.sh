#!/usr/bin/env bash
# Development helper while the schema has not shipped: rebuild the single initial migration from the
# models, then prove it upgrades, has no drift and downgrades on SQLite and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
rm -f alembic/versions/*_0001_initial_schema.py
DATABASE_URL="sqlite+aiosqlite:///$tmp/gen.db" .venv/bin/alembic revision --autogenerate -m "initial schema" --rev-id 0001 >/dev/null
.venv/bin/ruff format -q alembic/versions/ || true
for url in "sqlite+aiosqlite:///$tmp/check.db" "postgresql+asyncpg://postgres@127.0.0.1:5432/ysh_regen_$$"; do
  if [[ $url == postgresql* ]]; then psql -h 127.0.0.1 -U postgres -qc "create database ysh_regen_$$" >/dev/null; fi
  DATABASE_URL=$url .venv/bin/alembic upgrade head >/dev/null 2>&1
  DATABASE_URL=$url .venv/bin/alembic check 2>&1 | tail -1
  DATABASE_URL=$url .venv/bin/alembic downgrade base >/dev/null 2>&1
  if [[ $url == postgresql* ]]; then psql -h 127.0.0.1 -U postgres -qc "drop database ysh_regen_$$" >/dev/null; fi
done
rm -rf "$tmp"
echo "migration regenerated"
