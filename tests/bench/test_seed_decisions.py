"""The harness's seeded decisions (``bench.seed_decisions``) read as the app would have written them: a
resolution for every decided topic, sessions with published minutes behind the consensus ones, agreed
actions for units that serve the community, coming sessions with their sign-ups, and the pages that
show them (the area page, the topic page, the session page) answer with them."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from bench import seed
from bench.scales import Scale
from bench.seed_decisions import DECIDED, HANDED_OFF
from consultation.accounts.passwords import hash_password
from consultation.areas.models import Area, Unit
from consultation.clock import TIMEZONE
from consultation.db import utcnow
from consultation.deliberation import resolutions
from consultation.deliberation.models import Topic, TopicState
from consultation.deliberation.resolution_models import ActionStatus, AgreedAction, Method, Outcome, Resolution
from consultation.meetings import queries as meetings
from consultation.meetings.models import Meeting, MeetingAgendaItem, MeetingSignup, MeetingState, SignupStatus
from tests import harness
from tests.conftest import WebClient

# Two streets of three communities; enough topics that every community has decided ones of each kind.
SMALL = Scale("decisions", districts=1, streets_per_district=2, communities_per_street=3, compounds_per_community=2,
              residents=300, topics=600, comments=600, comments_on_hot_topic=20)


@pytest.mark.skipif(harness.backend() != "postgres", reason="the harness seeds PostgreSQL with COPY")
async def test_the_seeded_decisions_are_what_the_app_would_have_written(connection: AsyncConnection, db: Any,
                                                                        client: WebClient) -> None:
    await connection.execute(text("SELECT 1"))  # the test's transaction is open on the server: COPY joins it
    raw = (await connection.get_raw_connection()).driver_connection
    seeded = await seed.seed(raw, SMALL, hash_password(seed.PASSWORD))
    found = seeded.decisions
    assert found is not None and found.upcoming_meetings == 6

    topics = {t.id: t for t in await db.scalars(select(Topic))}
    decided = {i for i, t in topics.items() if t.state in DECIDED}
    by_topic = {r.topic_id: r for r in await db.scalars(select(Resolution))}
    assert set(by_topic) == decided and len(decided) > 100  # every decided topic, and only those
    areas = {a.id: a for a in await db.scalars(select(Area))}
    units = {u.id: u for u in await db.scalars(select(Unit))}
    items = {i.id: i for i in await db.scalars(select(MeetingAgendaItem))}
    meetings_by_id = {m.id: m for m in await db.scalars(select(Meeting))}
    actions = list(await db.scalars(select(AgreedAction)))
    methods = {r.method for r in by_topic.values()}
    assert methods == set(Method) and {r.outcome for r in by_topic.values()} == set(Outcome)
    for topic_id, resolution in by_topic.items():
        topic = topics[topic_id]
        assert resolution.outcome is DECIDED[topic.state]
        if resolution.meeting_agenda_item_id is not None:  # consensus at a session: its published minutes
            item = items[resolution.meeting_agenda_item_id]
            meeting = meetings_by_id[item.meeting_id]
            assert item.topic_id == topic_id and item.minutes_text and item.outcome is not None
            assert meeting.state is MeetingState.minutes_published and meeting.community_id == topic.community_id
            assert resolution.decided_on == meeting.ends_at.astimezone(TIMEZONE).date()
        elif resolution.method is Method.poll:
            assert resolution.poll_ballots_cast is not None and resolution.poll_eligible is not None
            cast = resolution.poll_ballots_cast
            assert sum(n for _, n in resolution.poll_options) == cast <= resolution.poll_eligible
            assert resolution.poll_passed is (resolution.outcome is Outcome.agreed)
        else:
            assert resolution.minutes_reference
        assert (topic.publicity_ends_at is not None) is (topic.state is TopicState.publicised)
    for action in actions:
        resolution = next(r for r in by_topic.values() if r.id == action.resolution_id)
        topic = topics[resolution.topic_id]
        assert resolution.outcome is Outcome.agreed
        community = areas[topic.community_id]
        assert units[action.unit_id].area_id in community.ancestor_ids  # a unit that serves the community
        handed = topic.state in HANDED_OFF
        assert (action.status is ActionStatus.handed_off) is handed and (action.handed_off_at is not None) is handed
    agreed = [r for r in by_topic.values() if r.outcome is Outcome.agreed]
    per_resolution = {r.id: sum(1 for a in actions if a.resolution_id == r.id) for r in agreed}
    assert set(per_resolution.values()) == {1, 2, 3}

    now = utcnow()
    coming = [m for m in meetings_by_id.values() if m.state is MeetingState.scheduled]
    assert len(coming) == 6 and all(m.starts_at > now for m in coming)
    for meeting in coming:
        signups = list(await db.scalars(select(MeetingSignup).where(MeetingSignup.meeting_id == meeting.id)))
        confirmed = [s for s in signups if s.status is SignupStatus.confirmed]
        assert 5 <= len(signups) and len(confirmed) <= meeting.capacity
        assert sorted(s.position for s in signups) == list(range(1, meeting.next_position + 1))
        agenda = [i for i in items.values() if i.meeting_id == meeting.id]
        assert agenda and all(topics[i.topic_id].state in meetings.AGENDA_TOPIC_STATES for i in agenda)

    # the pages the scenarios read show them
    community = areas[topics[found.consensus_topic_id].community_id]
    recent = await resolutions.recent_in(db, community)
    assert len(recent) == 5 and [r.resolution.recorded_at for r in recent] == \
        sorted((r.resolution.recorded_at for r in recent), reverse=True)
    assert [m.community_id for m in await meetings.upcoming_for_area(db, community)] == [community.id]
    page = (await client.get(f"/areas/{community.id}")).text
    assert recent[0].resolution.topic.title in page and "居民议事会" in page
    consensus = (await client.get(f"/topics/{found.consensus_topic_id}")).text
    assert "/meetings/" in consensus and "#item-" in consensus
    poll = (await client.get(f"/topics/{found.poll_topic_id}")).text
    assert "poll-counts" in poll and "同意" in poll
    coming_page = await client.get(f"/meetings/{coming[0].id}")
    assert coming_page.status_code == 200 and coming[0].title in coming_page.text
