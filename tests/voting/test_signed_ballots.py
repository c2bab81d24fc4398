"""Owners' joint decisions are open, signed ballots: the workers who run the poll can list who chose
what (home, member, choice, floor area); nobody else can, and a secret poll has no such list."""

from __future__ import annotations

from typing import Any

from consultation.voting import ballots, services
from tests.conftest import text_of
from tests.deliberation.helpers import make_world
from tests.meetings.helpers import log_in
from tests.voting.helpers import RECEIPT_KEY, make_poll, option, resident, voters_of, worker


async def test_workers_list_the_signed_ballots_of_an_owners_decision(make_client: Any, db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world, eligibility="owners", rule="art278_ordinary")
    people = voters_of(world)
    await ballots.cast_ballot(db, resident(people[0], world), poll, [option(poll, "yes")], receipt_key=RECEIPT_KEY)
    await ballots.cast_ballot(db, resident(people[1], world), poll, [option(poll, "no")], receipt_key=RECEIPT_KEY)
    secret = await make_poll(db, world, title="秘密表决")
    await db.commit()

    staff = await log_in(make_client(), world.worker_a)
    page = await staff.get(f"/worker/polls/{poll.id}/signed")
    assert page.status_code == 200
    shown = text_of(page.text)
    assert world.author.display_name in shown and world.neighbours[0].display_name in shown
    labels = {o.code: o.label for o in poll.options}
    assert "2 ballots" in shown and "Online" in shown
    author_row = shown[shown.index(world.author.display_name):][:40]
    neighbour_row = shown[shown.index(world.neighbours[0].display_name):][:40]
    assert labels["yes"] in author_row and labels["no"] in neighbour_row
    assert (await staff.get(f"/worker/polls/{secret.id}/signed")).status_code == 404

    for outsider in (world.worker_b, world.author):
        other = await log_in(make_client(), outsider)
        assert (await other.get(f"/worker/polls/{poll.id}/signed")).status_code in (403, 404)
    await services.close_poll(db, worker(world), poll, receipt_key=RECEIPT_KEY)
    await db.commit()
    assert (await staff.get(f"/worker/polls/{poll.id}/signed")).status_code == 200
