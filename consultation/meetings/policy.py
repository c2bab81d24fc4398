"""Session (议事会) permissions as named predicates, with ``*_problem`` twins giving the reason.

Who may sign up: any signed-in resident whose home is in the meeting's community. Verification is
not needed (as for raising a topic): a session is open to neighbours, people are seen in person at
the door, and the worker checks attendance there. Verification stays the gate for co-signs and votes.
"""

from __future__ import annotations

from consultation.areas.models import Area, AreaLevel
from consultation.db import utcnow
from consultation.deliberation.policy import is_staff_of
from consultation.errors import N_, Message, msg
from consultation.meetings.models import Meeting, MeetingState
from consultation.policy import Actor, permission

SIGNUP_CLOSED = N_("Sign-up for this session is closed.")


@permission("meetings.manage")
def can_manage(actor: Actor, community: Area) -> bool:
    """Schedule, edit and cancel sessions, check attendance, write minutes: staff of the community."""
    return community.level is AreaLevel.community and is_staff_of(actor, community)


def is_resident_of(actor: Actor, community: Area) -> bool:
    home = actor.home_area_path
    return bool(home) and home is not None and home.startswith(community.path)


def signup_problem(actor: Actor, meeting: Meeting) -> Message | None:
    if not actor.authenticated:
        return msg("Please log in first.")
    if not is_resident_of(actor, meeting.community):
        return msg("Only residents of {community} can sign up for this session.",
                   community=meeting.community.name)
    if meeting.state is not MeetingState.scheduled or meeting.starts_at <= utcnow():
        return msg(SIGNUP_CLOSED)
    return None


@permission("meetings.sign_up")
def can_sign_up(actor: Actor, meeting: Meeting) -> bool:
    """Residents of the meeting's community, while it is scheduled and has not started."""
    return signup_problem(actor, meeting) is None
