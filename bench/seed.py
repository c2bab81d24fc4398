"""Bulk seeding: rows are generated in memory with their ids and streamed with PostgreSQL ``COPY``
(``asyncpg.copy_records_to_table``), never through the app or one INSERT per row.

Columns the generator leaves out get the model's Python default (``utcnow``, ``0``, ``False``), so the
rows look like the ones the app writes. Sequences are moved past the seeded ids at the end.
"""

from __future__ import annotations

import enum
import importlib
import json
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import JSON, Table
from sqlalchemy import Enum as SAEnum

import consultation.models  # noqa: F401 - the complete metadata
from bench.scales import Scale
from bench.seed_decisions import Decisions, seed_decisions
from consultation.clock import local_today
from consultation.db import Base

PASSWORD = "bench-Password-2024"  # noqa: S105 - every seeded account shares it (hashed once)
CHUNK = 20_000
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)

PLACES = ["3号楼", "东门", "南门停车场", "小区花园", "2单元", "社区活动中心", "菜市场旁", "幼儿园门口", "北区",
          "健身广场", "地下车库", "垃圾站", "老年活动室", "7号楼", "西侧围墙", "快递柜"]
ISSUES = [
    ("lifts", "加装电梯", "老人上下楼困难，希望尽快加装电梯，费用分摊方案请大家讨论。"),
    ("parking", "停车位紧张", "晚上车位不够，消防通道经常被占，建议重新规划停车位并错时共享。"),
    ("sanitation", "垃圾分类", "垃圾桶满溢、分类投放点气味大，希望增加清运次数并调整位置。"),
    ("charging", "充电桩安装", "电动车飞线充电有安全隐患，建议在车棚集中安装充电桩。"),
    ("public_facilities", "路灯损坏", "夜间照明不足，路灯坏了很久没人修，老人孩子出行不安全。"),
    ("public_facilities", "健身器材维修", "健身器材松动生锈，存在安全隐患，希望检修或更换。"),
    ("property_services", "物业服务", "物业费上涨但服务没有改善，希望公开收支并召开业主议事会。"),
    ("neighbours", "噪音扰民", "装修和广场舞噪音影响休息，希望约定时间段并张贴公约。"),
    ("sanitation", "绿化带维护", "绿化带杂草丛生、蚊虫多，希望定期修剪并补种。"),
    ("other", "快递柜设置", "快递柜太少，包裹堆在门口容易丢失，建议增设智能快递柜。"),
]
COMMENT_TEXTS = ["赞同，楼里老人确实很需要。", "费用怎么分摊？低楼层住户意见也要听取。", "建议先做个问卷调查。",
                 "我们单元愿意先试点。", "希望物业尽快给出答复。", "晚上九点以后噪音确实影响休息。",
                 "支持！", "可以参考隔壁小区的做法。", "施工期间的安全要考虑周全。", "请社区工作者协调一下。"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华玉兰"

# Topic states and their share of topics, so every group of the area page has rows.
STATE_MIX = [("collecting", 35), ("triage", 10), ("deliberating", 15), ("deciding", 5), ("decided_agreed", 8),
             ("publicised", 5), ("in_action", 8), ("evaluated", 4), ("declined", 5), ("referred", 3),
             ("decided_not_agreed", 2)]


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def _default(column: Any) -> Any:
    default = column.default
    if default is None:
        return None
    if default.is_scalar:
        return default.arg
    if default.is_callable:
        try:
            return default.arg(None)
        except TypeError:
            return default.arg()
    return None


def _prepare(table: Table, rows: Iterable[dict[str, Any]]) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
    first_row: dict[str, Any] | None = None
    iterator = iter(rows)
    try:
        first_row = next(iterator)
    except StopIteration:
        return [], iter(())
    # Columns with only a server default are left to the server when the generator does not set them.
    columns = [c for c in table.columns if c.name in first_row or c.server_default is None]
    names = [c.name for c in columns]
    is_json = {c.name for c in columns if isinstance(c.type, JSON)}
    # SQLAlchemy stores an enum class's member names (ARTICLE), not their values, unless told otherwise
    by_name = {c.name for c in columns if isinstance(c.type, SAEnum) and c.type.enum_class is not None
               and c.type.values_callable is None}
    defaults = {c.name: c for c in columns}

    def convert(row: dict[str, Any]) -> tuple[Any, ...]:
        values = []
        for name in names:
            value = row[name] if name in row else _default(defaults[name])
            if isinstance(value, enum.Enum):
                value = value.name if name in by_name else value.value
            elif name in is_json and value is not None:
                value = json.dumps(value, ensure_ascii=False)
            values.append(value)
        return tuple(values)

    def all_rows() -> Iterator[tuple[Any, ...]]:
        assert first_row is not None
        yield convert(first_row)
        for row in iterator:
            yield convert(row)

    return names, all_rows()


async def copy_rows(conn: asyncpg.Connection, table_name: str, rows: Iterable[dict[str, Any]]) -> int:
    """COPY ``rows`` into ``table_name`` in chunks; returns how many."""
    table = _table(table_name)
    names, records = _prepare(table, rows)
    count = 0
    chunk: list[tuple[Any, ...]] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= CHUNK:
            await conn.copy_records_to_table(table_name, records=chunk, columns=names)
            count += len(chunk)
            chunk = []
    if chunk:
        await conn.copy_records_to_table(table_name, records=chunk, columns=names)
        count += len(chunk)
    return count


@dataclass
class Seeded:
    """What the scenarios need to know about the seeded data."""

    city_id: int = 0
    community_ids: list[int] = field(default_factory=list)
    compound_ids: list[int] = field(default_factory=list)
    topic_ids: list[int] = field(default_factory=list)
    hot_topic_id: int = 0
    hot_topic_comments: int = 0
    comments: int = 0
    comments_note: str = ""
    proposer_phone: str = ""  # a resident who may propose topics in ``proposer_community_id``
    proposer_community_id: int = 0
    worker_phone: str = ""
    search_terms: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    round: SeededRound | None = None  # the open draft comment round (scales with round_comments)
    decisions: Decisions | None = None  # sessions, resolutions and agreed actions of the decided topics


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _states(rng: random.Random, n: int) -> list[str]:
    names = [s for s, _ in STATE_MIX]
    weights = [w for _, w in STATE_MIX]
    return rng.choices(names, weights=weights, k=n)


async def seed(conn: asyncpg.Connection, scale: Scale, password_hash: str, *, seed_value: int = 6) -> Seeded:
    rng = random.Random(seed_value)
    started = time.perf_counter()
    out = Seeded()
    counts: dict[str, int] = {}

    # --- the area tree ---------------------------------------------------------------------------
    areas: list[dict[str, Any]] = []
    next_id = iter(range(1, 10**9))

    def area(parent: dict[str, Any] | None, level: str, name: str) -> dict[str, Any]:
        area_id = next(next_id)
        path = (parent["path"] if parent else "/") + f"{area_id}/"
        row = {"id": area_id, "parent_id": parent["id"] if parent else None, "level": level, "name": name,
               "code": f"B{area_id:07d}", "path": path, "created_at": EPOCH}
        areas.append(row)
        return row

    city = area(None, "city", "滨江市")
    out.city_id = city["id"]
    communities: list[dict[str, Any]] = []
    compounds: dict[int, list[int]] = {}
    streets: list[dict[str, Any]] = []
    for d in range(scale.districts):
        district = area(city, "district", f"第{d + 1}区")
        for s in range(scale.streets_per_district):
            street = area(district, "street", f"{district['name']}{s + 1}街道")
            streets.append(street)
            for c in range(scale.communities_per_street):
                community = area(street, "community", f"{street['name']}{c + 1}社区")
                communities.append(community)
                compounds[community["id"]] = [
                    area(community, "compound", f"{k + 1}号院")["id"] for k in range(scale.compounds_per_community)]
    counts["area"] = await copy_rows(conn, "area", areas)
    out.community_ids = [c["id"] for c in communities]
    out.compound_ids = [i for ids in compounds.values() for i in ids]

    # --- households and residents (round-robin over communities) -----------------------------------
    n_comm = len(communities)
    households = []
    household_ids = iter(range(1, 10**9))
    household_of_resident: list[int] = []
    for i in range(scale.residents):
        community = communities[i % n_comm]
        if i // n_comm % 2 == 0:  # two residents per household
            hid = next(household_ids)
            households.append({"id": hid, "community_id": community["id"],
                               "compound_id": rng.choice(compounds[community["id"]]) if compounds[community["id"]]
                               else None,
                               "address": f"{hid}号{(hid % 6) + 1}单元{(hid % 30) + 101}室", "created_at": EPOCH})
        household_of_resident.append(households[-1]["id"])
    counts["household"] = await copy_rows(conn, "household", households)

    users: list[dict[str, Any]] = []
    residents_by_community: dict[int, list[int]] = {c["id"]: [] for c in communities}
    for i in range(scale.residents):
        uid = i + 1
        community = communities[i % n_comm]
        verified = rng.random() < 0.8
        users.append({"id": uid, "phone": f"139{uid:08d}", "password_hash": password_hash, "display_name": _name(rng),
                      "home_area_id": community["id"], "household_id": household_of_resident[i],
                      "verified_at": EPOCH if verified else None, "created_at": EPOCH + timedelta(seconds=uid)})
        residents_by_community[community["id"]].append(uid)
    # one community worker per community, one per street, and one administrator
    staff_grants: list[dict[str, Any]] = []
    uid = scale.residents
    for area_row in communities + streets:
        uid += 1
        users.append({"id": uid, "phone": f"138{uid:08d}", "password_hash": password_hash,
                      "display_name": _name(rng), "verified_at": EPOCH, "created_at": EPOCH})
        staff_grants.append({"id": len(staff_grants) + 1, "user_id": uid, "role": "worker", "area_id": area_row["id"],
                             "created_at": EPOCH})
    uid += 1
    users.append({"id": uid, "phone": f"137{uid:08d}", "password_hash": password_hash, "display_name": "管理员",
                  "verified_at": EPOCH, "created_at": EPOCH})
    staff_grants.append({"id": len(staff_grants) + 1, "user_id": uid, "role": "admin", "created_at": EPOCH})
    counts["user_account"] = await copy_rows(conn, "user_account", users)
    counts["role_grant"] = await copy_rows(conn, "role_grant", staff_grants)
    out.worker_phone = users[scale.residents]["phone"]  # the worker of the first community
    first = communities[0]["id"]
    out.proposer_phone = f"139{residents_by_community[first][0]:08d}"
    out.proposer_community_id = first

    # --- topics, their timeline, co-signs and follows -----------------------------------------------
    states = _states(rng, scale.topics)
    topics: list[dict[str, Any]] = []
    transitions: list[dict[str, Any]] = []
    cosigns: list[dict[str, Any]] = []
    follows: list[dict[str, Any]] = []
    for t in range(scale.topics):
        tid = t + 1
        community = communities[t % n_comm]
        people = residents_by_community[community["id"]]
        author = people[t // n_comm % len(people)]
        category, issue, text = ISSUES[t % len(ISSUES)]
        place = PLACES[(t // len(ISSUES)) % len(PLACES)]
        created = EPOCH + timedelta(minutes=7 * tid)
        state = states[t]
        n_cosigns = min(len(people) - 1, rng.randint(0, 8))
        topics.append({"id": tid, "community_id": community["id"],
                       "area_id": rng.choice([community["id"], *compounds[community["id"]]]), "author_id": author,
                       "title": f"{place}{issue}问题（{tid}）", "description": f"{place}：{text}",
                       "category": category, "place": place, "state": state, "cosign_count": n_cosigns,
                       "created_at": created, "updated_at": created + timedelta(hours=rng.randint(1, 500))})
        transitions.append({"topic_id": tid, "from_state": None, "to_state": "proposed", "actor_id": author,
                            "actor_role": "proposer", "created_at": created})
        transitions.append({"topic_id": tid, "from_state": "proposed", "to_state": "collecting",
                            "actor_role": "system", "created_at": created})
        if state != "collecting":
            transitions.append({"topic_id": tid, "from_state": "collecting", "to_state": state,
                                "actor_role": "worker", "created_at": created + timedelta(days=3),
                                "reason": "社区工作者根据居民意见推进。" if state not in ("triage",) else None})
        signers = [p for p in people if p != author][:n_cosigns]
        cosigns += [{"topic_id": tid, "user_id": p, "created_at": created} for p in signers]
        follows += [{"topic_id": tid, "user_id": p, "created_at": created} for p in [author, *signers]]
    for rows in (transitions, cosigns, follows):
        for i, row in enumerate(rows, 1):
            row["id"] = i
    counts["topic"] = await copy_rows(conn, "topic", topics)
    counts["topic_transition"] = await copy_rows(conn, "topic_transition", transitions)
    counts["topic_cosign"] = await copy_rows(conn, "topic_cosign", cosigns)
    counts["topic_follow"] = await copy_rows(conn, "topic_follow", follows)
    out.topic_ids = [t["id"] for t in topics]
    out.hot_topic_id = topics[0]["id"]
    out.search_terms = sorted({issue for _, issue, _ in ISSUES} | {"电梯", "停车", "充电桩", "物业", "垃圾"})

    # --- units, sessions, resolutions and agreed actions ---------------------------------------------
    workers = {area_row["id"]: scale.residents + 1 + i for i, area_row in enumerate(communities + streets)}
    out.decisions = await seed_decisions(conn, copy_rows, rng, topics=topics, communities=communities,
                                         streets=streets, city_id=city["id"],
                                         residents_by_community=residents_by_community, worker_of=workers,
                                         today=local_today())
    counts.update(out.decisions.counts)

    # --- comments: only once the comments capability exists -----------------------------------------
    seeder = comment_seeder()
    if not isinstance(seeder, str) and await conn.fetchval("SELECT to_regclass('comment')") is None:
        seeder = "the comment model exists but the migration has no comment table yet: topic page without comments"
    if isinstance(seeder, str):
        out.comments_note = seeder
    else:
        counts_comments, hot = await seeder(conn, scale, topics, residents_by_community, rng)
        out.comments, out.hot_topic_comments = counts_comments, hot
        counts["comment"] = counts_comments

    if scale.round_comments:
        out.round = await seed_round(conn, scale, rng, counts, first_user_id=uid + 1, password_hash=password_hash)

    await _advance_sequences(conn)
    await conn.execute("ANALYZE")
    out.counts = counts
    out.seconds = time.perf_counter() - started
    return out


CommentSeeder = Callable[..., Any]


def comment_seeder() -> CommentSeeder | str:
    """The comment seeder when ``consultation.comments`` has a comment table this harness knows how to
    fill; otherwise the reason the topic page is measured without comments."""
    try:
        importlib.import_module("consultation.comments.models")
    except ImportError:
        return "consultation.comments is not available yet: the topic page is measured without comments"
    table = Base.metadata.tables.get("comment")
    if table is None:
        return "consultation.comments has no 'comment' table yet: the topic page is measured without comments"
    required = {c.name for c in table.columns
                if not c.nullable and c.default is None and c.server_default is None and not c.primary_key}
    known = {"topic_id", "area_id", "author_id", "body", "created_at", "updated_at", "depth", "stance", "parent_id",
             "root_id", "status"}
    if not required <= known:
        missing = ", ".join(sorted(required - known))
        return (f"the comment table needs columns the harness does not fill yet ({missing}): the topic page"
                " is measured without comments; extend bench/seed.py")

    async def seed_comments(conn: asyncpg.Connection, scale: Scale, topics: list[dict[str, Any]],
                            residents: dict[int, list[int]], rng: random.Random) -> tuple[int, int]:
        names = {c.name for c in table.columns}
        per_topic = max(0, (scale.comments - scale.comments_on_hot_topic) // max(1, len(topics) - 1))
        stances = ["support", "support", "neutral", "oppose"]

        def rows() -> Iterator[dict[str, Any]]:
            cid = 0
            for index, topic in enumerate(topics):
                n = scale.comments_on_hot_topic if index == 0 else per_topic
                people = residents[topic["community_id"]]
                root: int | None = None
                for k in range(n):
                    cid += 1
                    reply = k % 4 == 3 and root is not None  # every fourth comment answers the thread above
                    row = {"id": cid, "topic_id": topic["id"], "area_id": topic["community_id"],
                           "author_id": people[k % len(people)], "body": COMMENT_TEXTS[(cid + k) % len(COMMENT_TEXTS)],
                           "created_at": topic["created_at"] + timedelta(minutes=k + 1), "status": "visible",
                           "depth": 2 if reply else 1, "stance": None if reply else stances[k % len(stances)],
                           "parent_id": root if reply else None, "root_id": root if reply else None}
                    if not reply:
                        root = cid
                    row["updated_at"] = row["created_at"]
                    yield {key: value for key, value in row.items() if key in names}

        count = await copy_rows(conn, "comment", rows())
        return count, scale.comments_on_hot_topic

    return seed_comments


async def _advance_sequences(conn: asyncpg.Connection) -> None:
    for table in Base.metadata.sorted_tables:
        if "id" not in table.columns or not table.columns["id"].autoincrement:
            continue
        sequence = await conn.fetchval("SELECT pg_get_serial_sequence($1, 'id')", table.name)
        if sequence:
            await conn.execute(f"SELECT setval('{sequence}', COALESCE((SELECT max(id) FROM \"{table.name}\"), 0) + 1, "  # noqa: S608
                               "false)")


# --- a draft comment round ---------------------------------------------------------------------------
# One draft (the published personal information protection law, the demo's text) with version 1 in a
# round open to everyone, and ``scale.round_comments`` comments on it, written as the app writes them:
# each comment's norm_hash and band columns come from ``consultation.rounds.similarity.Fingerprint``;
# about 30% belong to campaigns (identical and near-identical texts on one article, each group led by
# its first comment with the group's true size); half the groups are answered (the whole group alike);
# leads carry themes and supports; a few comments are held for a listed word.

ROUND_TEXT = Path(__file__).resolve().parent.parent / "web" / "demo_texts" / "personal_information_protection_law.txt"
ROUND_TITLE = "中华人民共和国个人信息保护法（草案）"
CAMPAIGN_SHARE = 0.3
WHOLE_DRAFT_SHARE = 0.08
PARAGRAPH_SHARE = 0.3
HELD_SHARE = 0.003
REPRESENTATIVE_SHARE = 0.01
ANSWERED_SHARE = 0.5
THEMED_SHARE = 0.5
HELD_WORD = "代开发票"  # one of consultation.comments.words.SAMPLE_WORDS

OPENERS = ["建议", "我认为", "作为一名普通居民，我觉得", "看了草案，", "本条规定很有必要，但", "这一条",
           "从基层工作的角度看，", "家里老人经常遇到这种情况，", "作为家长，我认为", "在小区里经常看到，",
           "我是做社区工作的，", "身边很多人反映，", "我是开小店的，", "作为一名教师，我觉得",
           "我在医院工作，", "退休以后发现，"]
CONCERNS = ["手机号经常被泄露，每天都接到推销电话", "小区物业要求登记身份证复印件",
            "快递面单上的姓名电话一览无余", "很多手机软件不同意授权就不能用", "注销账号的入口很难找到",
            "小区门口的人脸识别设备越装越多", "孩子上网课用的软件收集了很多信息",
            "刚做完体检就接到推销保健品的电话", "平台根据消费记录给不同的人不同价格",
            "租房中介转卖租客的联系方式", "理财推销电话知道我在哪家银行开户", "停车场小程序要求读取通讯录",
            "单位把员工的身份证号码贴在公告栏里", "社区团购群里有人晒别人的收货地址",
            "健身房强制录入指纹才能进门", "网购退货后一直收到同类商品的短信", "装修公司在我交房当天就打来电话",
            "学校要求家长在多个平台重复填报信息", "老年人不会设置隐私权限", "打车软件在行程结束后仍在获取位置",
            "求职网站把简历转给了不相干的公司", "银行卡信息被人用来开通了网贷",
            "医院挂号要求填写与看病无关的信息", "商场的摄像头能识别顾客身份",
            "外卖骑手的电话号码也会被顾客泄露", "电梯广告屏装了摄像头", "社区志愿者用个人微信收集居民信息",
            "二手平台卖家能看到买家的真实姓名", "物业群里公布欠费业主的门牌号", "共享充电宝要求授权个人信息"]
DETAILS = ["上个月就遇到过三次", "老人尤其容易上当", "去年我们楼里就有人被骗", "投诉了也没有下文",
           "不知道该找哪个部门", "这种情况在老旧小区很普遍", "很多人都是敢怒不敢言", "问了客服也说不清楚",
           "周围的邻居都有同感", "已经影响到正常生活", "小孩子根本分辨不了", "出了问题很难取证",
           "报警后说不归他们管", "删除了又重新出现", "费了很大功夫才处理好", "一些小商户也在这么做"]
SUGGESTIONS = ["建议明确处理者在收集前的告知义务", "建议规定违法收集的要从重处罚",
               "建议设立统一的投诉举报渠道", "建议明确各行业主管部门的监管职责",
               "建议增加对老年人的特别保护条款", "建议规定定期向社会公开执法情况",
               "建议明确个人可以要求查询信息的来源", "建议规定处理者必须提供人工客服渠道",
               "建议把赔偿标准写得更具体", "建议允许检察机关提起公益诉讼", "建议对小微企业给出简化的合规指引",
               "建议明确敏感个人信息的范围", "建议规定收集的信息必须在境内存储",
               "建议要求处理者每年开展合规审计", "建议把物业服务企业明确列入监管对象",
               "建议规定撤回同意后必须立即停止处理", "建议明确委托处理时受托人的责任",
               "建议对人脸识别设置单独的同意程序", "建议规定默认设置必须是最少收集",
               "建议明确举报人的奖励和保护措施"]
CLOSINGS = ["", "以上意见供参考。", "希望能够采纳。", "谢谢！", "请立法部门考虑。", "盼复。", "期待早日出台。"]
CAMPAIGNS = ["强烈建议禁止物业和小区强制采集人脸信息，必须保留刷卡、密码等其他开门方式。",
             "坚决反对手机软件不授权就不让用，建议法律明确禁止强制索取与服务无关的权限。",
             "建议对大数据杀熟明确规定罚款标准，同样的商品老用户不能比新用户付更多的钱。",
             "建议建立骚扰电话一键投诉机制，买卖公民个人信息的一律追究刑事责任。",
             "强烈要求明确注销账号以后平台必须在十五日内删除全部个人信息并告知本人。",
             "建议未成年人的个人信息一律不得用于商业推送和精准营销，违者从重处罚。",
             "建议规定快递面单必须隐藏收件人的完整姓名、电话号码和详细地址。",
             "建议公共场所安装的摄像头必须设置明显提示，收集的图像不得用于其他目的。"]
THEMES = ["人脸识别", "骚扰电话", "未成年人", "大数据杀熟", "物业", "注销删除", "执法监管", "老年人", "快递",
          "赔偿"]
REASONS = {
    "adopted": ["采纳。修改稿已对本条作出相应修改。", "采纳，已在修改稿中增加相关规定。"],
    "partly": ["部分采纳。修改稿增加了原则性规定，具体标准由有关部门另行制定。",
               "部分采纳，其余意见在配套规定中研究。"],
    "not_adopted": ["不予采纳。该建议与上位法的规定不一致。", "不予采纳。现行规定已能处理，不宜再作细化。"],
    "already_provided": ["草案其他条款已有规定。", "该内容已在本法第五章作出规定。"],
    "out_of_scope": ["该意见不属于本法的调整范围，已转交有关部门研究。", "该意见涉及具体个案，已转交属地处理。"],
}
OUTCOME_MIX = [("adopted", 15), ("partly", 15), ("not_adopted", 30), ("already_provided", 25), ("out_of_scope", 15)]


@dataclass
class SeededRound:
    """What the round scenarios need: the round, its most commented article, who runs it, its targets."""

    draft_id: int
    round_id: int
    hot_article_id: int  # the article with the most comments (the article page scenario reads it)
    hot_article_comments: int
    comments: int
    groups: int  # leads (a campaign counts once)
    article_ids: list[int]  # every article of the version (the surge comments on them)
    drafter_id: int  # runs the round (the staff queue scenario signs in as them)
    drafter_phone: str
    residents: int  # accounts 1..residents are residents (the surge signs them in)
    surge_comments: int = 0  # the scale's comment surge: how many comments, by count or for --duration
    surge_by_count: bool = False


@dataclass
class _Slot:
    """A comment before it gets its id: where it goes and which text (a campaign's or its own)."""

    article: int | None  # index into the articles; None: the whole draft
    campaign: int | None = None


def comment_body(rng: random.Random) -> str:
    """A resident's comment put together from a few parts (the concern, a detail, a suggestion)."""
    return (rng.choice(OPENERS) + rng.choice(CONCERNS) + "，" + rng.choice(DETAILS) + "。" + rng.choice(SUGGESTIONS)
            + "。" + rng.choice(CLOSINGS))


def campaign_variants(base: str) -> list[str]:
    """Copies of a campaign text as people send them: identical ones (punctuation and spacing differ) and
    near-identical rewrites that the app's grouping recognises (a shared SimHash band and Jaccard above
    the threshold, checked here with the app's own ``Fingerprint``)."""
    from consultation.rounds.similarity import Fingerprint

    lead = Fingerprint(base)
    candidates = [base, base.replace("，", " "), base[:-1] + "！", base + "支持！", "附议：" + base,
                  base + "请采纳。", base.replace("建议", "强烈建议", 1), "我也" + base, base[:-1] + "，请认真考虑。",
                  base.replace("，", "、", 1)]
    found = []
    for text in candidates:
        print_ = Fingerprint(text)
        shares_band = any(a == b for a, b in zip(print_.bands, lead.bands, strict=True))
        if print_.hash == lead.hash or (shares_band and print_.near(base) is not None):
            found.append(text)
    return found


def band_columns(print_: Any) -> dict[str, int]:
    """The ``sim0``… columns of a text's fingerprint, one per LSH band (as ``rounds.services`` stores them)."""
    return {f"sim{i}": value for i, value in enumerate(print_.bands)}


def _draft_rows(draft_id: int, version_id: int, first_provision: int, text: str, area_id: int, drafter_id: int,
                created: datetime) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """The draft, its version 1 and the provision rows (parents before children), as the service stores them."""
    import dataclasses

    from consultation.drafts.parser import parse
    from consultation.drafts.services import normalised

    text = normalised(text)
    parsed = parse(text)
    rows: list[dict[str, Any]] = []
    next_id = iter(range(first_provision, 10**9))

    def walk(nodes: list[Any], parent: int | None) -> None:
        for node in nodes:
            row = {"id": next(next_id), "version_id": version_id, "key": node.key, "kind": node.kind,
                   "number": node.number, "label": node.label[:40], "title": node.title[:200], "text": node.text,
                   "body": node.body, "position": len(rows), "content_hash": node.hash, "parent_id": parent}
            rows.append(row)
            walk(node.children, row["id"])

    walk(parsed.nodes, None)
    draft = {"id": draft_id, "title": ROUND_TITLE, "area_id": area_id, "created_by_id": drafter_id,
             "created_at": created}
    version = {"id": version_id, "draft_id": draft_id, "number": 1, "source_name": ROUND_TEXT.name, "text": text,
               "created_by_id": drafter_id, "created_at": created, "counts": dataclasses.asdict(parsed.counts)}
    return draft, version, rows


def _zipf_weights(n: int, rng: random.Random, power: float = 0.9) -> list[float]:
    ranks = list(range(1, n + 1))
    rng.shuffle(ranks)
    return [1 / rank**power for rank in ranks]


async def seed_round(conn: asyncpg.Connection, scale: Scale, rng: random.Random, counts: dict[str, int], *,
                     first_user_id: int, password_hash: str) -> SeededRound:
    from consultation.drafts.model import Kind
    from consultation.rounds.similarity import Fingerprint

    now = datetime.now(UTC)
    opens, closes = now - timedelta(days=7), now + timedelta(days=23)
    city = await conn.fetchrow("SELECT id, path FROM area WHERE level = 'city' ORDER BY id LIMIT 1")
    districts = await conn.fetch("SELECT id FROM area WHERE level = 'district' ORDER BY id")
    residents = int(await conn.fetchval("SELECT count(*) FROM user_account WHERE phone LIKE '139%'"))
    assert city is not None and residents > 0

    # the drafter who runs the round and a few people's congress representatives
    drafter_id = first_user_id
    representatives = list(range(first_user_id + 1, first_user_id + 1 + max(2, scale.districts * 5)))
    people = [{"id": drafter_id, "phone": f"135{drafter_id:08d}", "password_hash": password_hash,
               "display_name": "立法工作者", "verified_at": EPOCH, "created_at": EPOCH}]
    people += [{"id": uid, "phone": f"135{uid:08d}", "password_hash": None, "display_name": f"人大代表{n + 1}",
                "verified_at": EPOCH, "created_at": EPOCH} for n, uid in enumerate(representatives)]
    counts["user_account"] += await copy_rows(conn, "user_account", people)
    first_grant = int(await conn.fetchval("SELECT COALESCE(max(id), 0) + 1 FROM role_grant"))
    grants = [{"id": first_grant, "user_id": drafter_id, "role": "drafter", "area_id": city["id"], "created_at": EPOCH}]
    grants += [{"id": first_grant + 1 + n, "user_id": uid, "role": "representative",
                "area_id": districts[n % len(districts)]["id"], "created_at": EPOCH}
               for n, uid in enumerate(representatives)]
    counts["role_grant"] += await copy_rows(conn, "role_grant", grants)

    draft, version, provisions = _draft_rows(1, 1, 1, ROUND_TEXT.read_text(encoding="utf-8"), city["id"], drafter_id,
                                             opens - timedelta(days=1))
    counts["draft"] = await copy_rows(conn, "draft", [draft])
    counts["draft_version"] = await copy_rows(conn, "draft_version", [version])
    counts["provision"] = await copy_rows(conn, "provision", provisions)
    counts["comment_round"] = await copy_rows(conn, "comment_round", [{
        "id": 1, "draft_id": 1, "version_id": 1, "opens_at": opens, "closes_at": closes, "audience": "everyone",
        "instructions": "请对草案提出意见和建议；有具体修改建议的，请写明建议的条文表述。", "created_by_id": drafter_id,
        "created_at": opens}])

    by_id = {row["id"]: row for row in provisions}
    articles = [row for row in provisions if row["kind"] is Kind.ARTICLE]
    paragraphs: dict[int, list[int]] = {}
    for row in provisions:
        if row["kind"] is Kind.PARAGRAPH and row["parent_id"] in by_id:
            paragraphs.setdefault(row["parent_id"], []).append(row["id"])

    def chapter_of(row: dict[str, Any]) -> int | None:
        while row["parent_id"] is not None:
            row = by_id[row["parent_id"]]
            if row["kind"] is Kind.CHAPTER:
                return int(row["id"])
        return None

    # where the comments go: campaigns on a few articles (the biggest on the most discussed one), the rest
    # spread over the articles with a long tail, some on the whole draft
    n = scale.round_comments
    weights = _zipf_weights(len(articles), rng)
    hottest = max(range(len(articles)), key=lambda i: weights[i])
    in_campaigns = int(n * CAMPAIGN_SHARE)
    n_campaigns = min(len(CAMPAIGNS), max(3, n // 2500))
    sizes = [max(2, int(in_campaigns / (k + 1) ** 0.7)) for k in range(n_campaigns)]
    sizes = [max(2, round(s * in_campaigns / sum(sizes))) for s in sizes]
    campaign_articles = [hottest, *rng.choices(range(len(articles)), weights=weights, k=n_campaigns - 1)]
    slots = [_Slot(campaign_articles[k], k) for k, size in enumerate(sizes) for _ in range(size)]
    while len(slots) < n:
        whole = rng.random() < WHOLE_DRAFT_SHARE
        slots.append(_Slot(None if whole else rng.choices(range(len(articles)), weights=weights)[0]))
    slots = slots[:n]
    rng.shuffle(slots)

    prints: dict[str, Any] = {}

    def fingerprint(text: str) -> Any:
        found = prints.get(text)
        if found is None:
            found = prints[text] = Fingerprint(text)
        return found

    variants = [campaign_variants(base) for base in CAMPAIGNS]
    leads: dict[int, dict[str, Any]] = {}  # campaign → its lead row
    seen: set[tuple[int | None, str]] = set()  # (article, norm_hash) of comments that lead their own group
    comments: list[dict[str, Any]] = []
    span = (now - timedelta(minutes=1) - opens) / (n + 1)
    for index, slot in enumerate(slots):
        comment_id = index + 1
        article = articles[slot.article] if slot.article is not None else None
        article_id = article["id"] if article is not None else None
        target = article_id
        if article is not None and paragraphs.get(article["id"]) and rng.random() < PARAGRAPH_SHARE:
            target = rng.choice(paragraphs[article["id"]])
        author = representatives[index % len(representatives)] if rng.random() < REPRESENTATIVE_SHARE \
            else rng.randint(1, residents)
        held = False
        lead_id = None
        if slot.campaign is not None:
            lead = leads.get(slot.campaign)
            body = CAMPAIGNS[slot.campaign] if lead is None else rng.choice(variants[slot.campaign])
            if lead is not None:
                lead_id = lead["id"]
                lead["group_size"] += 1
                target = lead["provision_id"]  # a campaign is about one provision
        else:
            body = comment_body(rng)
            while (article_id, fingerprint(body).hash) in seen:
                body = comment_body(rng)
            seen.add((article_id, fingerprint(body).hash))
            if rng.random() < HELD_SHARE:
                held, body = True, f"{body}需要{HELD_WORD}的请联系我。"
        print_ = fingerprint(body)
        row = {"id": comment_id, "round_id": 1, "provision_id": target, "article_id": article_id,
               "chapter_id": chapter_of(article) if article is not None else None, "author_id": author,
               "by_representative": author in representatives, "body": body,
               "proposed_wording": "" if rng.random() < 0.8 else f"本条修改为：{rng.choice(SUGGESTIONS)[2:]}。",
               "held": held, "client_token": None, "created_at": opens + span * (index + 1),
               "norm_hash": print_.hash, **band_columns(print_), "lead_id": lead_id,
               "group_size": 1, "support_count": 0, "outcome": None, "reason": "", "answered_by_id": None,
               "answered_at": None, "changed_provision_id": None}
        if slot.campaign is not None and lead_id is None:
            leads[slot.campaign] = row
        comments.append(row)

    # answers for half the groups (members take their lead's), themes and supports on leads
    outcomes = [name for name, _ in OUTCOME_MIX]
    outcome_weights = [w for _, w in OUTCOME_MIX]
    answers: dict[int, tuple[str, str, datetime]] = {}
    themes = [{"id": k + 1, "round_id": 1, "name": name} for k, name in enumerate(THEMES)]
    tagged: list[dict[str, Any]] = []
    supports: list[dict[str, Any]] = []
    for row in comments:
        if row["lead_id"] is not None or row["held"]:
            continue
        if rng.random() < ANSWERED_SHARE or row["group_size"] > 1:
            outcome = rng.choices(outcomes, weights=outcome_weights)[0]
            answered_at = min(now, row["created_at"] + timedelta(days=1))
            answers[row["id"]] = (outcome, rng.choice(REASONS[outcome]), answered_at)
        if rng.random() < THEMED_SHARE or row["group_size"] > 1:
            tagged += [{"comment_id": row["id"], "theme_id": t["id"]} for t in rng.sample(themes, rng.randint(1, 2))]
        wanted = min(residents - 1, rng.randint(20, 200) if row["group_size"] > 1
                     else (rng.randint(1, 8) if rng.random() < 0.3 else 0))
        supporters = {rng.randint(1, residents) for _ in range(wanted)} - {row["author_id"]}
        row["support_count"] = len(supporters)
        supports += [{"comment_id": row["id"], "user_id": uid, "created_at": row["created_at"]} for uid in supporters]
    for row in comments:
        answer = answers.get(row["lead_id"] or row["id"])
        if answer is not None:
            row["outcome"], row["reason"], row["answered_at"] = answer
            row["answered_by_id"] = drafter_id

    counts["draft_comment"] = await copy_rows(conn, "draft_comment", comments)
    counts["round_theme"] = await copy_rows(conn, "round_theme", themes)
    counts["draft_comment_theme"] = await copy_rows(conn, "draft_comment_theme", tagged)
    counts["draft_comment_support"] = await copy_rows(conn, "draft_comment_support", supports)
    per_article: dict[int, int] = {}
    for row in comments:
        if row["article_id"] is not None and not row["held"]:
            per_article[row["article_id"]] = per_article.get(row["article_id"], 0) + 1
    hot = max(per_article, key=lambda a: per_article[a])
    return SeededRound(draft_id=1, round_id=1, hot_article_id=hot, hot_article_comments=per_article[hot],
                       comments=len(comments), groups=sum(1 for r in comments if r["lead_id"] is None),
                       article_ids=[a["id"] for a in articles], drafter_id=drafter_id,
                       drafter_phone=f"135{drafter_id:08d}", residents=residents,
                       surge_comments=scale.surge_comments, surge_by_count=scale.surge_by_count)
