#!/usr/bin/env bash
# Development helper for a migration that has not shipped yet: rebuild it from the models on top of the
# migrations before it, then prove the chain upgrades, has no drift and downgrades on SQLite and
# PostgreSQL. Usage: scripts/regen_migration.sh 0002 "comment rounds"
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?revision id, e.g. 0002}
message=${2:?migration message}
tmp=$(mktemp -d)
rm -f alembic/versions/*_"${rev}"_*.py
DATABASE_URL="sqlite+aiosqlite:///$tmp/gen.db" .venv/bin/alembic upgrade head >/dev/null
DATABASE_URL="sqlite+aiosqlite:///$tmp/gen.db" .venv/bin/alembic revision --autogenerate -m "$message" --rev-id "$rev" >/dev/null
.venv/bin/ruff format -q alembic/versions/ || true
for url in "sqlite+aiosqlite:///$tmp/check.db" "postgresql+asyncpg://postgres@127.0.0.1:5432/ysh_regen_$$"; do
  if [[ $url == postgresql* ]]; then psql -h 127.0.0.1 -U postgres -qc "create database ysh_regen_$$" >/dev/null; fi
  DATABASE_URL=$url .venv/bin/alembic upgrade head >/dev/null 2>&1
  DATABASE_URL=$url .venv/bin/alembic check 2>&1 | tail -1
  DATABASE_URL=$url .venv/bin/alembic downgrade base >/dev/null 2>&1
  if [[ $url == postgresql* ]]; then psql -h 127.0.0.1 -U postgres -qc "drop database ysh_regen_$$" >/dev/null; fi
done
rm -rf "$tmp"
echo "migration $rev regenerated"
