"""The calendar file is valid RFC 5545: CRLF lines folded at 75 octets, escaped text, UTC times, a
stable UID, and the right content type."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from consultation.meetings import ics, services
from consultation.meetings.models import Meeting, MeetingAgendaItem, MeetingState
from tests.conftest import WebClient
from tests.deliberation.helpers import actor_of, make_world
from tests.meetings.helpers import agenda_topic, schedule


def parse(text: str) -> list[tuple[str, str]]:
    """A tiny RFC 5545 reader: checks the line rules, unfolds, and splits name and value."""
    assert text.endswith("\r\n")
    raw = text[:-2].split("\r\n")
    for line in raw:
        assert "\n" not in line and "\r" not in line
        assert len(line.encode("utf-8")) <= 75, line
    unfolded: list[str] = []
    for line in raw:
        if line.startswith(" "):
            unfolded[-1] += line[1:]
        else:
            unfolded.append(line)
    return [(line.split(":", 1)[0], line.split(":", 1)[1]) for line in unfolded]


def unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        if value[i] == "\\":
            out.append("\n" if value[i + 1] in "nN" else value[i + 1])
            i += 2
        else:
            assert value[i] not in ",;", value  # unescaped separators are not allowed in TEXT
            out.append(value[i])
            i += 1
    return "".join(out)


def test_escaping_and_folding_never_split_a_character() -> None:
    assert ics.escape_text('a,b;c\\d\ne') == "a\\,b\\;c\\\\d\\ne"
    line = "SUMMARY:" + "议事会" * 40
    folded = ics.fold(line)
    for part in folded.split("\r\n"):
        assert len(part.encode("utf-8")) <= 75
        part.encode("utf-8").decode("utf-8")  # each physical line is whole UTF-8
    assert folded.replace("\r\n ", "") == line


def test_the_calendar_of_a_meeting() -> None:
    start = datetime(2026, 5, 1, 11, 30, tzinfo=UTC)
    meeting = Meeting(id=42, title="议事会: 停车, 充电; 照明\\改造", starts_at=start,
                      ends_at=datetime(2026, 5, 1, 13, 0, tzinfo=UTC), place="社区活动室，多福巷12号",
                      online_url="https://meet.example.cn/r/42?a=1,2", state=MeetingState.scheduled,
                      updated_at=datetime(2026, 4, 20, 8, 0, 5, tzinfo=UTC), sequence=2, capacity=5)
    meeting.agenda = [MeetingAgendaItem(position=1, title="北门停车太乱" * 8),
                      MeetingAgendaItem(position=2, title="其他")]
    lines = parse(ics.meeting_calendar(meeting, page_url="http://testserver/meetings/42", uid_domain="testserver",
                                       reminder=services.REMINDER_LEAD))
    props = dict(lines)
    assert lines[0] == ("BEGIN", "VCALENDAR") and lines[-1] == ("END", "VCALENDAR")
    assert ("BEGIN", "VEVENT") in lines and ("END", "VEVENT") in lines
    assert props["VERSION"] == "2.0" and props["PRODID"]
    assert props["UID"] == "meeting-42@testserver"
    assert props["DTSTART"] == "20260501T113000Z" and props["DTEND"] == "20260501T130000Z"
    assert props["DTSTAMP"] == "20260420T080005Z" and props["SEQUENCE"] == "2"
    assert unescape(props["SUMMARY"]) == "议事会: 停车, 充电; 照明\\改造"
    assert unescape(props["LOCATION"]) == "社区活动室，多福巷12号"
    assert props["URL"] == "http://testserver/meetings/42" and props["STATUS"] == "CONFIRMED"
    description = unescape(next(v for k, v in lines if k == "DESCRIPTION"))
    assert description.split("\n") == ["Agenda", "1. " + "北门停车太乱" * 8, "2. 其他",
                                       "https://meet.example.cn/r/42?a=1,2", "http://testserver/meetings/42"]
    assert ("TRIGGER", "-PT24H") in lines


async def test_the_calendar_download(client: WebClient, db: Any) -> None:
    world = await make_world(db, neighbours=1)
    meeting = await schedule(db, world, [await agenda_topic(db, world)], online_url="https://meet.example.cn/1")
    await db.commit()
    response = await client.get(f"/meetings/{meeting.id}/calendar.ics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    props = dict(parse(response.text))
    assert props["UID"] == f"meeting-{meeting.id}@testserver"
    assert props["DTSTART"] == meeting.starts_at.strftime("%Y%m%dT%H%M%SZ")
    assert props["URL"] == f"http://testserver/meetings/{meeting.id}"
    again = dict(parse((await client.get(f"/meetings/{meeting.id}/calendar.ics")).text))
    assert again["UID"] == props["UID"] and again["DTSTAMP"] == props["DTSTAMP"]  # stable between downloads
    await services.cancel_meeting(db, actor_of(world.worker_a, world), meeting, "改期")
    await db.commit()
    cancelled = dict(parse((await client.get(f"/meetings/{meeting.id}/calendar.ics")).text))
    assert cancelled["STATUS"] == "CANCELLED" and int(cancelled["SEQUENCE"]) > int(props["SEQUENCE"])
    assert (await client.get("/meetings/987654/calendar.ics")).status_code == 404
