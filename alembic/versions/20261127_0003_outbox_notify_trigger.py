"""outbox notify trigger

On PostgreSQL a statement-level trigger on ``outbox_message`` notifies the workers' channel, so a
transaction that enqueues side effects no longer sends ``NOTIFY`` as a statement (a round trip) of its
own. PostgreSQL delivers the notification only when the transaction commits, once per transaction.
SQLite has no notifications: the embedded worker is woken in-process after each commit.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 04:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The channel is consultation.outbox.NOTIFY_CHANNEL, written out: a migration does not follow the code.
FUNCTION = """
CREATE FUNCTION yishiting_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('yishiting_outbox', '');
    RETURN NULL;
END
$$
"""
TRIGGER = """
CREATE TRIGGER outbox_message_notify AFTER INSERT ON outbox_message
FOR EACH STATEMENT EXECUTE FUNCTION yishiting_outbox_notify()
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)
        op.execute(TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS outbox_message_notify ON outbox_message")
        op.execute("DROP FUNCTION IF EXISTS yishiting_outbox_notify()")
