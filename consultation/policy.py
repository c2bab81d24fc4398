"""Named, composable permission predicates.

Each domain area registers its permissions in its own ``policy.py``. Routes call ``require``
and templates call ``can``; both go through this registry, so one name means one rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from consultation.accounts.models import Role
from consultation.errors import Forbidden


@dataclass(frozen=True)
class Grant:
    role: Role
    area_path: str | None = None
    unit_id: int | None = None


@dataclass(frozen=True)
class Actor:
    """Who is acting: the signed-in user (or an anonymous visitor) with their grants."""

    user_id: int | None = None
    verified: bool = False
    home_area_path: str | None = None
    grants: tuple[Grant, ...] = field(default_factory=tuple)
    ip: str | None = None

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def is_admin(self) -> bool:
        return any(g.role is Role.admin for g in self.grants)

    def has_role_over(self, role: Role, area_path: str | None) -> bool:
        """True if the actor holds ``role`` for an area that is, or contains, ``area_path``."""
        if not area_path or not area_path.startswith("/"):  # an unset path must never match every grant
            return False
        return any(
            g.role is role and g.area_path and area_path.startswith(g.area_path)
            for g in self.grants
        )

    def roles(self) -> set[Role]:
        return {g.role for g in self.grants}


ANONYMOUS = Actor()

Predicate = Callable[[Actor, Any], bool]
_registry: dict[str, Predicate] = {}


def permission(name: str) -> Callable[[Predicate], Predicate]:
    def register(func: Predicate) -> Predicate:
        if name in _registry and _registry[name] is not func:
            raise ValueError(f"permission {name!r} registered twice")
        _registry[name] = func
        return func

    return register


def can(actor: Actor, name: str, obj: Any = None) -> bool:
    return _registry[name](actor, obj)


def require(actor: Actor, name: str, obj: Any = None) -> None:
    if not can(actor, name, obj):
        raise Forbidden()


def registered() -> list[str]:
    return sorted(_registry)
