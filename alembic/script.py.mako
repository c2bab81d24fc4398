"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""
<%
    # The initial migration also creates the SQLite full-text table of the search fallback, which
    # Alembic does not manage: its statements are rendered here as literals (see consultation/search_index.py).
    from consultation.search_index import FTS_CREATE, FTS_DROP
    initial = not down_revision
%>
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import consultation.db
${imports if imports else ""}

revision: str = ${repr(up_revision)}
down_revision: str | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}
% if initial:
    if op.get_bind().dialect.name == "sqlite":  # search fallback full-text index, unmanaged by Alembic
    % for statement in FTS_CREATE:
        op.execute(${repr(statement)})
    % endfor
% endif


def downgrade() -> None:
% if initial:
    if op.get_bind().dialect.name == "sqlite":
    % for statement in FTS_DROP:
        op.execute(${repr(statement)})
    % endfor
% endif
    ${downgrades if downgrades else "pass"}
