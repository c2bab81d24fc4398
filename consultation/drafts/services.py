"""Drafts from real text: read an upload (.txt, .md, .docx), preview the parsed structure without
writing, create a draft with version 1, add versions, and compare two stored versions."""

from __future__ import annotations

import dataclasses
import io
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import PurePath
from xml.etree import ElementTree

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from consultation import audit, search_index
from consultation.areas.models import Area
from consultation.drafts import compare as comparing
from consultation.drafts.model import Kind, Node, ParsedDraft
from consultation.drafts.models import MAX_TEXT_BYTES, SOURCE_NAME_MAX, TITLE_MAX, Draft, DraftVersion, Provision
from consultation.drafts.parser import normalise_lines, parse
from consultation.drafts.queries import get_version, latest_version
from consultation.errors import Conflict, Message, ValidationFailed, msg
from consultation.policy import Actor, require
from consultation.validation import strip_control

SEARCH_TYPE = "provision"  # search indexes the articles of each draft's latest version
TEXT_SUFFIXES = {".txt", ".md"}
DOCX_SUFFIX = ".docx"
DOCX_XML_MAX = 50 * 1024 * 1024  # the unpacked document.xml (a zip bomb stops here)
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
TOO_LARGE = msg("The text is larger than {mb} MB. Split it or remove what is not part of the draft.", mb=2)


# --- reading text --------------------------------------------------------------------------------

def _too_large(data: bytes | str) -> bool:
    size = len(data.encode("utf-8")) if isinstance(data, str) else len(data)
    return size > MAX_TEXT_BYTES


def check_text(text: str, field: str = "text") -> None:
    if _too_large(text):
        raise ValidationFailed({field: TOO_LARGE})


def read_upload(name: str, data: bytes) -> str:
    """The text of an uploaded .txt/.md (UTF-8 with or without BOM, else GB18030) or .docx file."""
    suffix = PurePath(name).suffix.lower()
    if _too_large(data):
        raise ValidationFailed({"file": msg("The file is larger than {mb} MB.", mb=2)})
    if suffix in TEXT_SUFFIXES:
        text = _decode(data)
    elif suffix == DOCX_SUFFIX:
        text = _docx_text(data)
    else:
        raise ValidationFailed({"file": msg("Upload a .txt, .md or .docx file.")})
    check_text(text, "file")
    return text


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationFailed({"file": msg("The file is not text in UTF-8 or GB18030 encoding.")})


def _docx_text(data: bytes) -> str:
    not_docx = msg("This file is not a valid Word document (.docx). Save it again as .docx, or paste the text.")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = archive.getinfo("word/document.xml")
            if info.file_size > DOCX_XML_MAX:
                raise ValidationFailed({"file": not_docx})
            xml = archive.read(info)
            if b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:  # Word never writes these; entity tricks need them
                raise ValidationFailed({"file": not_docx})
            root = ElementTree.fromstring(xml)  # noqa: S314 - no DTD, so no entity expansion or external fetch
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, OSError, RuntimeError, ValueError,
            NotImplementedError, EOFError, zlib.error) as exc:  # not a zip, no document, corrupt, encrypted
        raise ValidationFailed({"file": not_docx}) from exc
    return "\n".join(_paragraphs(root))


def _paragraphs(root: ElementTree.Element) -> Iterator[str]:
    for paragraph in root.iter(f"{_W}p"):
        parts: list[str] = []
        for element in paragraph.iter():
            if element.tag == f"{_W}t" and element.text:
                parts.append(element.text)
            elif element.tag == f"{_W}tab":
                parts.append(" ")
            elif element.tag in (f"{_W}br", f"{_W}cr"):
                parts.append("\n")
        yield "".join(parts)


# --- preview and saving --------------------------------------------------------------------------

def normalised(text: str) -> str:
    """What a version stores: line ends and odd spaces normalised, line numbers kept."""
    return "\n".join(normalise_lines(strip_control(text)))


def preview(text: str) -> ParsedDraft:
    """The parsed structure and its problems; writes nothing."""
    check_text(text)
    return parse(text)


def _parsed_or_refuse(text: str) -> ParsedDraft:
    """The parse of the text as it will be stored (so the provisions are what the stored text says)."""
    check_text(text)
    parsed = parse(normalised(text))
    if not parsed.articles:
        fatal = [p.message for p in parsed.problems if p.code in {"empty", "no_articles"}]
        message: Message = fatal[0] if fatal else msg("No article (第X条) was found in the text.")
        raise ValidationFailed({"text": message})
    return parsed


def _walk(nodes: list[Node], parent: str | None = None, depth: int = 0) -> Iterator[tuple[Node, str | None, int]]:
    for node in nodes:
        yield node, parent, depth
        yield from _walk(node.children, node.key, depth + 1)


async def _store(session: AsyncSession, actor: Actor, draft: Draft, number: int, text: str,
                 source_name: str, parsed: ParsedDraft) -> DraftVersion:
    version = DraftVersion(draft_id=draft.id, number=number, source_name=source_name[:SOURCE_NAME_MAX],
                           text=text, created_by_id=actor.user_id,
                           counts=dataclasses.asdict(parsed.counts))
    try:
        async with session.begin_nested():  # a double submit races for the number: one wins
            session.add(version)
            await session.flush()
    except IntegrityError as exc:
        raise Conflict() from exc
    by_depth: dict[int, list[dict[str, object]]] = {}
    parents: dict[str, str | None] = {}
    for position, (node, parent, depth) in enumerate(_walk(parsed.nodes)):
        parents[node.key] = parent
        by_depth.setdefault(depth, []).append({
            "version_id": version.id, "key": node.key, "kind": node.kind, "number": node.number,
            "label": node.label[:40], "title": node.title[:200], "text": node.text, "body": node.body,
            "position": position, "content_hash": node.hash, "parent_id": None})
    ids: dict[str, int] = {}
    for depth in sorted(by_depth):  # parents first, so each level knows its parents' ids
        rows = by_depth[depth]
        for row in rows:
            parent_key = parents[str(row["key"])]
            row["parent_id"] = ids[parent_key] if parent_key is not None else None
        result = await session.execute(insert(Provision).returning(Provision.id, Provision.key), rows)
        ids.update({key: pid for pid, key in result.all()})
    previous = await session.scalar(select(DraftVersion.id).where(DraftVersion.draft_id == draft.id,
                                                                  DraftVersion.number == number - 1))
    await articles_changed(session, [version.id, *([previous] if previous is not None else [])])
    return version


async def articles_changed(session: AsyncSession, version_ids: list[int]) -> None:
    """Queue search reindexing of the articles of these versions (a new version replaces the previous
    one's articles in search; a round opened or changed on a version changes its articles' links)."""
    search_index.search_changed(session, SEARCH_TYPE, await session.scalars(
        select(Provision.id).where(Provision.version_id.in_(version_ids), Provision.kind == Kind.ARTICLE)))


def _clean_title(title: str, parsed: ParsedDraft) -> str:
    title = " ".join(strip_control(title).split()) or parsed.title.strip()
    if not title:
        raise ValidationFailed({"title": msg("Enter the title of the draft.")})
    if len(title) > TITLE_MAX:
        raise ValidationFailed({"title": msg("The title may be at most {n} characters.", n=TITLE_MAX)})
    return title


async def create_draft(session: AsyncSession, actor: Actor, area: Area, title: str, text: str,
                       source_name: str = "") -> Draft:
    """A draft for ``area`` with version 1 and its provisions; refuses text without articles."""
    require(actor, "drafts.manage", area)
    parsed = _parsed_or_refuse(text)
    text = normalised(text)
    title = _clean_title(title, parsed)
    draft = Draft(title=title, area_id=area.id, created_by_id=actor.user_id)
    try:
        async with session.begin_nested():
            session.add(draft)
            await session.flush()
    except IntegrityError as exc:
        raise ValidationFailed({"title": msg("A draft with this title already exists in {area}.",
                                             area=area.name)}) from exc
    version = await _store(session, actor, draft, 1, text, source_name, parsed)
    await audit.record(session, "draft.create", "draft", draft.id, actor_id=actor.user_id, ip=actor.ip,
                       after={"title": title, "area_id": area.id, "version": 1, "source_name": version.source_name,
                              "counts": version.counts})
    return draft


async def add_version(session: AsyncSession, actor: Actor, draft: Draft, text: str,
                      source_name: str = "") -> DraftVersion:
    """The next version of ``draft`` from new text (refused when it is the latest version's text again)."""
    area = await session.get(Area, draft.area_id)
    require(actor, "drafts.manage", area)
    parsed = _parsed_or_refuse(text)
    text = normalised(text)
    latest = await latest_version(session, draft)
    if latest.text == text:
        raise ValidationFailed({"text": msg("This text is the same as version {n}.", n=latest.number)})
    number = int(await session.scalar(
        select(func.max(DraftVersion.number)).where(DraftVersion.draft_id == draft.id)) or 0) + 1
    version = await _store(session, actor, draft, number, text, source_name, parsed)
    await audit.record(session, "draft.version_add", "draft_version", version.id, actor_id=actor.user_id,
                       ip=actor.ip, after={"draft_id": draft.id, "number": number,
                                           "source_name": version.source_name, "counts": version.counts})
    return version


async def compare_versions(session: AsyncSession, draft: Draft, from_number: int,
                           to_number: int) -> comparing.Comparison:
    """Article-level comparison of two stored versions (their texts parsed again)."""
    old = await get_version(session, draft, from_number)
    new = await get_version(session, draft, to_number)
    return comparing.compare(parse(old.text), parse(new.text))
