"""A topic's resolution (决议) and photos through the JSON API: the resolution in the topic detail and
on its own (404 before the decision), a consensus linking its published minutes, a poll with its
counts, the agreed actions with their units; photos as their resized public copies. Nobody's name
or contact details appear: the recorder is a role, units are organisations."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

from PIL import Image

from consultation.db import utcnow
from consultation.deliberation import photos, resolutions
from consultation.deliberation.resolution_models import Method
from consultation.meetings.models import Meeting, MeetingAgendaItem, MeetingState
from consultation.meetings.models import Outcome as ItemOutcome
from tests.api.helpers import assert_matches, assert_no_personal_data, log_in
from tests.conftest import WebClient
from tests.deliberation.helpers import actor_of, make_world, raise_topic
from tests.resolutions.helpers import deciding, in_days, today, units

POLL = resolutions.PollOutcome(reference="poll:42", eligible=200, ballots_cast=150,
                               counts=(("同意", 120), ("反对", 25), ("弃权", 5)), passed=True,
                               closed_at=datetime(2026, 3, 1, 12, tzinfo=UTC),
                               explanation="参与表决 150 人，超过半数同意，通过。")


def drafts(*rows: tuple[str, int, str]) -> list[resolutions.ActionDraft]:
    return [resolutions.ActionDraft(d, str(u), t) for d, u, t in rows]


def jpeg(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(out, "JPEG", quality=90)
    return out.getvalue()


async def test_a_consensus_resolution_with_minutes_and_actions(client: WebClient, make_client: Any, db: Any) -> None:
    world = await make_world(db)
    topic = await deciding(db, world)
    street, office, _ = await units(db, world)
    await db.commit()
    before = await client.get(f"/api/v1/topics/{topic.id}/resolution", headers={"accept-language": "en"})
    assert before.status_code == 404 and before.json()["error"] == {
        "code": "not_found", "status": 404, "message": "This topic has no resolution yet."}
    assert (await client.get(f"/api/v1/topics/{topic.id}")).json()["resolution"] is None
    starts = utcnow() - timedelta(days=2)
    meeting = Meeting(community_id=world.city.community_a.id, title="三月居民议事会", starts_at=starts,
                      ends_at=starts + timedelta(hours=2), capacity=30, state=MeetingState.minutes_published)
    db.add(meeting)
    await db.flush()
    item = MeetingAgendaItem(meeting_id=meeting.id, position=1, topic_id=topic.id, title="楼道灯",
                             minutes_text="与会居民一致同意更换。", outcome=ItemOutcome.agreed)
    db.add(item)
    await db.flush()
    await resolutions.record_resolution(
        db, actor_of(world.worker_a, world), topic, method=Method.consensus, outcome="agreed",
        summary="同意更换3号楼楼道灯，并加装声控开关。", decided_on=today().isoformat(), meeting_agenda_item_id=item.id,
        actions=drafts(("更换楼道灯", street.id, in_days(14)), ("加装声控开关", office.id, in_days(30))))
    await db.commit()

    response = await client.get(f"/api/v1/topics/{topic.id}/resolution")
    assert response.status_code == 200, response.text
    body = response.json()
    assert_matches("ResolutionDetail", body)
    assert (body["topic_id"], body["outcome"], body["outcome_label"]) == (topic.id, "agreed", "同意")
    assert body["method"] == "consensus" and body["method_label"] == "协商一致（载入会议纪要）"
    assert body["summary"] == "同意更换3号楼楼道灯，并加装声控开关。" and body["decided_on"] == today().isoformat()
    assert body["recorded_by_role"] == "worker" and body["poll"] is None and body["minutes_reference"] is None
    assert body["minutes"] == {"meeting_id": meeting.id, "agenda_item_id": item.id, "title": "楼道灯",
                               "url": f"/meetings/{meeting.id}#item-{item.id}",
                               "api_url": f"/api/v1/meetings/{meeting.id}"}
    assert [(a["position"], a["description"], a["unit"]["name"], a["target_date"], a["status"])
            for a in body["actions"]] == [(1, "更换楼道灯", street.name, in_days(14), "proposed"),
                                          (2, "加装声控开关", office.name, in_days(30), "proposed")]
    assert body["actions"][0]["status_label"] == "已议定，待启动办理"
    assert_no_personal_data(response, world.worker_a, world.author, world.neighbours[0])
    assert "多福社工" not in response.text
    detail = await client.get(f"/api/v1/topics/{topic.id}")
    assert_matches("TopicDetail", detail.json())
    assert detail.json()["resolution"] == body and detail.json()["state"] == "decided_agreed"
    english = await make_client().get(f"/api/v1/topics/{topic.id}/resolution", headers={"accept-language": "en"})
    assert english.json()["outcome_label"] == "Agreed"
    assert english.json()["method_label"] == "Consensus recorded in the minutes"


async def test_a_poll_resolution_carries_its_counts(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await deciding(db, world)
    street, _, _ = await units(db, world)
    await resolutions.record_resolution(
        db, actor_of(world.worker_a, world), topic, method=Method.poll,
        summary="经居民表决，同意加装电动自行车充电桩。", poll_result=POLL,
        actions=drafts(("加装充电桩", street.id, in_days(60))))
    await db.commit()
    response = await client.get(f"/api/v1/topics/{topic.id}/resolution")
    body = response.json()
    assert_matches("ResolutionDetail", body)
    assert body["method"] == "poll" and body["minutes"] is None
    assert body["poll"] == {"reference": "poll:42", "eligible": 200, "ballots_cast": 150, "turnout_percent": 75,
                            "passed": True, "explanation": "参与表决 150 人，超过半数同意，通过。",
                            "options": [{"label": "同意", "ballots": 120}, {"label": "反对", "ballots": 25},
                                        {"label": "弃权", "ballots": 5}]}
    assert [a["unit"] for a in body["actions"]] == [{"id": street.id, "name": street.name}]


async def test_not_agreed_resolution_has_no_actions(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await deciding(db, world)
    await resolutions.record_resolution(db, actor_of(world.worker_a, world), topic, method=Method.consensus,
                                        outcome="not_agreed", summary="多数居民不同意", decided_on=today().isoformat(),
                                        minutes_reference="居委会存档")
    await db.commit()
    body = (await client.get(f"/api/v1/topics/{topic.id}/resolution")).json()
    assert_matches("ResolutionDetail", body)
    assert body["outcome"] == "not_agreed" and body["actions"] == [] and body["minutes"] is None
    assert body["minutes_reference"] == "居委会存档"
    assert (await client.get("/api/v1/topics/987654/resolution")).status_code == 404


async def test_topic_detail_lists_the_photos_resized_copies(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await raise_topic(db, world)
    author = actor_of(world.author, world)
    staged = await photos.stage(db, author, [photos.Upload("张建国家门口.jpg", jpeg((2000, 1000))),
                                             photos.Upload("b.jpg", jpeg((300, 600)))])
    await photos.attach(db, author, topic, staged)
    await db.commit()
    response = await client.get(f"/api/v1/topics/{topic.id}")
    assert response.status_code == 200
    body = response.json()
    assert_matches("TopicDetail", body)
    first, second = body["photos"]
    assert first["id"] == staged.photos[0].id and second["id"] == staged.photos[1].id  # the proposer's order
    assert first["thumb"] == {"url": f"/media/photos/{first['id']}/thumb", "content_type": "image/jpeg",
                              "width": 400, "height": 200}
    assert (first["display"]["width"], first["display"]["height"]) == (1600, 800)
    assert (second["display"]["width"], second["display"]["height"]) == (300, 600)
    assert (second["thumb"]["width"], second["thumb"]["height"]) == (200, 400)
    served = await client.get(first["thumb"]["url"])
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(served.content)).size == (400, 200)
    assert "张建国家门口" not in response.text and "file_name" not in response.text  # the upload's name stays private
    assert_no_personal_data(response, world.author)
    no_photos = await raise_topic(db, world, title="院里停车乱")
    await db.commit()
    await log_in(client, world.neighbours[0])
    assert (await client.get(f"/api/v1/topics/{no_photos.id}")).json()["photos"] == []
