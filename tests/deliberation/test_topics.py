"""Topics end to end through the ASGI app: propose, co-sign up to the threshold, follow, the public
timeline, triage by the community's workers, and bad input that comes back with a clear message."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from consultation.audit import AuditEvent
from consultation.deliberation import services
from consultation.deliberation.models import (
    CommunitySettings,
    Topic,
    TopicCoSign,
    TopicFollow,
    TopicState,
    TopicTransition,
)
from consultation.notifications.models import Notification
from tests.areas.helpers import section
from tests.conftest import WebClient, text_of
from tests.deliberation.helpers import World, actor_of, in_triage, make_world, raise_topic
from tests.factories import PASSWORD, identifier
from web.i18n import TIMEZONE


async def log_in(client: WebClient, user: Any) -> WebClient:
    await client.login(identifier(user), PASSWORD)
    return client


async def count(db: Any, model: Any, *where: Any) -> int:
    return int(await db.scalar(select(func.count(model.id)).where(*where)) or 0)


async def set_threshold(db: Any, world: World, n: int) -> None:
    db.add(CommunitySettings(community_id=world.city.community_a.id, cosign_threshold=n))
    await db.flush()


async def test_a_resident_raises_a_topic_that_starts_collecting(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    await log_in(client, world.author)
    community = world.city.community_a
    area_page = await client.get(f"/areas/{community.id}")
    assert f'href="/topics/new?area={community.id}"' in area_page.text
    form = await client.get(f"/topics/new?area={community.id}")
    assert form.status_code == 200 and "1号院" in form.text  # the compound can be chosen
    response = await client.submit(f"/topics/new?area={community.id}", {
        "title": "  3号楼楼道灯坏了 ", "description": "晚上楼道漆黑。\n老人上下楼很危险。",
        "category": "public_facilities", "compound_id": str(world.city.compound_a.id), "place": "3号楼2单元"})
    assert response.status_code == 303
    topic = await db.scalar(select(Topic).where(Topic.author_id == world.author.id))
    assert topic.title == "3号楼楼道灯坏了" and topic.state is TopicState.collecting
    assert topic.area_id == world.city.compound_a.id and topic.community_id == community.id
    assert response.headers["location"] == f"/topics/{topic.id}"
    page = text_of((await client.get(f"/topics/{topic.id}")).text)
    assert "3号楼楼道灯坏了" in page and "正在征集联署" in page and "张*国" in page
    assert "1号院 · 3号楼2单元" in page and "0 人联署" in page
    timeline = text_of(section((await client.get(f"/topics/{topic.id}")).text, "section", 'aria-labelledby="timeline"'))
    assert "已提出 · 提议人" in timeline and "正在征集联署 · 平台自动" in timeline
    assert await count(db, TopicFollow, TopicFollow.topic_id == topic.id, TopicFollow.user_id == world.author.id) == 1
    assert await count(db, AuditEvent, AuditEvent.object_type == "topic", AuditEvent.object_id == str(topic.id)) == 2
    area_html = (await client.get(f"/areas/{community.id}")).text
    listing = text_of(section(area_html, "section", 'aria-labelledby="area-topics"'))
    assert "3号楼楼道灯坏了" in listing
    mine = text_of((await client.get("/my/topics")).text)
    assert "3号楼楼道灯坏了" in mine


async def test_the_propose_form_comes_back_filled_in_with_each_problem(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    await log_in(client, world.author)
    url = f"/topics/new?area={world.city.community_a.id}"
    response = await client.submit(url, {"title": "", "description": "说" * 5001, "category": "nonsense",
                                         "place": "北门"})
    assert response.status_code == 422
    page = text_of(response.text)
    assert "此项为必填项" in page and "最多输入5000个字符" in page and "请选择类别" in page
    assert 'value="北门"' in response.text
    too_long = await client.submit(url, {"title": "题" * 61, "description": "描述", "category": "parking"})
    assert too_long.status_code == 422 and "最多输入60个字符" in text_of(too_long.text)
    assert 'value="' + "题" * 61 + '"' in too_long.text
    other_compound = await client.submit(url, {"title": "停车难", "description": "描述", "category": "parking",
                                               "compound_id": str(world.city.community_b.id)})
    assert other_compound.status_code == 422 and "请选择多福巷社区的院落" in text_of(other_compound.text)
    assert await count(db, Topic) == 0


async def test_only_residents_of_the_community_may_raise_topics_there(client: WebClient, make_client: Any,
                                                                      db: Any) -> None:
    world = await make_world(db)
    url = f"/topics/new?area={world.city.community_a.id}"
    anonymous = await client.get(url)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    outsider = await log_in(make_client(), world.outsider)
    refused = await outsider.submit(url, {"title": "停车难", "description": "描述", "category": "parking"})
    assert refused.status_code == 403 and "只有多福巷社区的居民才能在这里提出议题" in text_of(refused.text)
    street = await outsider.get(f"/topics/new?area={world.city.street.id}")
    assert street.status_code == 404
    unverified = await log_in(make_client(), world.unverified)  # not yet verified: may propose, not co-sign
    assert (await unverified.get(url)).status_code == 200
    assert await count(db, Topic) == 0


async def test_co_signs_reach_the_threshold_and_send_the_topic_to_triage(make_client: Any, db: Any) -> None:
    world = await make_world(db)
    await set_threshold(db, world, 2)
    topic = await raise_topic(db, world)
    first = await log_in(make_client(), world.neighbours[0])
    second = await log_in(make_client(), world.neighbours[1])
    page = await first.get(f"/topics/{topic.id}")
    assert "需要 2 人联署才会提交社区工作者" in text_of(page.text)
    assert (await first.submit(f"/topics/{topic.id}/cosign")).status_code == 303
    again = await first.submit(f"/topics/{topic.id}/cosign")  # a double submit counts once
    assert again.status_code == 303
    assert "您已联署过这个议题" in text_of((await first.get(again.headers["location"])).text)
    await db.refresh(topic)
    assert topic.cosign_count == 1 and topic.state is TopicState.collecting
    assert (await second.submit(f"/topics/{topic.id}/cosign")).status_code == 303
    await db.refresh(topic)
    assert topic.cosign_count == 2 and topic.state is TopicState.triage
    assert await count(db, TopicCoSign, TopicCoSign.topic_id == topic.id) == 2
    step = await db.scalar(select(TopicTransition).where(TopicTransition.to_state == TopicState.triage))
    assert step.actor_id is None and step.actor_role.value == "system"
    # the author and both co-signers follow it and were told; nobody is told of their own action
    notified = set((await db.scalars(select(Notification.user_id).where(Notification.kind == "topic.state"))).all())
    assert notified == {world.author.id, world.neighbours[0].id, world.neighbours[1].id}
    late = await log_in(make_client(), world.neighbours[2])
    refused = await late.submit(f"/topics/{topic.id}/cosign")
    assert refused.status_code == 409 and "这个议题已不再征集联署" in text_of(refused.text)


async def test_co_signs_from_outside_unverified_or_the_author_are_refused(make_client: Any, db: Any) -> None:
    world = await make_world(db)
    topic = await raise_topic(db, world)
    cases = [(world.outsider, "只有多福巷社区的居民才能联署这个议题"),
             (world.unverified, "只有已认证的居民才能联署"),
             (world.author, "您是这个议题的提议人，不能联署")]
    for user, message in cases:
        visitor = await log_in(make_client(), user)
        page = text_of((await visitor.get(f"/topics/{topic.id}")).text)
        assert message in page  # said on the page instead of a button
        response = await visitor.submit(f"/topics/{topic.id}/cosign")
        assert response.status_code == 403 and message in text_of(response.text)
    anonymous = make_client()
    assert (await anonymous.submit(f"/topics/{topic.id}/cosign")).status_code == 303  # to the log-in page
    await db.refresh(topic)
    assert topic.cosign_count == 0 and await count(db, TopicCoSign) == 0


async def test_follow_and_unfollow(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await raise_topic(db, world)
    await log_in(client, world.outsider)  # anyone signed in may follow a public topic
    assert (await client.submit(f"/topics/{topic.id}/follow")).status_code == 303
    assert (await client.submit(f"/topics/{topic.id}/follow")).status_code == 303
    assert await count(db, TopicFollow, TopicFollow.user_id == world.outsider.id) == 1
    assert "我关注的议题" in text_of((await client.get("/my/topics")).text)
    assert topic.title in text_of(section((await client.get("/my/topics")).text, "section",
                                          'aria-labelledby="following"'))
    assert (await client.submit(f"/topics/{topic.id}/unfollow")).status_code == 303
    assert await count(db, TopicFollow, TopicFollow.user_id == world.outsider.id) == 0


async def test_a_worker_accepts_a_topic_onto_the_agenda(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await in_triage(db, world)
    await log_in(client, world.worker_a)
    console = await client.get("/worker")
    assert 'href="/worker/triage"' in console.text
    queue = text_of((await client.get("/worker/triage")).text)
    assert "3号楼楼道灯坏了" in queue
    review = await client.get(f"/worker/triage/{topic.id}")
    assert review.status_code == 200 and "列入议程" in text_of(review.text)
    response = await client.submit(f"/worker/triage/{topic.id}/accept", {"accept_note": "下月议事会讨论"})
    assert response.status_code == 303 and response.headers["location"] == "/worker/triage"
    await db.refresh(topic)
    assert topic.state is TopicState.deliberating
    timeline = text_of(section((await client.get(f"/topics/{topic.id}")).text, "section",
                               'aria-labelledby="timeline"'))
    assert "已列入议程，正在商议 · 社区工作者" in timeline and "下月议事会讨论" in timeline
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "topic.transition",
                                                     AuditEvent.actor_id == world.worker_a.id))
    assert event.before == {"state": "triage"} and event.after["state"] == "deliberating"
    assert "3号楼楼道灯坏了" not in text_of((await client.get("/worker/triage")).text)
    page = text_of((await client.get(f"/topics/{topic.id}")).text)
    assert "下一步（社区工作者）" in page  # the worker can take the topic on to the decision


async def test_decline_and_refer_need_a_reason_shown_publicly(client: WebClient, make_client: Any, db: Any) -> None:
    world = await make_world(db)
    first = await in_triage(db, world, title="小区里遛狗不拴绳")
    second = await raise_topic(db, world, title="门口道路坑洼")
    await services.cosign(db, actor_of(world.neighbours[1], world), second)
    await log_in(client, world.worker_a)
    empty = await client.submit(f"/worker/triage/{first.id}/decline", {"decline_reason": "  "})
    assert empty.status_code == 422 and "请填写理由" in text_of(empty.text)
    await db.refresh(first)
    assert first.state is TopicState.triage
    declined = await client.submit(f"/worker/triage/{first.id}/decline",
                                   {"decline_reason": "属于个人行为，已由物业张贴文明养犬提示。"})
    assert declined.status_code == 303
    missing_where = await client.submit(f"/worker/triage/{second.id}/refer",
                                        {"refer_reason": "市政道路", "refer_to": ""})
    assert missing_where.status_code == 422 and 'value=""' in missing_where.text
    assert "市政道路" in missing_where.text  # the reason typed comes back
    referred = await client.submit(f"/worker/triage/{second.id}/refer",
                                   {"refer_reason": "属于市政道路，由区城管委维修。", "refer_to": "12345市民服务热线"})
    assert referred.status_code == 303
    resident = make_client()
    page = text_of((await resident.get(f"/topics/{first.id}")).text)
    assert "未予受理" in page and "属于个人行为，已由物业张贴文明养犬提示。" in page
    page = text_of((await resident.get(f"/topics/{second.id}")).text)
    assert "已转交其他渠道" in page and "转交至：12345市民服务热线" in page


async def test_merge_carries_co_signers_and_followers_over_without_duplicates(client: WebClient, db: Any) -> None:
    world = await make_world(db, neighbours=3)
    await set_threshold(db, world, 3)
    n0, n1, n2 = world.neighbours
    target = await raise_topic(db, world, title="北门停车乱", author=n2)
    await services.cosign(db, actor_of(n1, world), target)
    source = await raise_topic(db, world, title="北门车辆乱停")
    for neighbour in (n0, n1, n2):
        await services.cosign(db, actor_of(neighbour, world), source)
    assert source.state is TopicState.triage
    await log_in(client, world.worker_a)
    review = await client.get(f"/worker/triage/{source.id}")
    assert "北门停车乱" in review.text
    response = await client.submit(f"/worker/triage/{source.id}/merge",
                                   {"merge_target_id": str(target.id), "merge_reason": "同一问题"})
    assert response.status_code == 303
    await db.refresh(source)
    await db.refresh(target)
    assert source.state is TopicState.merged and source.merged_into_id == target.id
    cosigners = set((await db.scalars(select(TopicCoSign.user_id).where(TopicCoSign.topic_id == target.id))).all())
    # n1 co-signed both (kept once), n0 carried over, n2 is the target's author (not a co-signer of their own)
    assert cosigners == {n0.id, n1.id}
    assert target.cosign_count == 2 and target.state is TopicState.collecting
    followers = set((await db.scalars(select(TopicFollow.user_id).where(TopicFollow.topic_id == target.id))).all())
    assert followers == {world.author.id, n0.id, n1.id, n2.id}
    page = (await client.get(f"/topics/{source.id}")).text
    assert f'href="/topics/{target.id}"' in page and "已合并到其他议题" in text_of(page)


async def test_merge_into_another_community_or_itself_is_refused(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    source = await in_triage(db, world)
    elsewhere = await raise_topic(db, world, title="韶九社区的议题", community_b=True)
    await raise_topic(db, world, title="本社区另一个议题")  # so the merge form is offered
    await log_in(client, world.worker_a)
    for target_id, message in [(elsewhere.id, "只能合并到同一社区的议题"), (source.id, "议题不能合并到自身"),
                               ("", "请选择要合并到的议题")]:
        response = await client.submit(f"/worker/triage/{source.id}/merge", {"merge_target_id": str(target_id),
                                                                            "merge_reason": "重复"})
        assert response.status_code == 422, target_id
        merge_form = section(response.text, "section", 'aria-labelledby="merge"')
        assert message in text_of(merge_form) and 'value="重复"' not in merge_form
        assert ">重复</textarea>" in merge_form  # the note typed comes back
    await db.refresh(source)
    assert source.state is TopicState.triage and source.merged_into_id is None
    assert await count(db, TopicTransition, TopicTransition.topic_id == source.id,
                       TopicTransition.to_state == TopicState.merged) == 0


async def test_a_worker_of_another_community_can_do_nothing(make_client: Any, db: Any) -> None:
    world = await make_world(db)
    topic = await in_triage(db, world)
    other = await log_in(make_client(), world.worker_b)
    assert "3号楼楼道灯坏了" not in text_of((await other.get("/worker/triage")).text)
    assert (await other.get(f"/worker/triage/{topic.id}")).status_code == 404
    for action, data in [("accept", {}), ("decline", {"decline_reason": "不"}),
                         ("refer", {"refer_reason": "不", "refer_to": "12345"})]:
        assert (await other.submit(f"/worker/triage/{topic.id}/{action}", data)).status_code == 404
    resident = await log_in(make_client(), world.neighbours[1])
    assert (await resident.get("/worker/triage")).status_code == 403
    assert (await resident.submit(f"/worker/triage/{topic.id}/accept", {})).status_code == 403
    assert (await resident.submit(f"/topics/{topic.id}/advance", {"to_state": "deliberating"})).status_code == 403
    await db.refresh(topic)
    assert topic.state is TopicState.triage


async def test_illegal_transitions_are_refused_with_a_clear_message(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await raise_topic(db, world)
    await log_in(client, world.worker_a)
    skip = await client.submit(f"/topics/{topic.id}/advance", {"to_state": "decided_agreed"})
    assert skip.status_code == 409
    assert "处于“正在征集联署”状态的议题不能转为“已决定：同意”" in text_of(skip.text)
    not_in_triage = await client.submit(f"/worker/triage/{topic.id}/accept", {})
    assert not_in_triage.status_code == 409
    await db.refresh(topic)
    assert topic.state is TopicState.collecting


async def test_the_worker_takes_a_topic_through_decision_publicity_and_action(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await in_triage(db, world)
    await log_in(client, world.worker_a)
    await client.submit(f"/worker/triage/{topic.id}/accept", {})
    assert (await client.submit(f"/topics/{topic.id}/advance", {"to_state": "deciding"})).status_code == 303
    decided = await client.submit(f"/topics/{topic.id}/resolution", {  # a decision needs its resolution
        "outcome": "not_agreed", "summary": "居民未达成一致，维持现状。", "minutes_reference": "居委会存档的会议纪要",
        "decided_on": datetime.now(TIMEZONE).date().isoformat()})
    assert decided.status_code == 303
    no_date = await client.submit(f"/topics/{topic.id}/advance", {"to_state": "publicised", "reason": "公示结果"})
    assert no_date.status_code == 422 and "请输入公示期结束日期" in text_of(no_date.text)
    assert "公示结果" in no_date.text
    past = await client.submit(f"/topics/{topic.id}/advance", {"to_state": "publicised",
                                                               "publicity_ends_on": "2020-01-01"})
    assert past.status_code == 422
    done = await client.submit(f"/topics/{topic.id}/advance", {"to_state": "publicised",
                                                               "publicity_ends_on": "2099-12-31"})
    assert done.status_code == 303
    await db.refresh(topic)
    assert topic.state is TopicState.publicised and topic.publicity_ends_at is not None
    for state in ["in_action", "evaluated"]:
        assert (await client.submit(f"/topics/{topic.id}/advance", {"to_state": state})).status_code == 303
    page = await client.get(f"/topics/{topic.id}")
    assert 'aria-current="step"' in page.text and "下一步（社区工作者）" not in text_of(page.text)
    steps = await count(db, TopicTransition, TopicTransition.topic_id == topic.id)
    assert steps == 9  # proposed, collecting, triage, deliberating, deciding, decided, publicised, action, evaluated


async def test_workers_set_their_community_threshold(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    await log_in(client, world.worker_a)
    url = f"/worker/communities/{world.city.community_a.id}/cosign-threshold"
    assert (await client.submit(url, {"cosign_threshold": "0"})).status_code == 303
    assert "请输入 1 到 1000 之间的整数" in text_of((await client.get("/worker/triage")).text)
    assert (await client.submit(url, {"cosign_threshold": "8"})).status_code == 303
    settings = await db.get(CommunitySettings, world.city.community_a.id)
    assert settings.cosign_threshold == 8
    other = f"/worker/communities/{world.city.community_b.id}/cosign-threshold"
    assert (await client.submit(other, {"cosign_threshold": "2"})).status_code == 404
