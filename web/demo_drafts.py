"""Draft regulations in the demo: two real texts put to public comment, with comments in every state.

1. 上海市公共场所控制吸烟条例 (the complete published text, verbatim) as a draft of the demo city, version 1
   in a round that is open now (opened four days ago, closes in three weeks, open to everyone): comments
   by residents and representatives on articles, paragraphs, items and the whole draft, some with a
   proposed wording; answers of every outcome with reasons and some still pending; a campaign of ten
   identical and near-identical comments grouped and answered together; supports; themes; and one
   comment held for a listed sensitive word. It is the only complete local regulation among the texts
   the project holds (the others are national laws); no text of a Beijing regulation is held, so a
   Shanghai one stands in for the city's draft, under its real title.
2. 中华人民共和国个人信息保护法 with a closed round and a version 2, so the feedback report's "changed
   articles" and each commenter's "what happened to my comment" have content. Version 2 is the published
   law verbatim; version 1 is that text with four articles put back to a weaker wording (written for the
   demo, not the real 2020 draft), so the adopted answers point at the law's real final wording.

Everything goes through the services people use (``drafts.services``, ``rounds.services``), as the
drafter 周立法 (13800000001), the demo residents and the two district representatives. Time is the one
thing set directly: ``post_comment`` needs an open round and ``open_round`` refuses a closing time in the
past, so the closed round is opened, commented and answered like any other, and then its window, its
comments' and answers' times and the versions' dates are moved into the past with plain UPDATEs.

Idempotent: nothing is added when the first draft already exists in the city.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

import consultation.permissions  # noqa: F401 - registers every named permission (the CLI loads no app)
from consultation.accounts.models import Role, RoleGrant, User
from consultation.accounts.queries import actor_for
from consultation.areas.models import Area, AreaLevel
from consultation.clock import TIMEZONE, local_today
from consultation.db import utcnow
from consultation.drafts import services as drafts
from consultation.drafts.models import Draft, DraftVersion, Provision
from consultation.policy import Actor
from consultation.rounds import services as rounds
from consultation.rounds.models import CommentRound, DraftComment, Outcome
from consultation.rounds.queries import get_round

TEXTS = Path(__file__).resolve().parent / "demo_texts"
SMOKING_TITLE = "上海市公共场所控制吸烟条例"
PRIVACY_TITLE = "中华人民共和国个人信息保护法"

SMOKING_INSTRUCTIONS = (
    "本次公开征求意见针对条例草案全文。您可以对某一条、某一款或某一项发表意见，也可以对草案整体提出意见；"
    "有具体修改建议的，请在“建议修改为”一栏写明条文表述。\n"
    "意见征集截止后，起草部门将对每一条意见逐条研究，并在意见处理情况说明中公开答复。"
    "相同或相近的意见将合并答复。请勿在意见中填写电话、住址等个人信息。")
PRIVACY_INSTRUCTIONS = (
    "请对草案条文提出意见和建议，并尽量说明理由；有具体修改建议的，请写明建议的条文表述。"
    "征求意见结束后，将公布意见采纳情况和修改后的文本。")


@dataclass(frozen=True)
class Said:
    """One comment of the demo: who (a key of the cast), on which provision (a parser key such as
    ``a8/p2/i1``; None: the whole draft), the text, and what becomes of it."""

    who: str
    on: str | None
    body: str
    wording: str = ""
    outcome: Outcome | None = None  # None: still pending
    reason: str = ""
    changed: str | None = None  # the provision key in version 2 the answer links to
    themes: tuple[str, ...] = ()
    supporters: int = 0  # how many other people support it


# --- the open round: 上海市公共场所控制吸烟条例 ---------------------------------------------------------

E_CIGARETTES = "强烈建议把电子烟纳入控烟范围，电子烟的气雾同样危害他人健康，公共场所应当一并禁止。"
# Ten people sent the campaign text: five copies (punctuation differs) and five near-identical rewrites.
CAMPAIGN = [
    E_CIGARETTES,
    "强烈建议把电子烟纳入控烟范围！电子烟的气雾同样危害他人健康，公共场所应当一并禁止",
    "强烈建议把电子烟纳入控烟范围。 电子烟的气雾同样危害他人健康， 公共场所应当一并禁止。",
    E_CIGARETTES,
    "强烈建议：把电子烟纳入控烟范围，电子烟的气雾同样危害他人健康，公共场所应当一并禁止。",
    "强烈建议把电子烟纳入控烟范围，电子烟的气雾同样危害他人健康，公共场所应当一并禁止。支持！",
    "强烈建议把电子烟也纳入控烟范围，电子烟的气雾同样危害他人健康，公共场所应当一并禁止。",
    "建议把电子烟纳入控烟范围，电子烟的气雾同样危害他人健康，公共场所应当一并禁止。",
    "强烈建议把电子烟纳入控烟范围，电子烟的烟雾同样危害他人健康，公共场所应当一并禁止！",
    "强烈建议将电子烟纳入控烟范围，电子烟的气雾同样危害他人健康，公共场所应当一并禁止。",
]
HELD = "专业办证，健康证、从业资格证均可加急，需要的私信联系。"

SMOKING: list[Said] = [
    Said("r1", "a6/p1", "建议明确住宅楼的楼道、电梯间和地下车库也属于禁止吸烟的室内区域。我们楼里经常有人在楼道抽烟，"
         "烟味飘进家里，孩子一直咳嗽。",
         wording="室内公共场所、室内工作场所、公共交通工具内以及住宅楼的楼道、电梯轿厢等共用部位禁止吸烟。",
         outcome=Outcome.partly,
         reason="部分采纳。物业管理区域内的公共电梯已在第十六条第六项明确由住房城乡建设部门监督执法；楼道等共用部位"
                "属于业主共有，修改稿拟增加规定，鼓励业主大会在管理规约中约定控烟要求，暂不列为法定禁烟场所。",
         themes=("居民楼",), supporters=5),
    Said("r2", "a7/p1/i1", "上学放学时校门口家长聚在一起抽烟很普遍，孩子就站在旁边。"
         "建议把学校出入口周边一定范围也列入禁止吸烟区域。",
         wording="（一）托儿所、幼儿园、中小学校、少年宫、青少年活动中心、教育培训机构以及儿童福利院等以未成年人为主要"
                 "活动人群的公共场所，及其出入口周边十米范围内；",
         outcome=Outcome.not_adopted,
         reason="不予采纳。校门外多为城市道路，划定固定距离后难以确定边界和执法主体；可以通过第五条规定的宣传教育、"
                "学校和志愿者劝阻来解决，修改稿不作规定。",
         themes=("未成年人",), supporters=3),
    Said("rep_east", "a19", "个人罚款五十元到两百元偏低，起不到震慑作用。"
         "建议提高罚款数额，并对一年内多次违法的从重处罚。",
         wording="个人在禁止吸烟场所吸烟且不听劝阻的，由本条例第十六条规定的有关部门责令改正，并处以二百元以上一千元以下"
                 "的罚款；一年内被处罚两次以上的，从重处罚。",
         outcome=Outcome.partly,
         reason="部分采纳。修改稿拟将罚款下限提高到一百元；上限与本市同类行政处罚的幅度保持一致，暂不提高。",
         themes=("罚款标准",), supporters=4),
    Said("r3", "a8/p2/i1", "小区里的吸烟点就设在单元门口，进出都要穿过烟雾。建议明确吸烟点与建筑物出入口的最小距离。",
         wording="（一）远离人员聚集区域、行人必经的主要通道和建筑物出入口；",
         outcome=Outcome.adopted,
         reason="采纳。修改稿将在第八条第二款第一项增加远离建筑物出入口的要求，具体距离由市卫生健康部门会同有关部门规定。",
         themes=("吸烟点",), supporters=6),
    Said("r1", None, "希望条例通过后多到社区里宣传，很多老人不知道哪些地方不能抽烟，标识也看不清。",
         outcome=Outcome.already_provided,
         reason="第五条已规定健康促进委员会、有关单位和媒体开展控烟宣传教育，街道和社区可以依照该条组织宣传。",
         themes=("宣传教育",), supporters=2),
    Said("r5", "a14/p3", "打过12345举报饭店里有人抽烟，之后一直没有消息。"
         "建议规定有关部门在一定期限内处理举报并把结果告诉举报人。",
         wording="鼓励单位和个人通过“12345”市民服务热线或者相关行业监管热线，对违反本条例规定的行为进行举报。"
                 "有关部门应当在十五个工作日内处理，并将处理结果告知举报人。",
         themes=("执法",), supporters=7),
    Said("r6", None, "小区物业费年年涨，楼道灯坏了一个月也不修，希望政府管一管。",
         outcome=Outcome.out_of_scope,
         reason="该意见与本条例的调整范围无关，已转交属地街道按物业服务问题办理。"),
    Said("r7", "a16/p1/i6", "电梯里抽烟多在晚上，住建部门晚上没人来执法。建议物业发现后可以劝阻、留存证据并报告。",
         outcome=Outcome.already_provided,
         reason="第九条已规定禁止吸烟场所所在单位（包括物业服务企业）应当劝阻吸烟者，对不听劝阻的可以向监管部门举报。",
         themes=("执法", "居民楼")),
    Said("r8", "a4/p2", "机构改革后卫生计生部门已改名，建议主管部门的名称与现在的机构名称一致。",
         wording="卫生健康行政部门是本市公共场所控烟工作的主管部门。",
         outcome=Outcome.adopted, reason="采纳。修改稿将按机构改革后的名称统一表述为“卫生健康行政部门”。",
         themes=("部门职责",)),
    Said("rep_west", "a18", "单位罚款最高三万元，对大型娱乐场所来说偏低，建议对多次违法的单位提高上限并公开曝光。",
         themes=("罚款标准",), supporters=2),
    Said("r9", "a9/p1/i3", "各家贴的禁烟标识五花八门，建议全市统一设计，监管电话统一为12345，方便记忆。",
         themes=("宣传教育",)),
    Said("r10", "a13/p2", "希望把戒烟门诊纳入医保报销，很多人想戒烟但不愿意自己花钱。"),
    Said("r11", "a22", "吸烟室的具体要求由市政府规定，建议明确规定出台的期限，不要一直空着。"),
    Said("r2", "a10", "很多人不敢劝阻，怕起冲突。建议规定劝阻吸烟受到威胁的，公安机关应当及时处理。",
         outcome=Outcome.already_provided,
         reason="第二十条已规定不听劝阻且扰乱社会秩序或者阻碍执行职务的，由公安部门依照治安管理处罚法处罚。",
         themes=("执法",), supporters=3),
    Said("r12", "a6", "完全赞同第六条。"),
    Said("r13", "a6", "完全赞同第六条。"),
    Said("r14", None, "整体赞同。建议条例施行前给饭店、网吧等场所留出半年的准备时间。",
         outcome=Outcome.not_adopted,
         reason="不予采纳。本条例的禁烟要求多数已在现行规定中实行，经营场所不需要新的准备期。"),
]


# --- the closed round: 中华人民共和国个人信息保护法 ------------------------------------------------------

# Version 1 of the demo is the published law with these articles weaker (old text → the law's text).
PRIVACY_V1 = [
    ("个人信息处理者应当提供便捷的撤回同意的方式。", ""),
    ("应当保证决策的透明度和结果公平、公正，不得对个人在交易价格等交易条件上实行不合理的差别待遇。",
     "应当保证决策的透明度和结果公平、公正。"),
    ("遵守国家有关规定，并设置显著的提示标识。所收集的个人图像、身份识别信息只能用于维护公共安全的目的，不得用于其他目的；"
     "取得个人单独同意的除外。", "遵守国家有关规定。"),
    ("应当取得未成年人的父母或者其他监护人的同意。\n　　个人信息处理者处理不满十四周岁未成年人个人信息的，"
     "应当制定专门的个人信息处理规则。", "应当取得未成年人的父母或者其他监护人的同意。"),
]
PASSED = "（2021年8月20日第十三届全国人民代表大会常务委员会第三十次会议通过）\n"

PRICE = "同一个打车软件，老用户比新用户价格高，这就是大数据杀熟。建议法律明确禁止利用个人信息在价格上区别对待。"
PRICE_GROUP = [
    PRICE,
    "同一个打车软件，老用户比新用户价格高，这就是大数据杀熟！建议法律明确禁止利用个人信息在价格上区别对待",
    PRICE,
    "同一个购物软件，老用户比新用户价格高，这就是大数据杀熟。建议法律明确禁止利用个人信息在价格上区别对待。",
    "同一个打车软件，老用户比新用户价格高，这就是大数据杀熟。强烈建议法律明确禁止利用个人信息在价格上区别对待。",
]

PRIVACY: list[Said] = [
    Said("r1", "c2/s1/a26/p1", "小区门禁改成人脸识别后，物业说不录脸就不给开门卡。"
         "建议规定安装人脸识别设备必须设置明显的提示，收集的人脸信息只能用于安全，不能挪作他用。",
         wording="在公共场所安装图像采集、个人身份识别设备，应当为维护公共安全所必需，遵守国家有关规定，并设置显著的"
                 "提示标识。所收集的个人图像、身份识别信息只能用于维护公共安全的目的，不得用于其他目的。",
         outcome=Outcome.adopted,
         reason="采纳。第二十六条增加了设置显著提示标识的要求，并规定所收集的信息只能用于维护公共安全的目的。",
         changed="c2/s1/a26", themes=("人脸识别",), supporters=6),
    Said("r2", "c2/s1/a26/p1", "人脸识别设备收集的照片要规定保存多久，到期必须删除，不能一直存着。",
         outcome=Outcome.partly,
         reason="部分采纳。第二十六条增加了用途限制；保存期限适用第十九条“为实现处理目的所必要的最短时间”的一般规定，"
                "不再单独规定。",
         changed="c2/s1/a26", themes=("人脸识别",), supporters=2),
    Said("r3", "c2/s1/a15/p1", "手机软件点同意很容易，撤回同意却找不到入口。建议规定撤回同意的方式必须方便。",
         wording="基于个人同意处理个人信息的，个人有权撤回其同意。个人信息处理者应当提供便捷的撤回同意的方式。",
         outcome=Outcome.adopted, reason="采纳。第十五条第一款增加了个人信息处理者应当提供便捷的撤回同意方式的规定。",
         changed="c2/s1/a15", themes=("撤回同意",), supporters=4),
    Said("rep_east", "c2/s2/a31", "对未成年人的保护只规定监护人同意还不够，"
         "建议要求处理者为未成年人制定专门的处理规则。",
         wording="个人信息处理者处理不满十四周岁未成年人个人信息的，应当制定专门的个人信息处理规则。",
         outcome=Outcome.partly,
         reason="部分采纳。第三十一条增加一款，要求制定专门的个人信息处理规则；提高年龄标准的建议，与民法典的规定不一致，"
                "未采纳。",
         changed="c2/s2/a31", themes=("未成年人",), supporters=3),
    Said("r5", "c4/a47", "注销账号以后，平台应当把我的信息删掉。",
         outcome=Outcome.already_provided,
         reason="第四十七条第一款已规定处理目的已实现、停止提供服务或者个人撤回同意时，处理者应当主动删除个人信息。",
         themes=("删除权",)),
    Said("r6", None, "建议严厉打击电信诈骗，加重诈骗分子的刑罚。",
         outcome=Outcome.out_of_scope,
         reason="电信网络诈骗的刑事责任由刑法和反电信网络诈骗法规定，不属于本法调整的范围。"),
    Said("r7", "c2/s1/a13/p1", "处理个人信息都应当取得本人同意，不应当有例外。",
         outcome=Outcome.not_adopted,
         reason="不予采纳。订立履行合同、履行法定职责、应对突发公共卫生事件等情形下不取得同意处理个人信息是必要的，"
                "第十三条对此作了限定。"),
    Said("rep_west", "c7/a69/p1", "个人很难证明平台有过错，建议由平台承担举证责任。",
         outcome=Outcome.already_provided,
         reason="第六十九条第一款已规定过错推定：个人信息处理者不能证明自己没有过错的，应当承担损害赔偿等侵权责任。"),
    Said("r8", None, "建议本法通过后，有关部门制定物业服务企业处理业主个人信息的指引。",
         themes=("物业",)),
]


# --- loading -----------------------------------------------------------------------------------------

@dataclass
class Cast:
    city: Area
    drafter: Actor
    people: dict[str, Actor]  # r1…rN (residents, by account number) and rep_east, rep_west
    supporters: list[Actor]


async def _cast(session: AsyncSession) -> Cast:
    city = await session.scalar(select(Area).where(Area.level == AreaLevel.city).order_by(Area.id).limit(1))
    assert city is not None

    async def holders(role: Role) -> list[User]:
        return list(await session.scalars(select(User).join(RoleGrant, RoleGrant.user_id == User.id)
                                          .where(RoleGrant.role == role).order_by(User.id)))

    drafter = (await holders(Role.drafter))[0]
    residents = [await actor_for(session, user, None) for user in await holders(Role.resident)]
    representatives = [await actor_for(session, user, None) for user in await holders(Role.representative)]
    people = {f"r{n}": actor for n, actor in enumerate(residents, start=1)}
    people |= {"rep_east": representatives[0], "rep_west": representatives[-1]}
    return Cast(city, await actor_for(session, drafter, None), people, residents)


def _local(day_offset: int, hour: int) -> datetime:
    """A time of a day relative to today, China time."""
    return datetime.combine(local_today() + timedelta(days=day_offset), time(hour), TIMEZONE)


async def load_drafts(session: AsyncSession) -> bool:
    """The two drafts with their rounds; False (nothing added) when the demo already has them."""
    cast = await _cast(session)
    if await session.scalar(select(Draft.id).where(Draft.area_id == cast.city.id, Draft.title == SMOKING_TITLE)):
        return False
    await _privacy(session, cast)
    await _smoking(session, cast)
    return True


async def _draft(session: AsyncSession, cast: Cast, title: str, text: str, source: str
                 ) -> tuple[Draft, DraftVersion]:
    draft = await drafts.create_draft(session, cast.drafter, cast.city, title, text, source)
    version = await session.scalar(select(DraftVersion).where(DraftVersion.draft_id == draft.id))
    assert version is not None
    return draft, version


async def _keys(session: AsyncSession, version_id: int) -> dict[str, int]:
    rows = await session.execute(select(Provision.key, Provision.id).where(Provision.version_id == version_id))
    return {key: provision_id for key, provision_id in rows.all()}


async def _comment(session: AsyncSession, cast: Cast, round_: CommentRound, keys: dict[str, int], said: Said,
                   token: str) -> DraftComment:
    return await rounds.post_comment(session, cast.people[said.who], round_,
                                     provision_id=keys[said.on] if said.on else None, body=said.body,
                                     proposed_wording=said.wording, client_token=token)


async def _process(session: AsyncSession, cast: Cast, draft: Draft, round_: CommentRound, comment: DraftComment,
                   said: Said, later: dict[str, int], supporter_offset: int) -> None:
    """Supports, themes and the answer of a lead, as the drafter and the other residents do it."""
    others = [a for a in cast.supporters if a.user_id != comment.author_id]
    for n in range(said.supporters):
        await rounds.set_support(session, others[(supporter_offset + n) % len(others)], round_, comment, True)
    if said.themes:
        await rounds.set_themes(session, cast.drafter, draft, round_, comment, said.themes)
    if said.outcome is not None:
        await rounds.answer(session, cast.drafter, draft, round_, comment, outcome=said.outcome.value,
                            reason=said.reason, changed_provision_id=later[said.changed] if said.changed else None)


async def _spread(session: AsyncSession, ids: list[int], start: datetime, end: datetime) -> None:
    """Comments sent over a window rather than all in the second the demo was loaded."""
    step = (end - start) / (len(ids) + 1)
    for n, comment_id in enumerate(ids, start=1):
        await session.execute(update(DraftComment).where(DraftComment.id == comment_id)
                              .values(created_at=start + step * n))


async def _smoking(session: AsyncSession, cast: Cast) -> None:
    text = (TEXTS / "shanghai_smoking_control.txt").read_text(encoding="utf-8")
    draft, version = await _draft(session, cast, SMOKING_TITLE, text, "上海市公共场所控制吸烟条例.txt")
    opens = _local(-4, 9)
    round_ = await rounds.open_round(session, cast.drafter, await _with_area(session, draft), version,
                                     opens_at=opens, closes_at=_local(21, 18), audience="everyone", area_ids=[],
                                     instructions=SMOKING_INSTRUCTIONS)
    round_ = await get_round(session, round_.id)
    keys = await _keys(session, version.id)
    posted: list[tuple[DraftComment, Said]] = []
    for n, said in enumerate(SMOKING):
        posted.append((await _comment(session, cast, round_, keys, said, f"demo-smoking-{n}"), said))
    # The campaign: ten residents send the e-cigarette text on 第二条第二款; one answer covers them all.
    campaigners = [f"r{n}" for n in range(15, 25)]
    campaign = [await _comment(session, cast, round_, keys, Said(who, "a2/p2", body), f"demo-campaign-{n}")
                for n, (who, body) in enumerate(zip(campaigners, CAMPAIGN, strict=True))]
    held = await _comment(session, cast, round_, keys, Said("r4", None, HELD), "demo-held")
    lead = Said("r15", "a2/p2", E_CIGARETTES, outcome=Outcome.adopted, themes=("电子烟",), supporters=9,
                reason="采纳。电子烟的气雾同样危害他人健康，修改稿将在第二条明确本条例所称吸烟包括使用电子烟。")
    for n, (comment, said) in enumerate([*posted, (campaign[0], lead)]):
        await _process(session, cast, draft, round_, comment, said, {}, n)
    await _spread(session, [c.id for c, _ in posted] + [c.id for c in campaign] + [held.id], opens, utcnow())


async def _privacy(session: AsyncSession, cast: Cast) -> None:
    law = (TEXTS / "personal_information_protection_law.txt").read_text(encoding="utf-8")
    first = law.replace(PASSED, "")
    for final, earlier in PRIVACY_V1:
        assert final in first, final
        first = first.replace(final, earlier)
    draft, version = await _draft(session, cast, PRIVACY_TITLE, first, "个人信息保护法（草案）.txt")
    draft = await _with_area(session, draft)
    opens, closes = _local(-75, 9), _local(-45, 18)
    round_ = await rounds.open_round(session, cast.drafter, draft, version, opens_at=opens,
                                     closes_at=utcnow() + timedelta(hours=1), audience="everyone", area_ids=[],
                                     instructions=PRIVACY_INSTRUCTIONS)
    round_ = await get_round(session, round_.id)
    keys = await _keys(session, version.id)
    posted = [(await _comment(session, cast, round_, keys, said, f"demo-privacy-{n}"), said)
              for n, said in enumerate(PRIVACY)]
    group = [await _comment(session, cast, round_, keys, Said(f"r{n + 9}", "c2/s1/a24", body), f"demo-price-{n}")
             for n, body in enumerate(PRICE_GROUP)]
    second = await drafts.add_version(session, cast.drafter, draft, law, "个人信息保护法.txt")
    later = await _keys(session, second.id)
    lead = Said("r9", "c2/s1/a24", PRICE, outcome=Outcome.adopted, changed="c2/s1/a24", themes=("大数据杀熟",),
                supporters=5, reason="采纳。第二十四条第一款增加规定：不得对个人在交易价格等交易条件上"
                                     "实行不合理的差别待遇。")
    for n, (comment, said) in enumerate([*posted, (group[0], lead)]):
        await _process(session, cast, draft, round_, comment, said, later, n)
    # Now move the round into the past: it ran for a month, was answered, then version 2 came out.
    ids = [c.id for c, _ in posted] + [c.id for c in group]
    await _spread(session, ids, opens, closes)
    answered = _local(-30, 10)
    await session.execute(update(DraftComment).where(DraftComment.round_id == round_.id,
                                                     DraftComment.outcome.is_not(None))
                          .values(answered_at=answered))
    await session.execute(update(CommentRound).where(CommentRound.id == round_.id)
                          .values(opens_at=opens, closes_at=closes, created_at=opens - timedelta(days=1)))
    await session.execute(update(DraftVersion).where(DraftVersion.id == version.id)
                          .values(created_at=opens - timedelta(days=2)))
    await session.execute(update(DraftVersion).where(DraftVersion.id == second.id).values(created_at=answered))
    await session.execute(update(Draft).where(Draft.id == draft.id).values(created_at=opens - timedelta(days=2)))


async def _with_area(session: AsyncSession, draft: Draft) -> Draft:
    """The draft with its area loaded (the rounds' permission reads it)."""
    await session.refresh(draft, ["area"])
    return draft
