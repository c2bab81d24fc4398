"""Statements run on the driver (``consultation.direct``): the same rows as ``session.execute`` (types processed
both ways), the connection's listeners told, SQLAlchemy's errors, and instances made from columns that behave
as loaded ones. On SQLite ``rows`` is ``session.execute``; the tests hold on both backends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Integer, bindparam, event, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from consultation import direct
from consultation.accounts.models import Role, RoleGrant, User
from consultation.audit import AuditEvent
from tests import harness
from tests.factories import make_user

_GRANTS = (select(RoleGrant.id, RoleGrant.role, User.display_name, User.verified_at)
           .join(User, User.id == RoleGrant.user_id).where(RoleGrant.user_id == bindparam("user_id", type_=Integer))
           .order_by(RoleGrant.id))
_USER = select(*direct.columns_of(User)).where(User.id == bindparam("user_id", type_=Integer))
_EVENT = (insert(AuditEvent)
          .values(action=bindparam("action"), object_type="test", object_id=None,
                  after=bindparam("after", type_=AuditEvent.__table__.c.after.type),
                  created_at=bindparam("at", type_=AuditEvent.__table__.c.created_at.type))
          .returning(AuditEvent.id, AuditEvent.after, AuditEvent.created_at))


async def test_rows_are_what_session_execute_returns(db: AsyncSession) -> None:
    user = await make_user(db, name="李四", role=Role.resident)
    user.verified_at = datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    await db.flush()
    expected = [tuple(row) for row in (await db.execute(_GRANTS, {"user_id": user.id})).all()]
    found = await direct.rows(db, _GRANTS, {"user_id": user.id})
    assert [tuple(row) for row in found] == expected
    assert found[0].role is Role.resident  # the enum's result processor ran
    assert found[0].verified_at == datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    assert await direct.first(db, _GRANTS, {"user_id": -1}) is None


async def test_parameters_are_processed_and_dml_returns_its_rows(db: AsyncSession) -> None:
    at = datetime(2026, 11, 28, 1, 2, 3, tzinfo=UTC)
    row = await direct.first(db, _EVENT, {"action": "test.direct", "after": {"选项": [1, 2]}, "at": at})
    assert row.after == {"选项": [1, 2]}  # JSON both ways
    assert row.created_at == at
    stored = (await db.execute(select(AuditEvent.after, AuditEvent.created_at).where(AuditEvent.id == row.id))).one()
    assert tuple(stored) == ({"选项": [1, 2]}, at)


async def test_the_connection_listeners_see_the_statement(db: AsyncSession) -> None:
    user = await make_user(db)
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        seen.append(statement)

    connection = await db.connection()
    event.listen(connection.sync_connection, "before_cursor_execute", note)
    try:
        await direct.rows(db, _GRANTS, {"user_id": user.id})
    finally:
        event.remove(connection.sync_connection, "before_cursor_execute", note)
    assert len(seen) == 1 and "role_grant" in seen[0]


async def test_a_driver_error_is_sqlalchemys(db: AsyncSession) -> None:
    user = await make_user(db)
    duplicate = insert(User).values(phone=user.phone, display_name="重复").returning(User.id)
    with pytest.raises(IntegrityError):
        await direct.rows(db, duplicate)


@pytest.mark.skipif(harness.backend() != "postgres", reason="SQLite runs every statement through session.execute")
async def test_statements_whose_sql_depends_on_their_values_are_refused(db: AsyncSession) -> None:
    with pytest.raises(ValueError):
        await direct.rows(db, select(User.id).where(User.id.in_(bindparam("ids", expanding=True))), {"ids": [1, 2]})


async def test_an_instance_made_from_columns_is_a_loaded_one(db: AsyncSession) -> None:
    user = await make_user(db, name="张三")
    user_id = user.id
    db.expunge(user)
    row = await direct.first(db, _USER, {"user_id": user_id})
    made = direct.loaded(db, User, row)
    assert made is not None and made is not user and made.display_name == "张三"
    assert made in db and not db.is_modified(made)
    assert await db.get(User, user_id) is made  # the session holds it
    assert direct.loaded(db, User, row) is made  # a second row of it gives the same instance
    made.display_name = "张三丰"
    await db.flush()  # flushed as an UPDATE
    assert await db.scalar(select(User.display_name).where(User.id == user_id).execution_options(
        populate_existing=True)) == "张三丰"


async def test_refresh_overwrites_what_the_session_holds(db: AsyncSession) -> None:
    user = await make_user(db, name="旧名")
    stale = await direct.first(db, _USER, {"user_id": user.id})
    await db.execute(update(User).where(User.id == user.id).values(display_name="新名")
                     .execution_options(synchronize_session=False))
    assert user.display_name == "旧名"  # not told
    fresh = await direct.first(db, _USER, {"user_id": user.id})
    assert direct.loaded(db, User, fresh) is user and user.display_name == "旧名"  # as a plain query: kept
    assert direct.loaded(db, User, fresh, refresh=True) is user and user.display_name == "新名"
    assert direct.loaded(db, User, stale) is user


async def test_an_outer_join_that_found_nothing_makes_no_instance(db: AsyncSession) -> None:
    nothing = (None,) * len(direct.columns_of(User))
    assert direct.loaded(db, User, (*nothing, 5), 0) is None
