"""An iCalendar (RFC 5545) file for one session, so residents can put it in their phone's calendar.

Lines end in CRLF and are folded at 75 octets (never inside a UTF-8 character); text values escape
backslash, semicolon, comma and newlines; times are UTC (``…Z``). The UID is stable per session and
``SEQUENCE`` grows with every change, so calendars update the event instead of adding a second one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from consultation.meetings.models import Meeting, MeetingState

PRODID = "-//Yishiting//Deliberation sessions//ZH"
FOLD_AT = 75


def escape_text(value: str) -> str:
    """TEXT escaping of RFC 5545 §3.3.11."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")


def fold(line: str) -> str:
    """Split a content line into chunks of at most 75 octets, continuation lines starting with a space."""
    out: list[str] = []
    current, size, limit = "", 0, FOLD_AT
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            out.append(current)
            current, size, limit = " ", 1, FOLD_AT
        current += char
        size += width
    out.append(current)
    return "\r\n".join(out)


def utc_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def meeting_calendar(meeting: Meeting, *, page_url: str, uid_domain: str, reminder: timedelta | None = None,
                     agenda_heading: str = "Agenda") -> str:
    """The whole ``VCALENDAR`` text for ``meeting`` (its ``agenda`` must be loaded)."""
    description = [*(f"{item.position}. {item.title}" for item in meeting.agenda)]
    if description:
        description.insert(0, agenda_heading)
    if meeting.online_url:
        description.append(meeting.online_url)
    description.append(page_url)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:meeting-{meeting.id}@{uid_domain}",
        f"DTSTAMP:{utc_stamp(meeting.updated_at)}",
        f"DTSTART:{utc_stamp(meeting.starts_at)}",
        f"DTEND:{utc_stamp(meeting.ends_at)}",
        f"SEQUENCE:{meeting.sequence}",
        f"SUMMARY:{escape_text(meeting.title)}",
        f"DESCRIPTION:{escape_text(chr(10).join(description))}",
        f"LOCATION:{escape_text(meeting.place or meeting.online_url or '')}",
        f"URL:{page_url}",
        f"STATUS:{'CANCELLED' if meeting.state is MeetingState.cancelled else 'CONFIRMED'}",
    ]
    if reminder is not None and meeting.state is not MeetingState.cancelled:
        hours = int(reminder.total_seconds() // 3600)
        lines += ["BEGIN:VALARM", "ACTION:DISPLAY", f"DESCRIPTION:{escape_text(meeting.title)}",
                  f"TRIGGER:-PT{hours}H", "END:VALARM"]
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "".join(fold(line) + "\r\n" for line in lines)
