"""Area permissions."""

from __future__ import annotations

from consultation.accounts.models import Role
from consultation.areas.models import Area
from consultation.policy import Actor, permission


@permission("areas.manage")
def can_manage_areas(actor: Actor, _: object = None) -> bool:
    """The administrative tree itself (areas, units, tree imports) is managed by admins only."""
    return actor.is_admin


@permission("areas.manage_households")
def can_manage_households(actor: Actor, community: Area) -> bool:
    """Households (addresses are personal data) are seen and kept by the community's workers and admins."""
    return actor.is_admin or actor.has_role_over(Role.worker, community.path)
