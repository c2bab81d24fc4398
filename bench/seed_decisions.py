"""What follows a decision, for the seeded topics: responsible units, community sessions (past ones with
published minutes, coming ones with their agenda and sign-ups), a resolution for every topic in a state
that follows a decision, and the agreed actions of every agreed one.

The rows are what the app would have written (``consultation.deliberation.resolutions`` and
``consultation.meetings``): a consensus links to a published agenda item of its topic (a few cite
minutes kept elsewhere), a poll-decided topic keeps its counts, an agreed resolution has 1–3 actions
for units that serve its community, handed off once the topic is being carried out.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from consultation.clock import TIMEZONE
from consultation.deliberation.models import ActorRole, TopicState
from consultation.deliberation.resolution_models import ActionStatus, Method, Outcome
from consultation.meetings.models import MeetingState, SignupStatus
from consultation.meetings.models import Outcome as ItemOutcome

Copy = Callable[[Any, str, Iterable[dict[str, Any]]], Awaitable[int]]

DECIDED = {TopicState.decided_agreed: Outcome.agreed, TopicState.publicised: Outcome.agreed,
           TopicState.in_action: Outcome.agreed, TopicState.evaluated: Outcome.agreed,
           TopicState.decided_not_agreed: Outcome.not_agreed}
HANDED_OFF = {TopicState.in_action, TopicState.evaluated}  # carried out: its actions are governance tasks
ON_AGENDA = {TopicState.deliberating, TopicState.deciding}  # what a coming session discusses
POLL_SHARE = 0.2  # of decisions: by a poll; the rest by consensus
ELSEWHERE_SHARE = 0.1  # of consensus decisions: minutes kept outside the platform
CITY_UNITS = ["滨江市住房和城乡建设局", "滨江市城市管理局", "滨江市市政公用事业服务中心", "滨江市供电公司",
              "滨江市园林绿化中心"]
ACTIONS = ["在{place}完成现场勘察并公示方案", "{place}的维修施工，完工后组织居民验收",
           "增设{place}的公示牌并定期更新进展", "协调物业在{place}落实日常管理", "对{place}开展安全隐患排查",
           "召开{place}相关住户协调会"]
SUMMARIES = {
    Outcome.agreed: "经议事会充分讨论，参会居民一致同意推进{title}的解决方案，"
                    "由相关单位按分工落实，进展在社区公示栏和平台上公开。",
    Outcome.not_agreed: "经讨论，多数居民认为{title}的方案条件尚不成熟，暂不推进；"
                        "社区将继续收集意见，条件具备后再提交议事。",
}


@dataclass
class Decisions:
    """What was seeded (counts) and one topic of each kind, for checks and scenarios."""

    counts: dict[str, int]
    consensus_topic_id: int = 0  # decided by consensus at a session with published minutes
    poll_topic_id: int = 0
    upcoming_meetings: int = 0


def _local(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=TIMEZONE)


async def seed_decisions(conn: Any, copy: Copy, rng: random.Random, *, topics: list[dict[str, Any]],
                         communities: list[dict[str, Any]], streets: list[dict[str, Any]], city_id: int,
                         residents_by_community: dict[int, list[int]], worker_of: dict[int, int],
                         today: date) -> Decisions:
    """Seed units, sessions, resolutions and actions for ``topics`` (as ``bench.seed`` generated them);
    coming sessions start within four weeks of ``today``."""
    street_of = {c["id"]: c["parent_id"] for c in communities}
    units = [{"id": i, "name": name, "area_id": city_id} for i, name in enumerate(CITY_UNITS, 1)]
    unit_of_area: dict[int, int] = {}
    for area in [*streets, *communities]:
        suffix = "街道办事处" if area in streets else "居民委员会"
        unit_of_area[area["id"]] = len(units) + 1
        units.append({"id": len(units) + 1, "name": f"{area['name']}{suffix}", "area_id": area["id"]})

    by_community: dict[int, list[dict[str, Any]]] = {c["id"]: [] for c in communities}
    for topic in topics:
        by_community[topic["community_id"]].append(topic)

    meetings: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    signups: list[dict[str, Any]] = []
    resolutions: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    publicity: dict[int, datetime] = {}  # publicised topics: when their publicity (公示) ends
    out = Decisions(counts={})
    for n, community in enumerate(communities):
        cid = community["id"]
        worker = worker_of[cid]
        decided = [t for t in by_community[cid] if TopicState(t["state"]) in DECIDED]
        by_poll = {t["id"] for t in decided if rng.random() < POLL_SHARE}
        at_session = [t for t in decided if t["id"] not in by_poll and rng.random() >= ELSEWHERE_SHARE]
        # past sessions: up to four decided topics each, minutes published two days after
        item_of_topic: dict[int, int] = {}
        decided_at = {t["id"]: t["created_at"] + timedelta(days=rng.randint(14, 40)) for t in decided}
        for k in range(0, len(at_session), 4):
            batch = at_session[k:k + 4]
            held = max(t["created_at"] for t in batch).astimezone(TIMEZONE).date() + timedelta(days=10)
            meeting_id = len(meetings) + 1
            starts = _local(held, 19)
            meetings.append(_meeting(meeting_id, community, starts, worker, MeetingState.minutes_published,
                                     number=k // 4 + 1, minutes_published_at=starts + timedelta(days=2)))
            for position, topic in enumerate(batch, 1):
                item_of_topic[topic["id"]] = len(items) + 1
                decided_at[topic["id"]] = starts + timedelta(hours=2)
                agreed = DECIDED[TopicState(topic["state"])] is Outcome.agreed
                items.append({"id": len(items) + 1, "meeting_id": meeting_id, "position": position,
                              "topic_id": topic["id"], "title": topic["title"],
                              "minutes_text": f"与会居民围绕“{topic['title']}”发言讨论，记录在案。"
                                              + ("经协商达成一致意见。" if agreed else "未达成一致，暂不推进。"),
                              "outcome": ItemOutcome.agreed if agreed else ItemOutcome.not_agreed})
        # a coming session with the topics being deliberated on its agenda, and its sign-ups
        agenda = [t for t in by_community[cid] if TopicState(t["state"]) in ON_AGENDA][:4]
        starts = _local(today + timedelta(days=1 + n % 28), 19)
        meeting_id = len(meetings) + 1
        capacity = 30 + n % 3 * 10
        people = residents_by_community[cid]
        taken = rng.sample(people, min(len(people), rng.randint(5, capacity + 5)))
        meetings.append(_meeting(meeting_id, community, starts, worker, MeetingState.scheduled,
                                 number=len(at_session) // 4 + 2, capacity=capacity, next_position=len(taken)))
        out.upcoming_meetings += 1
        for position, topic in enumerate(agenda, 1):
            items.append({"id": len(items) + 1, "meeting_id": meeting_id, "position": position,
                          "topic_id": topic["id"], "title": topic["title"]})
        for position, user_id in enumerate(taken, 1):
            signed = starts - timedelta(days=rng.randint(1, 20))
            signups.append({"id": len(signups) + 1, "meeting_id": meeting_id, "user_id": user_id,
                            "status": SignupStatus.confirmed if position <= capacity else SignupStatus.waitlisted,
                            "position": position, "created_at": signed, "updated_at": signed})

        for topic in decided:
            state = TopicState(topic["state"])
            outcome = DECIDED[state]
            when = decided_at[topic["id"]]
            row: dict[str, Any] = {
                "id": len(resolutions) + 1, "topic_id": topic["id"], "outcome": outcome,
                "summary": SUMMARIES[outcome].format(title=topic["title"]),
                "decided_on": when.astimezone(TIMEZONE).date(), "recorded_at": when,
                "recorded_by_id": worker, "recorded_by_role": ActorRole.worker}
            if topic["id"] in by_poll:
                row.update(_poll(rng, topic, outcome, len(people)))
                out.poll_topic_id = out.poll_topic_id or topic["id"]
            elif topic["id"] in item_of_topic:
                row.update(method=Method.consensus, meeting_agenda_item_id=item_of_topic[topic["id"]])
                out.consensus_topic_id = out.consensus_topic_id or topic["id"]
            else:
                row.update(method=Method.consensus,
                           minutes_reference=f"{community['name']}居委会议事记录本第{n % 9 + 1}册")
            resolutions.append(row)
            if state is TopicState.publicised:
                publicity[topic["id"]] = when + timedelta(days=7)
            if outcome is Outcome.agreed:
                serving = [unit_of_area[cid], unit_of_area[street_of[cid]], 1 + topic["id"] % len(CITY_UNITS)]
                for position in range(1, rng.randint(1, 3) + 1):
                    handed = state in HANDED_OFF
                    actions.append({
                        "id": len(actions) + 1, "resolution_id": row["id"], "position": position,
                        "description": rng.choice(ACTIONS).format(place=topic["place"]),
                        "unit_id": serving[position - 1],
                        "target_date": row["decided_on"] + timedelta(days=30 * position),
                        "status": ActionStatus.handed_off if handed else ActionStatus.proposed,
                        "handed_off_at": when + timedelta(days=8) if handed else None,
                        "created_at": when})

    counts = out.counts
    counts["unit"] = await copy(conn, "unit", units)
    counts["meeting"] = await copy(conn, "meeting", meetings)
    counts["meeting_agenda_item"] = await copy(conn, "meeting_agenda_item", items)
    counts["meeting_signup"] = await copy(conn, "meeting_signup", signups)
    counts["resolution"] = await copy(conn, "resolution", resolutions)
    counts["agreed_action"] = await copy(conn, "agreed_action", actions)
    await conn.execute("UPDATE topic SET publicity_ends_at = v.ends FROM unnest($1::int[], $2::timestamptz[]) "
                       "AS v(id, ends) WHERE topic.id = v.id", list(publicity), list(publicity.values()))
    return out


def _meeting(meeting_id: int, community: dict[str, Any], starts: datetime, worker: int, state: MeetingState, *,
             number: int, capacity: int = 40, next_position: int = 0,
             minutes_published_at: datetime | None = None) -> dict[str, Any]:
    created = starts - timedelta(days=21)
    return {"id": meeting_id, "community_id": community["id"],
            "title": f"{community['name']}居民议事会（第{number}次）",
            "description": "议题见议程，欢迎居民报名参加，现场也可旁听。", "starts_at": starts,
            "ends_at": starts + timedelta(hours=2), "place": "社区活动中心二楼会议室", "capacity": capacity,
            "state": state, "next_position": next_position, "created_by_id": worker, "created_at": created,
            "updated_at": minutes_published_at or created, "minutes_published_at": minutes_published_at}


def _poll(rng: random.Random, topic: dict[str, Any], outcome: Outcome, voters: int) -> dict[str, Any]:
    """A poll-decided resolution's columns, as ``resolutions._poll_columns`` writes them."""
    eligible = max(voters // 2, 10)  # households vote
    cast = rng.randint(eligible * 2 // 3, eligible)
    yes = cast * rng.randint(70, 85) // 100 if outcome is Outcome.agreed else cast * rng.randint(25, 45) // 100
    no = (cast - yes) * 3 // 4
    return {"method": Method.poll, "poll_reference": f"poll:{100_000 + topic['id']}", "poll_eligible": eligible,
            "poll_ballots_cast": cast,
            "poll_counts": {"options": [["同意", yes], ["反对", no], ["弃权", cast - yes - no]]},
            "poll_passed": outcome is Outcome.agreed,
            "poll_explanation": f"参与率须达到三分之二、同意须过半数：{cast}/{eligible} 户参与，{yes} 户同意。"}
