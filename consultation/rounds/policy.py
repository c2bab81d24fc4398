"""Who may take part in a comment round, and who runs it.

- Legislative staff (drafters) whose grant covers the draft's area, and admins, open and edit rounds,
  see every comment (also held ones and commenters' names), tag, group and answer them.
- Commenting needs an account and the round's window (``opens_at`` <= now < ``closes_at``) and the
  round's audience: ``everyone`` (any account), ``residents`` (verified residents whose home is in one
  of the round's areas) or ``representatives`` (people's congress representatives). Representatives
  may comment in every round, and their comments are marked.
- Supporting a comment follows the same rules as commenting (it is counted with the round's figures).
- The public reads comments without the commenter's name (anonymised, as in a published report);
  each commenter sees their own comments with the answers.
"""

from __future__ import annotations

from datetime import datetime

from consultation.accounts.models import Role
from consultation.drafts.models import Draft
from consultation.errors import N_, Message, msg
from consultation.policy import Actor, can, permission
from consultation.rounds.models import Audience, CommentRound

NOT_YET_OPEN = N_("This comment round opens on {when}. Comments are accepted from then until {until}.")
CLOSED = N_("This comment round closed on {when}. Comments are no longer accepted.")
SIGN_IN = N_("Sign in to comment on the draft.")
RESIDENTS_ONLY = N_("This round is open to verified residents of {areas}. Verify your home to take part.")
REPRESENTATIVES_ONLY = N_("This round is open to people's congress representatives only.")

COMMENTING_LIMIT = {"max_hits": 20, "per_seconds": 600}  # per person, for web.ratelimit.limit


@permission("rounds.manage")
def can_manage(actor: Actor, draft: Draft) -> bool:
    """Open, edit and process the rounds of ``draft`` (with ``draft.area`` loaded)."""
    return can(actor, "drafts.manage", draft.area)


def is_representative(actor: Actor) -> bool:
    return Role.representative in actor.roles()


def window_problem(round_: CommentRound, now: datetime, when: str, until: str) -> Message | None:
    """Why nothing can be written now (``when``/``until`` are the formatted local times for the message)."""
    if now < round_.opens_at:
        return msg(NOT_YET_OPEN, when=when, until=until)
    if now >= round_.closes_at:
        return msg(CLOSED, when=until)
    return None


def audience_problem(actor: Actor, round_: CommentRound, area_paths: list[str], area_names: str) -> Message | None:
    """Why ``actor`` is not in the round's audience (None when they are)."""
    if not actor.authenticated:
        return msg(SIGN_IN)
    if is_representative(actor) or actor.is_admin:
        return None
    if round_.audience is Audience.representatives:
        return msg(REPRESENTATIVES_ONLY)
    if round_.audience is Audience.residents:
        home = actor.home_area_path or ""
        if not actor.verified or not any(home.startswith(path) for path in area_paths):
            return msg(RESIDENTS_ONLY, areas=area_names)
    return None
