"""Photos of topics: stage uploads as pending photos of their owner, attach them to a new topic in
the same transaction, read them for the topic page and for serving, and purge stale uploads.

A propose form that fails validation keeps its photos: they are pending uploads of the person who
sent them, carried by id in the re-rendered form, and only that person can attach or see them.
"""

from __future__ import annotations

import asyncio
import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from consultation import audit
from consultation.db import utcnow
from consultation.deliberation.models import Topic
from consultation.deliberation.photo_images import VARIANT_SIZES, ImageRejected, encode_variants
from consultation.deliberation.photo_models import FILE_NAME_MAX, Photo, PhotoVariant
from consultation.errors import N_, Forbidden, Message, ValidationFailed, msg
from consultation.policy import Actor
from consultation.validation import strip_control

MAX_PHOTO_BYTES = 5 * 1024 * 1024
MAX_PHOTOS_PER_TOPIC = 6
PENDING_TTL = timedelta(hours=24)
# Pending uploads one person may hold (four forms' worth); beyond it their oldest unused ones go.
MAX_PENDING_PER_OWNER = 4 * MAX_PHOTOS_PER_TOPIC
FIELD = "photos"

TOO_LARGE = N_("Photo {name} is larger than {mb} MB. Choose a smaller photo or reduce its size first.")
TOO_MANY = N_("A topic can have at most {n} photos; you chose {count}. Choose fewer photos.")
GONE = N_("{n} of the photos you chose earlier are no longer available (uploads are kept for 24 hours). "
          "Please choose them again.")


# Photos decoded and re-encoded at the same time in one process (each may take a few hundred MB and
# a CPU core for a second or two); further uploads wait their turn.
IMAGE_WORKERS = 2
_image_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def image_work_slot() -> asyncio.Semaphore:
    """The process's image-work semaphore (one per event loop: a semaphore is bound to its loop)."""
    loop = asyncio.get_running_loop()
    slots = _image_slots.get(loop)
    if slots is None:
        slots = _image_slots[loop] = asyncio.Semaphore(IMAGE_WORKERS)
    return slots


@dataclass(frozen=True)
class Upload:
    """A file as the web layer read it: its name and at most ``MAX_PHOTO_BYTES + 1`` bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class VariantInfo:
    name: str
    content_type: str
    width: int
    height: int
    sha256: str


@dataclass(frozen=True)
class PhotoView:
    id: int
    file_name: str
    thumb: VariantInfo
    display: VariantInfo


@dataclass
class Staged:
    """The uploader's pending photos for a form (in order) and each problem with what was sent."""

    photos: list[PhotoView]
    problems: list[Message]

    def error(self) -> ValidationFailed | None:
        return ValidationFailed({FIELD: self.problems[0]}) if self.problems else None


# --- staging and attaching -----------------------------------------------------------------------

def clean_file_name(raw: str) -> str:
    """The last path component of a device file name, without control characters, shortened."""
    name = re.split(r"[\\/]", strip_control(raw).strip())[-1]
    return name[:FILE_NAME_MAX] or "?"


async def stage(session: AsyncSession, actor: Actor, uploads: Sequence[Upload], *,
                keep_ids: Sequence[int] = (), remove_ids: Sequence[int] = ()) -> Staged:
    """Store each valid new upload as a pending photo of ``actor``; keep or remove earlier ones.

    Invalid uploads are reported one by one (by file name) and stored nothing. Too many photos in
    all stores none of the new ones.
    """
    if actor.user_id is None:
        raise Forbidden(msg("Please log in first."))
    owner = actor.user_id
    await _purge(session, utcnow() - PENDING_TTL, owner_id=owner)
    removed = set(remove_ids)
    if removed:
        await session.execute(delete(Photo).where(Photo.id.in_(removed), Photo.owner_id == owner,
                                                  Photo.topic_id.is_(None)))
    wanted = [i for i in dict.fromkeys(keep_ids) if i not in removed]
    kept = await pending_photos(session, owner, wanted)
    problems: list[Message] = []
    if len(kept) < len(wanted):
        problems.append(msg(GONE, n=len(wanted) - len(kept)))
    if len(kept) + len(uploads) > MAX_PHOTOS_PER_TOPIC:
        problems.append(msg(TOO_MANY, n=MAX_PHOTOS_PER_TOPIC, count=len(kept) + len(uploads)))
        return Staged(kept, problems)
    await _make_room(session, owner, keep=[p.id for p in kept], needed=len(uploads))
    for upload in uploads:
        name = clean_file_name(upload.name)
        if len(upload.data) > MAX_PHOTO_BYTES:
            problems.append(msg(TOO_LARGE, name=name, mb=MAX_PHOTO_BYTES // (1024 * 1024)))
            continue
        try:
            async with image_work_slot():  # CPU and memory heavy: a few at a time, off the event loop
                variants = await asyncio.to_thread(encode_variants, upload.data)
        except ImageRejected as exc:
            problems.append(msg(exc.reason, name=name, megapixels=exc.megapixels))
            continue
        photo = Photo(owner_id=owner, file_name=name, variants=[
            PhotoVariant(name=v.name, content_type=v.content_type, width=v.width, height=v.height,
                         byte_size=len(v.data), sha256=v.sha256, data=v.data) for v in variants])
        session.add(photo)
        await session.flush()
        kept.append(_view(photo, photo.variants))
    return Staged(kept, problems)


async def attach(session: AsyncSession, actor: Actor, topic: Topic, staged: Staged) -> None:
    """Attach the staged photos to ``topic`` (just proposed by ``actor``), or raise and attach none.

    Each photo is claimed with a conditional update, so only its owner can attach it, and only once
    (a double submit cannot put the same photo on two topics). The caller runs this in the same
    savepoint as creating the topic.
    """
    if (error := staged.error()) is not None:
        raise error
    if not staged.photos:
        return
    if actor.user_id is None or actor.user_id != topic.author_id:
        raise Forbidden()
    now = utcnow()
    for position, photo in enumerate(staged.photos):
        claimed = await session.execute(
            update(Photo)
            .where(Photo.id == photo.id, Photo.owner_id == actor.user_id, Photo.topic_id.is_(None))
            .values(topic_id=topic.id, position=position, attached_at=now)
            .execution_options(synchronize_session=False))
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise ValidationFailed({FIELD: msg(GONE, n=1)})
    await audit.record(session, "topic.photos_added", "topic", topic.id, actor_id=actor.user_id, ip=actor.ip,
                       after={"photo_ids": [p.id for p in staged.photos]})


# --- cleanup -------------------------------------------------------------------------------------

async def _make_room(session: AsyncSession, owner: int, *, keep: Sequence[int], needed: int) -> None:
    """Delete the owner's oldest pending uploads that this form does not carry, beyond the cap."""
    others = select(Photo.id).where(Photo.owner_id == owner, Photo.topic_id.is_(None), Photo.id.not_in(keep))
    unused = list((await session.scalars(others.order_by(Photo.created_at.desc(), Photo.id.desc()))).all())
    room = MAX_PENDING_PER_OWNER - len(keep) - needed
    if len(unused) > room:
        await session.execute(delete(Photo).where(Photo.id.in_(unused[max(room, 0):])))


async def purge_stale_uploads(session: AsyncSession, now: datetime | None = None) -> int:
    """Delete pending uploads older than 24 hours (nobody proposed the topic); returns how many."""
    return await _purge(session, (now or utcnow()) - PENDING_TTL)


async def _purge(session: AsyncSession, before: datetime, owner_id: int | None = None) -> int:
    query = delete(Photo).where(Photo.topic_id.is_(None), Photo.created_at < before)
    if owner_id is not None:
        query = query.where(Photo.owner_id == owner_id)
    result = await session.execute(query)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- reads ---------------------------------------------------------------------------------------

def _view(photo: Photo, variants: Sequence[PhotoVariant]) -> PhotoView:
    info = {v.name: VariantInfo(v.name, v.content_type, v.width, v.height, v.sha256) for v in variants}
    return PhotoView(photo.id, photo.file_name, info["thumb"], info["display"])


async def _views(session: AsyncSession, photos: Sequence[Photo]) -> dict[int, PhotoView]:
    if not photos:
        return {}
    rows = (await session.execute(
        select(PhotoVariant.photo_id, PhotoVariant.name, PhotoVariant.content_type, PhotoVariant.width,
               PhotoVariant.height, PhotoVariant.sha256)
        .where(PhotoVariant.photo_id.in_([p.id for p in photos])))).all()
    by_photo: dict[int, dict[str, VariantInfo]] = {}
    for row in rows:
        by_photo.setdefault(row.photo_id, {})[row.name] = VariantInfo(row.name, row.content_type, row.width,
                                                                        row.height, row.sha256)
    return {p.id: PhotoView(p.id, p.file_name, by_photo[p.id]["thumb"], by_photo[p.id]["display"])
            for p in photos if set(by_photo.get(p.id, {})) >= set(VARIANT_SIZES)}


async def pending_photos(session: AsyncSession, owner_id: int, ids: Sequence[int]) -> list[PhotoView]:
    """Those of ``ids`` that are still pending uploads of ``owner_id``, in the given order."""
    if not ids:
        return []
    photos = (await session.scalars(select(Photo).where(Photo.id.in_(ids), Photo.owner_id == owner_id,
                                                        Photo.topic_id.is_(None)))).all()
    views = await _views(session, photos)
    return [views[i] for i in ids if i in views]


async def topic_photos(session: AsyncSession, topic_id: int) -> list[PhotoView]:
    photos = (await session.scalars(select(Photo).where(Photo.topic_id == topic_id)
                                    .order_by(Photo.position, Photo.id))).all()
    views = await _views(session, photos)
    return [views[p.id] for p in photos if p.id in views]


@dataclass(frozen=True)
class Served:
    info: VariantInfo
    public: bool  # a photo of a topic (anyone may cache it), or a pending upload shown to its owner
    data: bytes | None


async def variant_to_serve(session: AsyncSession, photo_id: int, name: str, viewer_id: int | None, *,
                           with_data: bool) -> Served | None:
    """One copy of a photo for ``viewer_id``; None when missing, unknown, or someone else's pending upload."""
    if name not in VARIANT_SIZES:
        return None
    columns: list[Any] = [Photo.topic_id, Photo.owner_id, PhotoVariant.content_type, PhotoVariant.width,
               PhotoVariant.height, PhotoVariant.sha256]
    if with_data:
        columns.append(PhotoVariant.data)
    row = (await session.execute(select(*columns).join(PhotoVariant, PhotoVariant.photo_id == Photo.id)
                                 .where(Photo.id == photo_id, PhotoVariant.name == name))).first()
    if row is None or (row.topic_id is None and (viewer_id is None or row.owner_id != viewer_id)):
        return None
    info = VariantInfo(name, row.content_type, row.width, row.height, row.sha256)
    return Served(info, row.topic_id is not None, row.data if with_data else None)
