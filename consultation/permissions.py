"""Imports every policy module so every named permission is registered."""

from consultation.accounts import policy as accounts_policy  # noqa: F401
from consultation.areas import policy as areas_policy  # noqa: F401
from consultation.comments import policy as comments_policy  # noqa: F401
from consultation.deliberation import policy as deliberation_policy  # noqa: F401
from consultation.deliberation import resolution_policy  # noqa: F401
from consultation.drafts import policy as drafts_policy  # noqa: F401
from consultation.meetings import policy as meetings_policy  # noqa: F401
from consultation.rounds import policy as rounds_policy  # noqa: F401
from consultation.voting import policy as voting_policy  # noqa: F401
