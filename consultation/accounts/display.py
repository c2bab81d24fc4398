"""How a person's name appears to others: masked (王*明) unless they opted out."""

from __future__ import annotations

from consultation.accounts.models import User

DELETED_NAME = "已注销用户"


def mask_name(name: str) -> str:
    name = name.strip()
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def public_name(user: User) -> str:
    if user.deleted_at is not None:
        return DELETED_NAME
    return user.display_name if user.show_full_name else mask_name(user.display_name)


def mask_phone(phone: str | None) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if phone and len(phone) == 11 else ""
