"""Draft permissions: reading drafts is public; legislative staff (drafters) of an area, or an admin,
create drafts for that area and add versions to them."""

from __future__ import annotations

from consultation.accounts.models import Role
from consultation.areas.models import Area
from consultation.policy import Actor, permission


@permission("drafts.create")
def can_create(actor: Actor, _: object = None) -> bool:
    """Opens the drafting pages: any drafter (for some area) or an admin."""
    return actor.is_admin or Role.drafter in actor.roles()


@permission("drafts.manage")
def can_manage(actor: Actor, area: Area) -> bool:
    """Create a draft for ``area`` or add a version to one of its drafts: a drafter whose grant covers it."""
    return actor.is_admin or actor.has_role_over(Role.drafter, area.path)
