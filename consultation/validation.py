"""Input normalisation shared by forms and services. Returns a message id on failure."""

from __future__ import annotations

import re

from consultation.errors import Message, msg

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_PHONE_NOISE = re.compile(r"[\s\-()（）]")


MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def parse_id(raw: str | None) -> int | None:
    """A positive database id or page number from user input; anything else (huge, negative, text) is None."""
    if raw is None or not raw.strip().isdigit() or len(raw.strip()) > 10:
        return None
    number = int(raw)
    return number if 0 < number <= MAX_ID else None


def strip_control(text: str) -> str:
    """Drop control characters (NUL and friends) that no form field needs and PostgreSQL refuses."""
    return _CONTROL.sub("", text)


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
