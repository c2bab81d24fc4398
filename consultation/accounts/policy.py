"""Account permissions: who may verify residents, see personal data, manage roles."""

from __future__ import annotations

from consultation.accounts.models import Role, User
from consultation.areas.models import Area
from consultation.policy import Actor, permission


@permission("accounts.verify_resident")
def can_verify_resident(actor: Actor, community: Area) -> bool:
    """A worker of the community (or of an area above it), or an admin."""
    return actor.is_admin or actor.has_role_over(Role.worker, community.path)


@permission("accounts.view_personal_data")
def can_view_personal_data(actor: Actor, user: User) -> bool:
    """Phone, address and household: the person themself, workers of their area, admins."""
    if actor.user_id is not None and actor.user_id == user.id:
        return True
    if actor.is_admin:
        return True
    # The home area must have been loaded with the user; if it was not, the answer is no (never a query here).
    home_area = user.__dict__.get("home_area")
    return home_area is not None and actor.has_role_over(Role.worker, home_area.path)


@permission("accounts.worker_console")
def can_open_worker_console(actor: Actor, _: object = None) -> bool:
    return actor.is_admin or Role.worker in actor.roles()


@permission("accounts.manage_roles")
def can_manage_roles(actor: Actor, _: object = None) -> bool:
    return actor.is_admin
