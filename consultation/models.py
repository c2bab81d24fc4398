"""Imports every model module so that the metadata is complete (Alembic, tests)."""

from consultation import audit, outbox, search_index  # noqa: F401
from consultation.accounts import models as accounts_models  # noqa: F401
from consultation.areas import models as areas_models  # noqa: F401
from consultation.comments import models as comments_models  # noqa: F401
from consultation.db import Base
from consultation.deliberation import models as deliberation_models  # noqa: F401
from consultation.deliberation import photo_models  # noqa: F401
from consultation.deliberation import resolution_models as deliberation_resolutions  # noqa: F401
from consultation.drafts import models as drafts_models  # noqa: F401
from consultation.meetings import models as meetings_models  # noqa: F401
from consultation.notifications import models as notifications_models  # noqa: F401
from consultation.rounds import models as rounds_models  # noqa: F401
from consultation.voting import models as voting_models  # noqa: F401

metadata = Base.metadata
