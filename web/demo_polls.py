"""Polls in the demo's 多福巷社区: an open poll deciding a topic, a closed secret poll whose ballot list
anyone can recount, and an owners' joint decision under Civil Code article 278 counted by floor area,
most of it on paper ballots entered by one worker and confirmed by another."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from consultation.accounts.models import Role, RoleGrant, User
from consultation.accounts.passwords import hash_password
from consultation.areas.models import Area, AreaLevel
from consultation.db import utcnow
from consultation.deliberation.models import Topic
from consultation.policy import Actor, Grant
from consultation.voting import ballots, paper, services
from consultation.voting.models import Eligibility, PollKind, PollVoter, RuleKind
from consultation.voting.queries import get_paper_batch, get_poll

if TYPE_CHECKING:
    from web.demo_story import Cast

SECOND_WORKER_PHONE = "13800000090"


async def load_polls(session: AsyncSession, cast: Cast, receipt_key: bytes, password: str) -> None:
    """``receipt_key`` must be the app's (settings.secret_key) so residents find their receipts."""
    community: Area = cast.community
    worker: Actor = cast.worker
    r1, r2, r3 = cast.residents[:3]
    second = User(phone=SECOND_WORKER_PHONE, display_name="陈海燕", password_hash=hash_password(password),
                  home_area_id=community.id)
    session.add(second)
    await session.flush()
    session.add(RoleGrant(user_id=second.id, role=Role.worker, area_id=community.id))
    second_worker = Actor(user_id=second.id, grants=(Grant(Role.worker, community.path),))
    now = utcnow()

    # 1. Open: the parking fee question the session handed to a vote (the topic waits in "deciding").
    parking_id = await session.scalar(select(Topic.id).where(Topic.title == "夜间临时停车收费调整",
                                                             Topic.community_id == community.id))
    parking = await session.get(Topic, parking_id)
    open_poll = await services.create_poll(session, worker, community, services.PollDraft(
        title="夜间临时停车收费是否上调", closes_at=now + timedelta(days=5),
        description="议事会建议：外来车辆夜间（22:00–次日7:00）临时停车费由每小时2元调整为每小时5元，本社区住户不受影响。",
        kind=PollKind.yes_no, eligibility=Eligibility.verified_residents, rule=RuleKind.simple_majority,
        secret=True, results_hidden_until_close=True, allow_change=True), topic=parking)
    open_poll = await services.open_poll(session, worker, await get_poll(session, open_poll.id))
    yes, no = (option.id for option in open_poll.options[:2])
    await ballots.cast_ballot(session, r1, open_poll, [yes], receipt_key=receipt_key)
    await ballots.cast_ballot(session, r3, open_poll, [no], receipt_key=receipt_key)

    # 2. Closed and secret: which opening hours the community room should keep; the ballot list is public.
    room = await services.create_poll(session, worker, community, services.PollDraft(
        title="社区活动室开放时间", closes_at=now + timedelta(days=3), kind=PollKind.single,
        description="活动室人手有限，只能选一个固定开放时段。",
        options=["工作日晚上 18:00–21:00", "周末全天 9:00–17:00", "每天下午 14:00–17:00"],
        eligibility=Eligibility.verified_residents, rule=RuleKind.simple_majority, secret=True))
    room = await services.open_poll(session, worker, await get_poll(session, room.id))
    evenings, weekends, _ = (option.id for option in room.options)
    for resident, choice in ((r1, weekends), (r2, weekends), (r3, evenings)):
        await ballots.cast_ballot(session, resident, room, [choice], receipt_key=receipt_key)
    await services.close_poll(session, worker, room, receipt_key=receipt_key)

    # 3. Owners of 2号院 decide to use the maintenance fund for the roof (art. 278 (6): 3/4 majorities).
    compound_id = await session.scalar(select(Area.id).where(Area.parent_id == community.id,
                                                             Area.level == AreaLevel.compound, Area.name == "2号院"))
    compound = await session.get(Area, compound_id)
    assert compound is not None
    fund = await services.create_poll(session, worker, compound, services.PollDraft(
        title="使用住宅专项维修资金维修2号院屋顶", closes_at=now + timedelta(days=2), kind=PollKind.yes_no,
        description="依据《民法典》第二百七十八条第一款第（六）项，使用建筑物及其附属设施的维修资金须经业主共同决定。",
        eligibility=Eligibility.owners, rule=RuleKind.art278_major, secret=False))
    fund = await services.open_poll(session, worker, await get_poll(session, fund.id))
    yes, no, abstain = (option.id for option in fund.options)
    roll = (await session.scalars(select(PollVoter).where(PollVoter.poll_id == fund.id)
                                  .order_by(PollVoter.id))).all()
    # Paper ballots collected door to door: all but three households took part, two said no, one abstained.
    choices = [[no], [no], [abstain]] + [[yes]] * (len(roll) - 6)
    entries = [paper.PaperDraft(voter.id, choice) for voter, choice in zip(roll, choices, strict=False)]
    batch = await paper.record_paper_batch(session, worker, fund, entries, note="入户收集的纸质表决票")
    await paper.confirm_paper_batch(session, second_worker, await get_paper_batch(session, fund, batch.id),
                                    receipt_key=receipt_key)
    await services.close_poll(session, worker, await get_poll(session, fund.id), receipt_key=receipt_key)
