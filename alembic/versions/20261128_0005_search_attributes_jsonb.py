"""search document attributes as JSONB

On PostgreSQL ``search_document.attributes`` becomes ``JSONB``. The database fallback search groups the
matching documents by six of these attributes (topic category and state, draft, chapter, round, adoption) to
count its facets; on a ``JSON`` column each ``->>`` parses the stored text again, which for a common word over
the city's million documents cost more than the scan itself. The conversion rewrites the table (about 4 s for
1.1 million rows). SQLite keeps its JSON text.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 12:55:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE search_document ALTER COLUMN attributes TYPE JSONB USING attributes::jsonb")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE search_document ALTER COLUMN attributes TYPE JSON USING attributes::json")
