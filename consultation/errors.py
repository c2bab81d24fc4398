"""Domain errors. The web layer maps each to an HTTP status in one place.

Messages are message ids (English source strings) with optional parameters; the web layer
translates them into the visitor's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Message:
    msgid: str
    params: dict[str, Any] = field(default_factory=dict)


def msg(msgid: str, **params: Any) -> Message:
    return Message(msgid, params)


def N_(msgid: str) -> str:
    return msgid


class DomainError(Exception):
    default = N_("The request could not be completed.")

    def __init__(self, message: Message | str | None = None) -> None:
        if message is None:
            message = self.default
        self.message = message if isinstance(message, Message) else Message(message)
        super().__init__(self.message.msgid)


class NotFound(DomainError):
    default = N_("The page or object you asked for does not exist.")


class Forbidden(DomainError):
    default = N_("You are not allowed to do this.")


class Conflict(DomainError):
    default = N_("This conflicts with the current state. Reload the page and try again.")


class InvalidState(DomainError):
    default = N_("This action is not possible in the current state.")


class RateLimited(DomainError):
    default = N_("Too many attempts. Please wait {seconds} seconds and try again.")

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(Message(self.default, {"seconds": retry_after}))


class ValidationFailed(DomainError):
    """Field errors keyed by form field name; ``""`` holds errors about the whole form."""

    default = N_("Please correct the errors below.")

    def __init__(self, errors: dict[str, Message | str]) -> None:
        self.errors = {k: v if isinstance(v, Message) else Message(v) for k, v in errors.items()}
        super().__init__()
