"""Draft pages end to end: paste or upload, preview without saving, save version 1, add version 2,
compare; bad input refused clearly with nothing half-saved; only drafters (and admins) create."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from consultation.accounts.models import Role
from consultation.drafts.models import Draft, DraftVersion, Provision
from consultation.drafts.numerals import int_to_cn
from tests.conftest import WebClient, text_of
from tests.drafts.helpers import parsed, text
from tests.drafts.test_services import V1, V2, docx
from tests.factories import PASSWORD, City, identifier, make_city, make_user


async def counts(db: Any) -> tuple[int, int, int]:
    return tuple([int(await db.scalar(select(func.count()).select_from(m)) or 0)  # type: ignore[return-value]
                  for m in (Draft, DraftVersion, Provision)])


async def drafter_client(db: Any, client: WebClient, role: Role = Role.drafter) -> City:
    city = await make_city(db)
    user = await make_user(db, role=role, area=None if role is Role.admin else city.city)
    await db.commit()
    await client.login(identifier(user), PASSWORD)
    return city


async def test_preview_shows_counts_and_problems_without_saving_then_save(client: WebClient, db: Any) -> None:
    city = await drafter_client(db, client)
    form = await client.get("/drafts/new")
    assert form.status_code == 200 and f'value="{city.city.id}"' in form.text
    source = text("personal_information_protection_law")
    with_gap = source.replace("　　第十二条　", "　　第十三条　", 1)  # article 12 missing, 13 twice
    page = await client.submit("/drafts/new", {"title": "", "area_id": str(city.city.id), "text": with_gap,
                                               "action": "preview"})
    assert page.status_code == 200
    assert "draft-preview" in page.text
    problems = page.text.split('class="draft-problems"')[1].split("</ul>")[0]
    lines = [i for i, x in enumerate(with_gap.split("\n"), 1) if x.strip("　").startswith("第十三条")]
    assert len(lines) == 2 and set(re.findall(r'data-line="(\d+)"', problems)) == {str(n) for n in lines}
    assert await counts(db) == (0, 0, 0)
    clean = await client.submit("/drafts/new", {"title": "", "area_id": str(city.city.id), "text": source,
                                                "action": "preview"})
    assert re.search(r"<dd>74</dd>", clean.text) and re.search(r"<dd>8</dd>", clean.text)
    assert "draft-problems" not in clean.text and "第七十四条" in clean.text
    assert await counts(db) == (0, 0, 0)
    saved = await client.submit("/drafts/new", {"title": "", "area_id": str(city.city.id), "text": source,
                                                "action": "save"})
    assert saved.status_code == 303, saved.text
    draft_url = saved.headers["location"]
    expected = sum(1 for _ in parsed("personal_information_protection_law").walk())
    assert await counts(db) == (1, 1, expected)
    page = await client.get(draft_url)
    assert page.status_code == 200 and "中华人民共和国个人信息保护法" in page.text
    assert 'id="a12"' in page.text and 'href="#a74"' in page.text
    again = await client.submit("/drafts/new", {"title": "", "area_id": str(city.city.id), "text": source,
                                                "action": "save"})  # a double submit
    assert again.status_code == 422 and await counts(db) == (1, 1, expected)
    listing = await client.get("/drafts")
    assert draft_url in listing.text


async def test_preview_lists_problems_by_line(client: WebClient, db: Any) -> None:
    await drafter_client(db, client)
    source = "某条例\n第一条 甲。\n第三条 乙。\n第三条 丙。"
    page = await client.submit("/drafts/new", {"text": source, "action": "preview"})
    problems = page.text.split('class="draft-problems"')[1].split("</ul>")[0]
    assert re.findall(r'data-line="(\d+)"', problems) == ["3", "4"]  # the gap before 第三条, then its duplicate


@pytest.mark.parametrize("name", ["dogs.txt", "dogs.md"])
async def test_upload_text_file_fills_the_text_box(client: WebClient, db: Any, name: str) -> None:
    await drafter_client(db, client)
    page = await client.post("/drafts/new", data={"csrf_token": await client.csrf(), "action": "preview"},
                             files={"file": (name, ("\ufeff" + V1).encode(), "text/plain")})
    assert page.status_code == 200
    box = page.text.split('name="text"')[1].split("</textarea>")[0]
    assert "第三条 本条例自2024年1月1日起施行。" in box
    assert f'name="source_name" value="{name}"' in page.text
    assert await counts(db) == (0, 0, 0)


async def test_upload_docx_then_save(client: WebClient, db: Any) -> None:
    city = await drafter_client(db, client)
    page = await client.post("/drafts/new", data={"csrf_token": await client.csrf(), "title": "养犬条例",
                                                  "area_id": str(city.district.id)},
                             files={"file": ("dogs.docx", docx(V1.split("\n")), "application/octet-stream")})
    assert page.status_code == 200 and "第二条 养犬人应当依法办理养犬登记。" in page.text
    assert 'value="养犬条例"' in page.text  # the title survives the upload form
    saved = await client.submit("/drafts/new", {"title": "养犬条例", "area_id": str(city.district.id),
                                                "text": "\n".join(V1.split("\n")), "source_name": "dogs.docx",
                                                "action": "save"})
    assert saved.status_code == 303
    version = await db.scalar(select(DraftVersion))
    assert version.source_name == "dogs.docx" and version.counts["articles"] == 3


@pytest.mark.parametrize(("name", "data"), [("fake.docx", b"this is not a zip"), ("x.pdf", b"%PDF-1.4")])
async def test_bad_upload_is_refused_clearly(client: WebClient, db: Any, name: str, data: bytes) -> None:
    await drafter_client(db, client)
    page = await client.post("/drafts/new", data={"csrf_token": await client.csrf()},
                             files={"file": (name, data, "application/octet-stream")})
    assert page.status_code == 422 and 'id="f-file-error"' in page.text
    assert await counts(db) == (0, 0, 0)


@pytest.mark.parametrize("bad", ["", "只有说明，没有条文。"])
async def test_empty_or_unparseable_text_is_refused(client: WebClient, db: Any, bad: str) -> None:
    city = await drafter_client(db, client)
    page = await client.submit("/drafts/new", {"title": "草案", "area_id": str(city.city.id), "text": bad,
                                               "action": "save"})
    assert page.status_code == 422 and 'id="f-text-error"' in page.text
    assert await counts(db) == (0, 0, 0)


async def test_more_than_two_megabytes_is_refused(client: WebClient, db: Any) -> None:
    city = await drafter_client(db, client)
    fields = {"csrf_token": await client.csrf(), "title": "草案", "area_id": str(city.city.id), "action": "save"}
    big = V1 + "\n" + "字" * 720_000  # about 2.2 MB in UTF-8
    upload = await client.post("/drafts/new", data=fields, files={"file": ("big.txt", big.encode(), "text/plain")})
    assert upload.status_code == 422 and 'id="f-file-error"' in upload.text and "2 MB" in text_of(upload.text)
    # Pasted: refused by the handler with the same message, the text kept; over 3 MB the request limit refuses.
    pasted = await client.post("/drafts/new", data={**fields, "text": big}, files={"file": ("", b"")})
    assert pasted.status_code == 422 and "2 MB" in text_of(pasted.text)
    huge = await client.post("/drafts/new", data={**fields, "text": big + big}, files={"file": ("", b"")})
    assert huge.status_code == 413
    assert await counts(db) == (0, 0, 0)


async def test_add_version_and_compare(client: WebClient, db: Any) -> None:
    city = await drafter_client(db, client)
    saved = await client.submit("/drafts/new", {"title": "养犬条例", "area_id": str(city.city.id), "text": V1,
                                                "action": "save"})
    draft_url = saved.headers["location"]
    form = await client.get(f"{draft_url}/versions/new")
    assert form.status_code == 200 and "第三条 本条例自2024年1月1日起施行。" in form.text  # prefilled
    preview = await client.submit(f"{draft_url}/versions/new", {"text": V2, "action": "preview"})
    assert preview.status_code == 200 and "<dd>4</dd>" in preview.text
    assert await counts(db) == (1, 1, 6)
    saved2 = await client.submit(f"{draft_url}/versions/new", {"text": V2, "action": "save"})
    assert saved2.status_code == 303 and saved2.headers["location"] == f"{draft_url}/compare?from=1&to=2"
    again = await client.submit(f"{draft_url}/versions/new", {"text": V2, "action": "save"})
    assert again.status_code == 422
    assert (await counts(db))[:2] == (1, 2)
    page = await client.get(f"{draft_url}/compare?from=1&to=2")
    assert page.status_code == 200
    assert 'data-change="added"' in page.text and 'data-change="renumbered"' in page.text
    assert 'data-change="renumbered_changed"' in page.text and 'data-change="unchanged"' in page.text
    assert "<del>4</del><ins>5</ins>" in page.text and 'class="side-by-side"' in page.text
    assert (await client.get(f"{draft_url}/compare?from=1&to=3")).status_code == 404
    assert (await client.get(f"{draft_url}?v=2")).status_code == 200


async def test_only_drafters_of_the_area_and_admins_create(make_client: Any, db: Any) -> None:
    city = await make_city(db)
    people = {
        "resident": await make_user(db, area=city.community_a),
        "worker": await make_user(db, role=Role.worker, area=city.community_a),
        "drafter": await make_user(db, role=Role.drafter, area=city.city),
        "admin": await make_user(db, role=Role.admin),
        "other_drafter": await make_user(db, role=Role.drafter, area=city.community_b),
    }
    await db.commit()
    anonymous = make_client()
    assert (await anonymous.get("/drafts/new")).status_code == 303
    data = {"title": "草案", "area_id": str(city.city.id), "text": V1, "action": "save"}
    for role, status in [("resident", 403), ("worker", 403), ("other_drafter", 403)]:
        client = make_client()
        await client.login(identifier(people[role]), PASSWORD)
        assert (await client.get("/drafts/new")).status_code == (403 if role != "other_drafter" else 200)
        assert (await client.submit("/drafts/new", data)).status_code == status
    assert await counts(db) == (0, 0, 0)
    for role in ("drafter", "admin"):
        client = make_client()
        await client.login(identifier(people[role]), PASSWORD)
        assert (await client.submit("/drafts/new", {**data, "title": f"草案{role}"})).status_code == 303
    draft = await db.scalar(select(Draft).order_by(Draft.id).limit(1))
    outsider = make_client()
    await outsider.login(identifier(people["other_drafter"]), PASSWORD)
    assert (await outsider.get(f"/drafts/{draft.id}/versions/new")).status_code == 403
    refused = await outsider.submit(f"/drafts/{draft.id}/versions/new", {"text": V2, "action": "save"})
    assert refused.status_code == 403
    assert (await anonymous.get(f"/drafts/{draft.id}")).status_code == 200  # reading is public
    assert (await anonymous.get(f"/drafts/{draft.id}/compare")).status_code == 200


async def test_a_long_paste_of_several_hundred_kilobytes_is_saved_whole(client: WebClient, db: Any) -> None:
    """The form is multipart, so Chinese text travels as raw UTF-8 (not tripled by URL-encoding)."""
    city = await drafter_client(db, client)
    body = "本条例所称公共场所，是指向公众开放的室内外区域，" * 6 + "依照本条例管理。"
    articles = [f"第{int_to_cn(n)}条 {body}" for n in range(1, 2001)]
    source = "某市公共场所管理条例\n" + "\n".join(articles)
    assert 800_000 < len(source.encode()) < 1_000_000  # far beyond URL-encoded limits, below the field limit
    fields = {"csrf_token": await client.csrf(), "title": "", "area_id": str(city.city.id), "text": source}
    preview = await client.post("/drafts/new", data={**fields, "action": "preview"}, files={"file": ("", b"")})
    assert preview.status_code == 200 and "<dd>2000</dd>" in preview.text
    saved = await client.post("/drafts/new", data={**fields, "action": "save"}, files={"file": ("", b"")})
    assert saved.status_code == 303
    assert await counts(db) == (1, 1, 4000)  # 2000 articles, each with one paragraph
    version = await db.scalar(select(DraftVersion))
    assert version.text.endswith(f"第二千条 {body}")
