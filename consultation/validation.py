"""Input normalisation shared by forms and services. Returns a message id on failure."""

from __future__ import annotations

import re

from consultation.errors import Message, msg

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_PHONE_NOISE = re.compile(r"[\s\-()（）]")


def normalise_phone(raw: str) -> str | None:
    """A mainland mobile number as 11 digits, accepting +86/0086 and spaces or dashes."""
    digits = _PHONE_NOISE.sub("", raw.strip())
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix) :]
    return digits if PHONE_RE.match(digits) else None


def normalise_email(raw: str) -> str | None:
    value = raw.strip().lower()
    return value if len(value) <= 254 and EMAIL_RE.match(value) else None


def identifier_kind(raw: str) -> tuple[str, str] | None:
    """Classify a log-in identifier as ("phone", value) or ("email", value)."""
    if "@" in raw:
        email = normalise_email(raw)
        return ("email", email) if email else None
    phone = normalise_phone(raw)
    return ("phone", phone) if phone else None


def check_length(value: str, *, minimum: int = 0, maximum: int) -> Message | None:
    if len(value) < minimum:
        if minimum == 1:
            return msg("This field is required.")
        return msg("Enter at least {n} characters.", n=minimum)
    if len(value) > maximum:
        return msg("Enter at most {n} characters.", n=maximum)
    return None
