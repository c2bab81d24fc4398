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
from typing import Any

import asyncpg
from sqlalchemy import JSON, Table

import consultation.models  # noqa: F401 - the complete metadata
from bench.scales import Scale
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
    defaults = {c.name: c for c in columns}

    def convert(row: dict[str, Any]) -> tuple[Any, ...]:
        values = []
        for name in names:
            value = row[name] if name in row else _default(defaults[name])
            if isinstance(value, enum.Enum):
                value = value.value
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
