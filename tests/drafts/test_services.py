"""Draft services: reading uploads, creating drafts with version 1, adding versions, comparing, and bad
input that is refused with nothing half-saved."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from sqlalchemy import func, select

from consultation.accounts.models import Role
from consultation.audit import AuditEvent
from consultation.drafts import services
from consultation.drafts.compare import Change
from consultation.drafts.model import Kind
from consultation.drafts.models import Draft, DraftVersion, Provision
from consultation.drafts.queries import get_draft, provisions_of, tree_of, versions_of
from consultation.errors import Forbidden, ValidationFailed
from consultation.policy import Actor, Grant
from tests.drafts.helpers import parsed, text
from tests.factories import make_city

V1 = ("某市养犬管理条例\n第一条 为了加强养犬管理，制定本条例。\n第二条 养犬人应当依法办理养犬登记。\n"
      "第三条 本条例自2024年1月1日起施行。")
V2 = ("某市养犬管理条例\n第一条 为了加强养犬管理，制定本条例。\n第二条 市和区人民政府应当建设犬只收容场所。\n"
      "第三条 养犬人应当依法办理养犬登记。\n第四条 本条例自2025年1月1日起施行。")


def docx(paragraphs: list[str]) -> bytes:
    """A minimal Word document: just enough of the package for word/document.xml to be read."""
    body = "".join(f"<w:p><w:r><w:t>{p}</w:t></w:r></w:p>" for p in paragraphs)
    xml = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
           '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
           f"<w:body>{body}</w:body></w:document>")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", xml)
    return buffer.getvalue()


async def count(db: Any, model: Any) -> int:
    return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def setup(db: Any) -> tuple[Any, Actor]:
    city = await make_city(db)
    return city, Actor(user_id=None, grants=(Grant(Role.drafter, city.city.path),))


def test_read_upload_decodes_utf8_with_bom_and_gb18030() -> None:
    assert services.read_upload("a.txt", "\ufeff第一条 内容。".encode()) .endswith("第一条 内容。")
    assert services.read_upload("a.MD", "第一条 内容。".encode("gb18030")) == "第一条 内容。"


def test_read_upload_reads_docx_paragraphs() -> None:
    assert services.read_upload("d.docx", docx(["某条例", "第一条 内容。"])) == "某条例\n第一条 内容。"


@pytest.mark.parametrize(("name", "data"), [
    ("fake.docx", "第一条 不是 Word 文件".encode()),
    ("empty.docx", b""),
    ("nodoc.docx", b"PK\x05\x06" + b"\0" * 18),  # an empty zip
    ("x.pdf", b"%PDF-1.4"),
])
def test_bad_uploads_are_refused_clearly(name: str, data: bytes) -> None:
    with pytest.raises(ValidationFailed) as caught:
        services.read_upload(name, data)
    assert "file" in caught.value.errors


def test_docx_with_entities_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", '<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>')
    with pytest.raises(ValidationFailed):
        services.read_upload("e.docx", buffer.getvalue())


def test_more_than_two_megabytes_is_refused() -> None:
    big = "第一条 " + "字" * 700_000  # 2.1 MB in UTF-8
    with pytest.raises(ValidationFailed) as caught:
        services.preview(big)
    assert "text" in caught.value.errors
    with pytest.raises(ValidationFailed) as caught:
        services.read_upload("big.txt", big.encode())
    assert "file" in caught.value.errors


async def test_create_draft_stores_version_one_and_the_whole_tree(db: Any) -> None:
    city, actor = await setup(db)
    source = text("personal_information_protection_law")
    draft = await services.create_draft(db, actor, city.city, "", source, "pipl.txt")
    assert draft.title == "中华人民共和国个人信息保护法"  # taken from the text when left empty
    (version,) = await versions_of(db, await get_draft(db, draft.id))
    assert version.number == 1 and version.source_name == "pipl.txt"
    assert version.counts["articles"] == 74 and version.counts["chapters"] == 8
    rows = await provisions_of(db, version)
    expected = parsed("personal_information_protection_law")
    assert len(rows) == sum(1 for _ in expected.walk())
    assert [r.key for r in rows] == [n.key for n in expected.walk()]
    tree = tree_of(rows)
    assert tree[0].title == "总则" and len(tree) == 8
    articles = [r for r in rows if r.kind is Kind.ARTICLE]
    assert len(articles) == 74 and all(a.parent_id is not None for a in articles)
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "draft.create"))
    assert event is not None and event.object_id == str(draft.id)


@pytest.mark.parametrize("bad", ["", "   \n ", "这里没有任何条文。\n只是几行说明。"])
async def test_text_without_articles_is_refused_and_nothing_is_saved(db: Any, bad: str) -> None:
    city, actor = await setup(db)
    with pytest.raises(ValidationFailed) as caught:
        await services.create_draft(db, actor, city.city, "草案", bad)
    assert "text" in caught.value.errors
    assert (await count(db, Draft), await count(db, DraftVersion), await count(db, Provision)) == (0, 0, 0)


async def test_only_drafters_of_the_area_manage(db: Any) -> None:
    city, _ = await setup(db)
    worker = Actor(user_id=None, grants=(Grant(Role.worker, city.city.path),))
    elsewhere = Actor(user_id=None, grants=(Grant(Role.drafter, city.community_b.path),))
    for actor in (worker, elsewhere, Actor()):
        with pytest.raises(Forbidden):
            await services.create_draft(db, actor, city.city, "草案", V1)
    assert await count(db, Draft) == 0


async def test_same_title_twice_in_an_area_is_refused(db: Any) -> None:
    city, actor = await setup(db)
    await services.create_draft(db, actor, city.city, "草案", V1)
    with pytest.raises(ValidationFailed) as caught:
        await services.create_draft(db, actor, city.city, "草案", V1)
    assert "title" in caught.value.errors
    assert await count(db, Draft) == 1 and await count(db, DraftVersion) == 1


async def test_add_version_and_compare(db: Any) -> None:
    city, actor = await setup(db)
    draft = await services.create_draft(db, actor, city.city, "养犬条例", V1)
    version = await services.add_version(db, actor, draft, V2, "v2.txt")
    assert version.number == 2 and version.counts["articles"] == 4
    with pytest.raises(ValidationFailed):  # the same text again (a double submit) adds nothing
        await services.add_version(db, actor, draft, V2)
    assert [v.number for v in await versions_of(db, draft)] == [1, 2]
    result = await services.compare_versions(db, draft, 1, 2)
    assert [c.change for c in result.changes] == [Change.UNCHANGED, Change.ADDED, Change.RENUMBERED,
                                                  Change.RENUMBERED_CHANGED]
    assert await db.scalar(select(func.count()).where(AuditEvent.action == "draft.version_add")) == 1


async def test_a_failure_while_saving_leaves_nothing_behind(db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The route saves inside a savepoint: a failure after the provisions were written undoes them all."""
    city, actor = await setup(db)

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("audit store down")

    monkeypatch.setattr(services.audit, "record", broken)
    with pytest.raises(RuntimeError):
        async with db.begin_nested():
            await services.create_draft(db, actor, city.city, "草案", V1)
    assert (await count(db, Draft), await count(db, DraftVersion), await count(db, Provision)) == (0, 0, 0)
