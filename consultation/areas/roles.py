"""Granting and revoking roles (DESIGN §5): every role but admin is held for an area or for a unit.

It lives beside the tree because a grant is only as meaningful as the area or unit it covers.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from consultation import audit, search_index
from consultation.accounts import policy as _accounts_policy  # noqa: F401 - registers accounts.manage_roles
from consultation.accounts.models import Role, RoleGrant, User
from consultation.areas.models import Area, AreaLevel, Unit
from consultation.errors import InvalidState, Message, NotFound, ValidationFailed, msg
from consultation.policy import Actor, require


async def grant_role(
    session: AsyncSession, actor: Actor, user: User, role: Role | None, *, area: Area | None = None,
    unit: Unit | None = None,
) -> RoleGrant:
    require(actor, "accounts.manage_roles")
    errors: dict[str, Message | str] = {}
    if role is None:
        errors["role"] = msg("Choose a role.")
    elif role is Role.admin:
        area = unit = None
    elif role is Role.unit_staff:
        area = None
        if unit is None:
            errors["unit_id"] = msg("Choose the unit this person works for.")
    else:
        unit = None
        if area is None:
            errors["area_id"] = msg("Choose the area this role covers.")
        elif area.level is AreaLevel.compound:
            errors["area_id"] = msg("Roles are granted for a community or a larger area.")
        elif role is Role.resident and area.level is not AreaLevel.community:
            errors["area_id"] = msg("A resident belongs to a community.")
    if user.deleted_at is not None:
        errors[""] = msg("This account has been deleted.")
    if not errors and role is not None and await _existing(session, user, role, area, unit) is not None:
        errors["role"] = msg("This person already holds this role there.")
    if errors:
        raise ValidationFailed(errors)
    assert role is not None
    grant = RoleGrant(user_id=user.id, role=role, area_id=area.id if area else None,
                      unit_id=unit.id if unit else None, granted_by_id=actor.user_id)
    session.add(grant)
    await session.flush()
    await audit.record(session, "role.granted", "user", user.id, actor_id=actor.user_id, ip=actor.ip,
                       after=_describe(grant))
    search_index.search_changed(session, "profile", [user.id])
    return grant


async def revoke_role(session: AsyncSession, actor: Actor, grant: RoleGrant) -> None:
    require(actor, "accounts.manage_roles")
    if grant.role is Role.admin and grant.user_id == actor.user_id:
        raise InvalidState(msg("You cannot remove your own admin role; ask another admin."))
    before = _describe(grant)
    await session.delete(grant)
    await session.flush()
    await audit.record(session, "role.revoked", "user", grant.user_id, actor_id=actor.user_id, ip=actor.ip,
                       before=before)
    search_index.search_changed(session, "profile", [grant.user_id])


async def grant_of(session: AsyncSession, user: User, grant_id: int) -> RoleGrant:
    """One of ``user``'s grants; a grant of somebody else looks missing."""
    grant = await session.scalar(select(RoleGrant).where(RoleGrant.id == grant_id, RoleGrant.user_id == user.id))
    if grant is None:
        raise NotFound()
    return grant


async def _existing(session: AsyncSession, user: User, role: Role, area: Area | None,
                    unit: Unit | None) -> int | None:
    return await session.scalar(
        select(RoleGrant.id).where(
            RoleGrant.user_id == user.id,
            RoleGrant.role == role,
            RoleGrant.area_id.is_(None) if area is None else RoleGrant.area_id == area.id,
            RoleGrant.unit_id.is_(None) if unit is None else RoleGrant.unit_id == unit.id,
        )
    )


def _describe(grant: RoleGrant) -> dict[str, object]:
    return {"user_id": grant.user_id, "role": grant.role.value, "area_id": grant.area_id, "unit_id": grant.unit_id}
