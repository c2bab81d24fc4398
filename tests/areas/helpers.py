"""Log-ins and page helpers shared by the area and worker tests."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession

from consultation.accounts.models import Role, User
from consultation.areas.models import Area
from tests.conftest import WebClient, text_of
from tests.factories import PASSWORD, identifier, make_user


async def log_in_as(client: WebClient, db: AsyncSession, role: Role, area: Area | None = None,
                    name: str = "管理员") -> User:
    user = await make_user(db, name=name, role=role, area=area)
    await client.login(identifier(user), PASSWORD)
    return user


def section(html: str, tag: str, marker: str) -> str:
    """The first ``<tag ...marker...>...</tag>`` of a page (not nested), for focused assertions."""
    match = re.search(rf"<{tag}[^>]*{re.escape(marker)}[^>]*>.*?</{tag}>", html, flags=re.S)
    assert match, f"no <{tag}> with {marker!r}"
    return match.group(0)


def breadcrumb(html: str) -> str:
    return text_of(section(html, "nav", 'class="breadcrumb"'))


Upload = dict[str, tuple[str, bytes, str]]


def csv_file(text: str, *, name: str = "data.csv", encoding: str = "utf-8", bom: bool = False) -> Upload:
    """A ``files=`` argument for httpx: one CSV file in the ``file`` field."""
    data = text.encode(encoding)
    return {"file": (name, (b"\xef\xbb\xbf" if bom else b"") + data, "text/csv")}
