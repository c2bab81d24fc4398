"""The deliberation story of the demo in 多福巷社区: topics carried through every later state by the same
services people use — comments with stances and an official answer, a moderation queue with work in it,
a photo, a session held with attendance and published minutes, resolutions with agreed actions (one
handed off to the governance pipeline), and an upcoming session that residents have signed up for."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta

from PIL import Image, ImageDraw
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from consultation.accounts.models import Role, RoleGrant, User
from consultation.areas.models import Area, AreaLevel, Unit
from consultation.comments import moderation
from consultation.comments import services as comments
from consultation.comments.words import seed_sample_words
from consultation.db import utcnow
from consultation.deliberation import photos, resolutions
from consultation.deliberation import queries as topic_queries
from consultation.deliberation import services as deliberation
from consultation.deliberation.models import Topic, TopicState
from consultation.deliberation.resolution_models import Method
from consultation.meetings import queries as meeting_queries
from consultation.meetings import record
from consultation.meetings import services as meetings
from consultation.meetings.models import Meeting
from consultation.policy import Actor, Grant
from web.demo_polls import load_polls
from web.i18n import TIMEZONE

COMMUNITY = "多福巷社区"


@dataclass
class Cast:
    community: Area
    worker: Actor
    residents: list[Actor]  # verified residents first
    admin: Actor


async def _cast(session: AsyncSession) -> Cast:
    community = await session.scalar(select(Area).where(Area.name == COMMUNITY, Area.level == AreaLevel.community))
    assert community is not None
    worker_id = await session.scalar(select(RoleGrant.user_id).where(RoleGrant.role == Role.worker,
                                                                     RoleGrant.area_id == community.id))
    admin_id = await session.scalar(select(RoleGrant.user_id).where(RoleGrant.role == Role.admin))
    people = (await session.scalars(select(User).where(User.home_area_id == community.id, User.id != worker_id)
                                    .order_by(User.verified_at.is_(None), User.id))).all()
    residents = [Actor(user_id=p.id, verified=p.verified_at is not None, home_area_path=community.path,
                       grants=(Grant(Role.resident, community.path),)) for p in people]
    return Cast(community, Actor(user_id=worker_id, grants=(Grant(Role.worker, community.path),)), residents,
                Actor(user_id=admin_id, grants=(Grant(Role.admin),)))


def _roof_photo() -> bytes:
    """A small drawing of a leaking roof, so the demo shows a photo without shipping one."""
    image = Image.new("RGB", (960, 720), (186, 214, 236))
    draw = ImageDraw.Draw(image)
    draw.polygon([(80, 330), (480, 110), (880, 330)], fill=(120, 72, 56))
    draw.rectangle([140, 330, 820, 680], fill=(222, 208, 182))
    draw.rectangle([420, 500, 540, 680], fill=(96, 70, 50))
    for x in (260, 330, 610, 690):
        draw.ellipse([x, 360, x + 22, 400], fill=(40, 110, 200))
        draw.ellipse([x + 4, 420, x + 18, 448], fill=(40, 110, 200))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


async def _raise(session: AsyncSession, cast: Cast, author: Actor, title: str, category: str, description: str, *,
                 accept: bool = True, photo: bytes | None = None) -> Topic:
    """Propose, co-sign up to the threshold (2 in the demo) and, if asked, accept onto the agenda."""
    topic = await deliberation.propose(session, author, cast.community, title=title, description=description,
                                       category=category)
    if photo is not None:
        staged = await photos.stage(session, author, [photos.Upload("现场照片.jpg", photo)])
        await photos.attach(session, author, topic, staged)
    for cosigner in [r for r in cast.residents if r.verified and r.user_id != author.user_id][:2]:
        await deliberation.cosign(session, cosigner, topic)
    if accept:
        await deliberation.accept(session, cast.worker, topic, "列入社区居民议事会议程。")
    return topic


async def _units(session: AsyncSession, community: Area) -> tuple[Unit, Unit]:
    street = await session.get(Area, community.parent_id)
    assert street is not None
    office = Unit(name=f"{street.name}城市管理办公室", area_id=street.id)
    property_service = Unit(name=f"{community.name}物业服务中心", area_id=community.id)
    session.add_all([office, property_service])
    await session.flush()
    return office, property_service


async def _held_session(session: AsyncSession, cast: Cast, topics: list[Topic], held_on: datetime) -> Meeting:
    """Schedule a session (it must start in the future), let people sign up, then move it into the past and
    record attendance and the published minutes, as the worker does on the day."""
    start = utcnow() + timedelta(days=1)
    meeting = await meetings.schedule(session, cast.worker, cast.community, meetings.MeetingDraft(
        title="多福巷社区十一月居民议事会", starts_at=start, ends_at=start + timedelta(hours=2), capacity=30,
        place="多福巷社区党群服务中心二楼会议室", description="请带上您的意见；现场可以补充报名。",
        topic_ids=[t.id for t in topics]))
    meeting = await meeting_queries.get_meeting(session, meeting.id)
    for resident in cast.residents[:3]:
        await meetings.sign_up(session, resident, meeting)
    meeting_id = meeting.id
    await session.execute(update(Meeting).where(Meeting.id == meeting_id)
                          .values(starts_at=held_on, ends_at=held_on + timedelta(hours=2)))
    session.expire(meeting)
    meeting = await meeting_queries.get_meeting(session, meeting_id)
    present = frozenset(r.user_id for r in cast.residents[:2] if r.user_id is not None)
    await record.record_attendance(session, cast.worker, meeting, record.AttendanceMarks(present, frozenset()))
    await record.add_walk_in(session, cast.worker, meeting, name="王大爷（3号楼）")
    return meeting


async def _topic_titled(session: AsyncSession, cast: Cast, title: str) -> Topic:
    topic_id = await session.scalar(select(Topic.id).where(Topic.title == title,
                                                           Topic.community_id == cast.community.id))
    assert topic_id is not None, title
    return await topic_queries.get_topic(session, topic_id)


MINUTES = {
    "2号院屋顶漏水维修": ("到会居民一致认为屋顶防水层老化严重，雨季前必须维修；费用使用公共维修资金。", "agreed"),
    "楼道堆物清理": ("居民同意开展楼道堆物集中清理，物业提前一周张贴通知，逾期未清理的由物业统一清运。", "agreed"),
    "院内增设健身器材": ("一楼住户担心噪音，多数到会居民不同意在现有空地增设健身器材，建议另找场地。", "not_agreed"),
    "北门垃圾桶站搬迁": ("同意将桶站从北门搬到西侧空地，并增加一次清运。", "agreed"),
    "夜间临时停车收费调整": ("意见分歧较大，同意交由全体业主投票决定。", "needs_poll"),
    "单元门禁维修": ("同意由物业更换3单元门禁主板，费用从物业费中列支。", "agreed"),
}


async def load_story(session: AsyncSession, receipt_key: bytes, password: str) -> None:
    cast = await _cast(session)
    r1, r2, r3 = cast.residents[:3]
    office, property_service = await _units(session, cast.community)
    await seed_sample_words(session, cast.admin)

    roof = await _raise(session, cast, r1, "2号院屋顶漏水维修", "public_facilities",
                        "2号院5层顶楼每逢下雨就漏水，墙皮脱落，住户家里的电器也受了潮。", photo=_roof_photo())
    clutter = await _raise(session, cast, r2, "楼道堆物清理", "sanitation",
                           "各楼道堆放纸箱、旧家具和电动车，挡住消防通道，存在安全隐患。")
    fitness = await _raise(session, cast, r3, "院内增设健身器材", "public_facilities",
                           "希望在1号院空地增设几件健身器材，方便老人锻炼。")
    bins = await _raise(session, cast, r1, "北门垃圾桶站搬迁", "sanitation",
                        "北门桶站紧挨住户窗户，夏天异味很大，希望挪到西侧空地。")
    parking = await _raise(session, cast, r2, "夜间临时停车收费调整", "parking",
                           "外来车辆夜间占用车位，建议调整临时停车收费标准。")
    door = await _raise(session, cast, r3, "单元门禁维修", "property_services",
                        "1号院3单元门禁坏了一个月，陌生人随意进出。")

    # Deliberation on the topics before the session: stances, a reply and the worker's official answer.
    await comments.post_comment(session, r2, roof, stance="support", body="我家就在顶楼，墙角已经发霉了，支持尽快修。")
    question = await comments.post_comment(session, r3, roof, stance="neutral",
                                           body="维修费用从哪里出？需要每户分摊吗？")
    answer = await comments.reply(session, cast.worker, question,
                                  body="屋顶属于共有部位，可以申请使用公共维修资金，社区会在议事会上说明流程。")
    await moderation.mark_official(session, cast.worker, answer)
    await comments.post_comment(session, r3, fitness, stance="oppose",
                                body="器材放在窗下，早晚锻炼的声音会影响一楼休息。")
    await comments.post_comment(session, r1, fitness, stance="support", body="院里老人多，有几件器材很方便。")

    # The demo happens in one day: the session took place a few hours ago and the decisions are dated today.
    held_on = datetime.now(TIMEZONE).replace(second=0, microsecond=0) - timedelta(hours=3)
    decided_topics = [roof, clutter, fitness, bins, parking, door]
    meeting = await _held_session(session, cast, decided_topics, held_on)
    items = {item.topic_id: item for item in meeting.agenda}
    titles = {t.id: t.title for t in decided_topics}
    await record.save_minutes(session, cast.worker, meeting, {
        item.id: record.ItemMinutes(*MINUTES[titles[topic_id]]) for topic_id, item in items.items()
        if topic_id is not None}, publish=True)

    today = datetime.now(TIMEZONE).date()
    decided_on = today.isoformat()
    target = (today + timedelta(days=45)).isoformat()
    publicity_ends = utcnow() + timedelta(days=5)
    for topic in decided_topics:
        await deliberation.transition(session, topic, TopicState.deciding, cast.worker)
    await resolutions.record_resolution(
        session, cast.worker, roof, method=Method.consensus, outcome="agreed", decided_on=decided_on,
        meeting_agenda_item_id=items[roof.id].id,
        summary="同意对2号院屋顶进行防水维修，使用公共维修资金，雨季前完工。",
        actions=[resolutions.ActionDraft("更换2号院屋顶防水层并修复受损墙面", str(property_service.id), target),
                 resolutions.ActionDraft("协助办理公共维修资金使用手续", str(office.id), target)])
    await deliberation.transition(session, roof, TopicState.publicised, cast.worker,
                                  publicity_ends_at=publicity_ends)
    await resolutions.record_resolution(
        session, cast.worker, clutter, method=Method.consensus, outcome="agreed", decided_on=decided_on,
        meeting_agenda_item_id=items[clutter.id].id, summary="开展楼道堆物集中清理，物业提前一周通知，逾期统一清运。",
        actions=[resolutions.ActionDraft("张贴通知并集中清运楼道堆物", str(property_service.id), target)])
    await deliberation.transition(session, clutter, TopicState.publicised, cast.worker,
                                  publicity_ends_at=publicity_ends)
    await deliberation.transition(session, clutter, TopicState.in_action, cast.worker, "公示期满，交物业办理。")
    await resolutions.record_resolution(
        session, cast.worker, fitness, method=Method.consensus, outcome="not_agreed", decided_on=decided_on,
        meeting_agenda_item_id=items[fitness.id].id, summary="暂不在1号院空地增设健身器材，社区另行寻找合适场地。")
    await resolutions.record_resolution(
        session, cast.worker, door, method=Method.consensus, outcome="agreed", decided_on=decided_on,
        meeting_agenda_item_id=items[door.id].id, summary="物业更换3单元门禁主板，两周内修好。",
        actions=[resolutions.ActionDraft("更换1号院3单元门禁主板", str(property_service.id), target)])
    await resolutions.record_resolution(
        session, cast.worker, bins, method=Method.consensus, outcome="agreed", decided_on=decided_on,
        meeting_agenda_item_id=items[bins.id].id, summary="桶站搬到西侧空地，每天增加一次清运。",
        actions=[resolutions.ActionDraft("搬迁北门桶站并调整清运时间", str(office.id), target)])
    await deliberation.transition(session, bins, TopicState.publicised, cast.worker, publicity_ends_at=publicity_ends)
    await deliberation.transition(session, bins, TopicState.in_action, cast.worker)
    await deliberation.transition(session, bins, TopicState.evaluated, cast.worker, "桶站已搬迁，居民评价满意。")

    # An upcoming session on the lift topic (already on the agenda in the base demo), with sign-ups.
    lift = await _topic_titled(session, cast, "1号院加装电梯意向征集")
    await comments.post_comment(session, r1, lift, stance="support",
                                body="家里有八十岁的老人，上下楼太难了，非常需要电梯。")
    concern = await comments.post_comment(session, r2, lift, stance="oppose",
                                          body="一楼住户担心采光和噪音，希望先听听一楼的意见。")
    await comments.reply(session, r1, concern, body="可以请设计单位出个对一楼影响最小的方案。")
    await comments.post_comment(session, r3, lift, stance="neutral", body="费用怎么分摊？希望社区先出一个测算方案。")
    upcoming = (datetime.now(TIMEZONE) + timedelta(days=5)).replace(hour=19, minute=0, second=0, microsecond=0)
    next_meeting = await meetings.schedule(session, cast.worker, cast.community, meetings.MeetingDraft(
        title="1号院加装电梯议事会", starts_at=upcoming, ends_at=upcoming + timedelta(hours=2), capacity=20,
        place="多福巷社区党群服务中心一楼活动室", description="街道和设计单位将介绍加装电梯的流程与费用测算。",
        topic_ids=[lift.id], other_items=["费用分摊方案说明"]))
    next_meeting = await meeting_queries.get_meeting(session, next_meeting.id)
    for resident in (r1, r2):
        await meetings.sign_up(session, resident, next_meeting)

    # Work for the moderation queue: a comment held for a listed word, and a reported one.
    charging = await _topic_titled(session, cast, "北门电动车充电桩不够用")
    await comments.post_comment(session, r3, charging, stance="neutral", body="有需要代开发票的可以联系我。")
    rude = await comments.post_comment(session, r2, charging, stance="oppose", body="天天在楼下充电的那几家太自私了。")
    await comments.report_comment(session, r1, rude, "针对具体住户的指责，可能引发邻里矛盾。")
    lights = await _topic_titled(session, cast, "3号楼楼道灯坏了")
    duplicate = await _raise(session, cast, r3, "3号楼2单元楼道灯不亮", "public_facilities",
                             "2单元的楼道灯晚上不亮，老人摸黑上楼。", accept=False)
    await deliberation.merge(session, cast.worker, duplicate, lights, "与“3号楼楼道灯坏了”是同一件事，合并办理。")
    private = await comments.post_comment(session, r1, charging, stance="support",
                                          body="3号楼602的张先生天天飞线充电，电话139xxxx，大家去找他。")
    await moderation.hide(session, cast.worker, private, "含他人的个人信息，已隐藏。")
    await load_polls(session, cast, receipt_key, password)
