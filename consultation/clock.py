"""Local time: the one time zone of the service (China) and today's calendar date in it.

Times are stored in UTC (``consultation.db.utcnow``); dates people type or read (a decision date, a
target date, "today" on a form) are calendar days in this zone."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

TIMEZONE = ZoneInfo("Asia/Shanghai")


def local_today() -> date:
    """Today's date in China."""
    return datetime.now(TIMEZONE).date()


def local_minute(moment: datetime) -> str:
    """A stored UTC time as people read it here: "2026-12-01 09:00" (China time)."""
    return moment.astimezone(TIMEZONE).strftime("%Y-%m-%d %H:%M")
