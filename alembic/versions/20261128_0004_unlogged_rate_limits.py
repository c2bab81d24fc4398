"""rate-limit counters unlogged

On PostgreSQL ``rate_limit_bucket`` becomes an UNLOGGED table: its rows (fixed-window counts of recent
attempts, failed log-ins) are written to no write-ahead log. Every rate-limited request counts one hit in it,
often as its only write (a refused second ballot, a comment refused for the window); a transaction that wrote
only unlogged rows commits without waiting for the log to reach the disk. After a crash of PostgreSQL the
table starts empty, as if every window had just begun; a standby does not have it (a failover starts the
windows again). Nothing else changes: the table is read and written as before. SQLite has no unlogged tables.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 01:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE rate_limit_bucket SET UNLOGGED")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE rate_limit_bucket SET LOGGED")
