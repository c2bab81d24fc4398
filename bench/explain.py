"""Query plans of the hot statements with and without the index each one relies on (issue 6, item 4:
"add the indexes the query plans ask for, show EXPLAIN before and after").

    python -m bench.explain --database-url postgresql://postgres@127.0.0.1:5432/yishiting_bench_…

Run it against a seeded harness database (``python -m bench --keep …`` leaves one). Each case is the
statement the application sends (built by the application's own query code, its parameters taken from
the data: the busiest article of the round, the topic with the most comments, …), compiled for
PostgreSQL with the values inlined. "Without" drops the index inside a transaction that is rolled back,
so the database is unchanged afterwards; run it while nothing else uses the database (DROP INDEX locks
the table until the rollback). Each plan is run three times and the last run is reported (warm cache).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import case, or_, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import Executable

from consultation.areas.models import AreaLevel
from consultation.comments import queries as comment_queries
from consultation.deliberation import queries as topic_queries
from consultation.rounds import queries as round_queries
from consultation.rounds import services as round_services
from consultation.rounds.models import SHOWN_LEAD, DraftComment
from consultation.rounds.similarity import Fingerprint


@dataclass
class Case:
    name: str
    what: str  # the page or write and the application function whose statement this is
    index: str
    statement: Callable[[asyncpg.Connection], Awaitable[Executable]]


def sql(statement: Executable, **params: Any) -> str:
    if params:
        statement = statement.params(**params)  # type: ignore[attr-defined]
    return str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


async def _busiest_article(conn: asyncpg.Connection) -> tuple[int, int]:
    row = await conn.fetchrow("SELECT round_id, article_id FROM draft_comment WHERE article_id IS NOT NULL "
                              "GROUP BY round_id, article_id ORDER BY count(*) DESC LIMIT 1")
    return int(row["round_id"]), int(row["article_id"])


async def article_leads(conn: asyncpg.Connection) -> Executable:
    round_id, article_id = await _busiest_article(conn)
    return (select(DraftComment).where(DraftComment.round_id == round_id, SHOWN_LEAD,
                                       DraftComment.article_id == article_id)
            .order_by(DraftComment.group_size.desc(), DraftComment.support_count.desc(), DraftComment.id).limit(20))


async def staff_queue(conn: asyncpg.Connection) -> Executable:
    round_id, _ = await _busiest_article(conn)
    query = round_queries._queue_query(round_id, round_queries.QueueFilter())
    return query.order_by(DraftComment.group_size.desc(), DraftComment.id).limit(50)


async def group_lookup(conn: asyncpg.Connection) -> Executable:
    """``rounds.services._lead_for`` for a copy of the busiest article's biggest campaign."""
    round_id, article_id = await _busiest_article(conn)
    body = await conn.fetchval("SELECT body FROM draft_comment WHERE round_id = $1 AND article_id = $2 "
                               "AND lead_id IS NULL ORDER BY group_size DESC LIMIT 1", round_id, article_id)
    fingerprint = Fingerprint(body + "！")
    identical = DraftComment.norm_hash == fingerprint.hash
    alike = [identical, *(getattr(DraftComment, f"sim{i}") == v for i, v in enumerate(fingerprint.bands))]
    return (select(*round_services._LEAD_COLUMNS)
            .where(DraftComment.round_id == round_id, SHOWN_LEAD, DraftComment.article_id == article_id, or_(*alike))
            .order_by(case((identical, 0), else_=1), DraftComment.id).limit(round_services.NEAR_CANDIDATES))


async def topic_thread(conn: asyncpg.Connection) -> Executable:
    topic_id = await conn.fetchval("SELECT topic_id FROM comment GROUP BY topic_id ORDER BY count(*) DESC LIMIT 1")
    statement = comment_queries._page_statement("shown")
    return statement.params(topic_id=topic_id, offset=0, limit=comment_queries.PER_PAGE)  # type: ignore[attr-defined]


async def area_topics(conn: asyncpg.Connection) -> Executable:
    community = await conn.fetchval("SELECT community_id FROM topic GROUP BY community_id ORDER BY count(*) DESC "
                                    "LIMIT 1")
    return topic_queries._area_topics_statement(AreaLevel.community).params(area_id=community)  # type: ignore[attr-defined]


CASES = [
    Case("article_leads", "draft article page: the shown group leads of one article, biggest first "
         "(rounds.queries.public_comments)", "ix_draft_comment_shown_leads", article_leads),
    Case("staff_queue", "staff queue: pending group leads of the round, biggest first (rounds.queries.queue)",
         "ix_draft_comment_pending_leads", staff_queue),
    Case("group_lookup", "posting a comment: the group an identical or near-identical comment joins "
         "(rounds.services._lead_for)", "ix_draft_comment_lead_hash,ix_draft_comment_lead_sim0,"
         "ix_draft_comment_lead_sim1,ix_draft_comment_lead_sim2,ix_draft_comment_lead_sim3,"
         "ix_draft_comment_lead_sim4,ix_draft_comment_lead_sim5", group_lookup),
    Case("topic_thread", "topic page: one page of top-level comments with their replies "
         "(comments.queries._page_statement)", "ix_comment_topic_thread,ix_comment_root_id", topic_thread),
    Case("area_topics", "area page: the community's topics ranked within their group "
         "(deliberation.queries.area_topics)", "ix_topic_community_state", area_topics),
]


async def plan(conn: asyncpg.Connection, text: str, drop: list[str]) -> tuple[list[str], float]:
    transaction = conn.transaction()
    await transaction.start()
    try:
        for index in drop:
            await conn.execute(f'DROP INDEX IF EXISTS "{index}"')
        rows: list[Any] = []
        for _ in range(3):
            rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {text}")
    finally:
        await transaction.rollback()
    lines = [r[0] for r in rows]
    took = next((float(line.split(":")[1].split()[0]) for line in lines if line.startswith("Execution Time")), -1.0)
    return lines, took


def _shape(lines: list[str], keep: int = 8) -> list[str]:
    """The plan's nodes (the lines with ->, and the first), without the per-node detail lines."""
    nodes = [lines[0]] + [line for line in lines[1:] if "->" in line]
    return [line[:150] for line in nodes[:keep]]


async def main(database_url: str, out: Any) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        print("# Query plans with and without their indexes\n", file=out)
        database = await conn.fetchval("SELECT current_database()")
        version = await conn.fetchval("SHOW server_version")
        print(f"Database `{database}`, PostgreSQL {version}; each plan's third run (warm cache).\n", file=out)
        print("| statement | index | without (ms) | with (ms) |\n|---|---|---:|---:|", file=out)
        details = []
        for case_ in CASES:
            text = sql(await case_.statement(conn))
            before, before_ms = await plan(conn, text, case_.index.split(","))
            after, after_ms = await plan(conn, text, [])
            print(f"| {case_.name}: {case_.what} | `{case_.index.replace(',', '`, `')}` | {before_ms:,.2f} | "
                  f"{after_ms:,.2f} |", file=out)
            details.append((case_, before, after))
        for case_, before, after in details:
            print(f"\n## {case_.name}\n\nWithout `{case_.index}`:\n```", file=out)
            print("\n".join(_shape(before)), file=out)
            print("```\nWith it:\n```", file=out)
            print("\n".join(_shape(after)), file=out)
            print("```", file=out)
    finally:
        await conn.close()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.explain", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="postgresql://… of a seeded harness database")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.database_url.replace("postgresql+asyncpg://", "postgresql://"), sys.stdout)))
