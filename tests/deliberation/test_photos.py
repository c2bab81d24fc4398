"""Topic photos end to end: real images made with Pillow go through the propose form, come out
upright and without metadata, are served with caching headers, and bad files are named one by one
while nothing is half-saved."""

from __future__ import annotations

import asyncio
import io
import os
from datetime import timedelta
from typing import Any

import pytest
from PIL import ExifTags, Image
from sqlalchemy import func, select, update

from consultation.audit import AuditEvent
from consultation.db import utcnow
from consultation.deliberation import photo_images, photos, services
from consultation.deliberation.models import Topic
from consultation.deliberation.photo_images import DAMAGED, NOT_AN_IMAGE, ImageRejected, encode_variants
from consultation.deliberation.photo_models import Photo, PhotoVariant
from consultation.errors import ValidationFailed
from tests.conftest import WebClient, text_of
from tests.deliberation.helpers import World, actor_of, make_world
from tests.factories import PASSWORD, identifier
from web import cli
from web.database import make_engine, make_sessionmaker
from web.migrate import upgrade

TITLE = "北门自行车棚顶棚破了"


# --- images made for the tests -------------------------------------------------------------------

def two_colour(size: tuple[int, int] = (300, 200)) -> Image.Image:
    """Left half red, right half blue: after a rotation the colours end up top and bottom."""
    image = Image.new("RGB", size, (220, 30, 30))
    image.paste((30, 30, 220), (size[0] // 2, 0, size[0], size[1]))
    return image


def jpeg_with_exif(orientation: int = 6) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Model] = "SecretPhone 12"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (39.0, 54.0, 27.0),
        ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (116.0, 23.0, 17.0),
    }
    out = io.BytesIO()
    two_colour().save(out, "JPEG", quality=95, exif=exif,
                      xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description GPSLatitude="39"/></x:xmpmeta>')
    return out.getvalue()


def encoded(fmt: str, mode: str = "RGB", size: tuple[int, int] = (640, 480), **options: Any) -> bytes:
    colours: dict[str, Any] = {"RGBA": (10, 120, 40, 128), "CMYK": (200, 10, 90, 5), "L": 90, "P": 3}
    colour = colours.get(mode, (10, 120, 40))
    out = io.BytesIO()
    Image.new(mode, size, colour).save(out, fmt, **options)
    return out.getvalue()


def noise_png(min_bytes: int) -> bytes:
    """A PNG of random pixels (it does not compress), at least ``min_bytes`` long."""
    side = int((min_bytes / 3) ** 0.5) + 16
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "PNG", compress_level=1)
    assert len(out.getvalue()) >= min_bytes
    return out.getvalue()


def bomb_png() -> bytes:
    """A tiny file claiming 20000 × 20000 pixels (400 megapixels once decoded)."""
    out = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(out, "PNG", optimize=True)
    return out.getvalue()


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    value = image.getpixel(xy)
    assert isinstance(value, tuple)
    return value


EVIL = b"<html><script>alert(document.cookie)</script><body>not a photo</body></html>"


# --- helpers -------------------------------------------------------------------------------------

async def log_in(client: WebClient, user: Any, *, english: bool = True) -> WebClient:
    await client.login(identifier(user), PASSWORD)
    if english:  # messages are asserted in their source language (the Chinese catalogue is applied later)
        client.cookies.set("lang", "en")
    return client


def url_of(world: World) -> str:
    return f"/topics/new?area={world.city.community_a.id}"


def fields(title: str = TITLE, **extra: Any) -> dict[str, Any]:
    return {"title": title, "description": "雨天车棚漏水，电动车淋湿。", "category": "public_facilities", **extra}


async def propose(client: WebClient, world: World, files: list[tuple[str, bytes, str]], **data: Any) -> Any:
    return await client.submit(url_of(world), fields(**data),
                               files=[("photos", (name, content, ctype)) for name, content, ctype in files])


async def count(db: Any, column: Any, *where: Any) -> int:
    return int(await db.scalar(select(func.count(column)).where(*where)) or 0)


async def counts(db: Any) -> tuple[int, int, int]:
    return (await count(db, Topic.id), await count(db, Photo.id), await count(db, PhotoVariant.id))


async def stored(db: Any, photo_id: int, name: str) -> Image.Image:
    data = await db.scalar(select(PhotoVariant.data).where(PhotoVariant.photo_id == photo_id,
                                                          PhotoVariant.name == name))
    return Image.open(io.BytesIO(data))


# --- the happy path ------------------------------------------------------------------------------

async def test_photos_are_stored_upright_without_metadata_and_shown_on_the_topic(
        client: WebClient, db: Any, make_client: Any) -> None:
    world = await make_world(db)
    await log_in(client, world.author)
    original = jpeg_with_exif(orientation=6)
    assert b"SecretPhone" in original and b"GPSLatitude" in original
    transparent = encoded("PNG", "RGBA", size=(2400, 1200))
    response = await propose(client, world, [
        ("IMG_0001.jpg", original, "image/jpeg"), ("plan.png", transparent, "image/png"),
        ("gate.webp", encoded("WEBP", size=(800, 600)), "image/webp")])
    assert response.status_code == 303, response.text
    topic = await db.scalar(select(Topic).where(Topic.title == TITLE))
    assert response.headers["location"] == f"/topics/{topic.id}"
    attached = (await db.scalars(select(Photo).where(Photo.topic_id == topic.id).order_by(Photo.position))).all()
    assert [p.file_name for p in attached] == ["IMG_0001.jpg", "plan.png", "gate.webp"]
    assert [p.position for p in attached] == [0, 1, 2]

    # EXIF orientation 6 means "rotate 90° clockwise to view": the stored copy is already upright.
    display = await stored(db, attached[0].id, "display")
    assert display.format == "JPEG" and display.size == (200, 300)
    top, bottom = pixel(display, (100, 20)), pixel(display, (100, 280))
    assert top[0] > 180 and bottom[2] > 180  # red at the top, blue at the bottom
    assert not display.getexif() and "exif" not in display.info and "xmp" not in display.info
    raw = await db.scalar(select(PhotoVariant.data).where(PhotoVariant.photo_id == attached[0].id,
                                                         PhotoVariant.name == "display"))
    assert b"Exif" not in raw and b"SecretPhone" not in raw and b"GPS" not in raw and b"xmpmeta" not in raw

    # A see-through PNG stays see-through (WebP with alpha), resized to the long sides 1600 and 400.
    plan_display, plan_thumb = await stored(db, attached[1].id, "display"), await stored(db, attached[1].id, "thumb")
    assert plan_display.format == "WEBP" and plan_display.size == (1600, 800) and plan_display.mode == "RGBA"
    assert plan_thumb.size == (400, 200)
    gate = await stored(db, attached[2].id, "display")
    assert gate.format == "JPEG" and gate.size == (800, 600)  # never enlarged
    variant = await db.scalar(select(PhotoVariant).where(PhotoVariant.photo_id == attached[2].id,
                                                         PhotoVariant.name == "thumb"))
    assert (variant.width, variant.height, variant.content_type) == (400, 300, "image/jpeg")
    assert variant.byte_size > 0 and len(variant.sha256) == 64
    assert await count(db, AuditEvent.id, AuditEvent.action == "topic.photos_added",
                       AuditEvent.object_id == str(topic.id)) == 1

    # The topic page shows sized, lazy thumbnails that link to the display copy, with alt text.
    visitor: WebClient = make_client()
    visitor.cookies.set("lang", "en")
    page = (await visitor.get(f"/topics/{topic.id}")).text
    first = attached[0].id
    assert f'href="/media/photos/{first}/display"' in page
    assert f'src="/media/photos/{first}/thumb" width="200" height="300"' in page
    assert 'loading="lazy"' in page and f'alt="Photo 1 of 3: {TITLE}"' in page and "Photo 3 of 3" in page


async def test_a_photo_is_served_with_a_strong_etag_and_cached_for_a_year(
        client: WebClient, db: Any, make_client: Any) -> None:
    world = await make_world(db)
    await log_in(client, world.author)
    assert (await propose(client, world, [("a.jpg", jpeg_with_exif(1), "image/jpeg")])).status_code == 303
    photo = await db.scalar(select(Photo).where(Photo.owner_id == world.author.id))
    sha = await db.scalar(select(PhotoVariant.sha256).where(PhotoVariant.photo_id == photo.id,
                                                            PhotoVariant.name == "thumb"))
    visitor: WebClient = make_client()
    response = await visitor.get(f"/media/photos/{photo.id}/thumb")
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    assert response.headers["etag"] == f'"{sha}"'
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "set-cookie" not in response.headers  # shared caches may store it
    assert Image.open(io.BytesIO(response.content)).size == (300, 200)
    again = await visitor.get(f"/media/photos/{photo.id}/thumb", headers={"If-None-Match": f'"{sha}"'})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == f'"{sha}"'
    changed = await visitor.get(f"/media/photos/{photo.id}/thumb", headers={"If-None-Match": '"other"'})
    assert changed.status_code == 200
    signed_in = await client.get(f"/media/photos/{photo.id}/display")
    assert signed_in.status_code == 200 and signed_in.headers["cache-control"].startswith("public")
    for url in (f"/media/photos/{photo.id}/original", f"/media/photos/{photo.id + 1000}/thumb",
                f"/media/photos/{photo.id}/../thumb"):
        assert (await visitor.get(url)).status_code == 404


# --- a failed form loses nothing -----------------------------------------------------------------

async def test_a_failed_form_keeps_its_photos_for_the_next_attempt(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    await log_in(client, world.author)
    response = await propose(client, world, [("a.jpg", jpeg_with_exif(1), "image/jpeg"),
                                             ("b.png", encoded("PNG"), "image/png")], title="")
    assert response.status_code == 422
    assert "This field is required." in text_of(response.text)
    assert await count(db, Topic.id) == 0
    pending = (await db.scalars(select(Photo).where(Photo.owner_id == world.author.id).order_by(Photo.id))).all()
    assert len(pending) == 2 and all(p.topic_id is None for p in pending)
    a, b = pending
    for photo in pending:
        assert f'name="photo_ids" value="{photo.id}"' in response.text
        assert f'src="/media/photos/{photo.id}/thumb"' in response.text
        assert f'name="remove_photo" value="{photo.id}"' in response.text
    assert "Remove a.jpg" in text_of(response.text)
    assert 'enctype="multipart/form-data"' in response.text
    # The owner sees the preview, privately.
    preview = await client.get(f"/media/photos/{a.id}/thumb")
    assert preview.status_code == 200 and preview.headers["cache-control"].startswith("private")

    # Next attempt: fix the title, drop b.png, add one more photo.
    response = await propose(client, world, [("c.webp", encoded("WEBP"), "image/webp")],
                             photo_ids=[str(a.id), str(b.id)], remove_photo=[str(b.id)])
    assert response.status_code == 303, response.text
    db.expunge_all()
    topic = await db.scalar(select(Topic).where(Topic.title == TITLE))
    attached = (await db.scalars(select(Photo).where(Photo.topic_id == topic.id).order_by(Photo.position))).all()
    assert [p.file_name for p in attached] == ["a.jpg", "c.webp"] and attached[0].id == a.id
    assert await count(db, Photo.id, Photo.id == b.id) == 0
    assert await count(db, PhotoVariant.id, PhotoVariant.photo_id == b.id) == 0
    assert await count(db, Photo.id, Photo.topic_id.is_(None)) == 0


async def test_nobody_else_can_see_or_attach_a_pending_upload(
        client: WebClient, db: Any, make_client: Any) -> None:
    world = await make_world(db)
    await log_in(client, world.author)
    await propose(client, world, [("mine.jpg", jpeg_with_exif(1), "image/jpeg")], title="")
    photo = await db.scalar(select(Photo).where(Photo.owner_id == world.author.id))
    anonymous: WebClient = make_client()
    assert (await anonymous.get(f"/media/photos/{photo.id}/thumb")).status_code == 404
    neighbour = await log_in(make_client(), world.neighbours[0])
    assert (await neighbour.get(f"/media/photos/{photo.id}/display")).status_code == 404

    before = await counts(db)
    assert (await propose(neighbour, world, [], title="", remove_photo=[str(photo.id)])).status_code == 422
    response = await propose(neighbour, world, [], photo_ids=[str(photo.id)])
    assert response.status_code == 422
    assert "1 of the photos you chose earlier are no longer available" in text_of(response.text)
    assert f'name="photo_ids" value="{photo.id}"' not in response.text
    assert await counts(db) == before  # no topic; the photo is neither removed nor moved
    await db.refresh(photo)
    assert photo.owner_id == world.author.id and photo.topic_id is None


async def test_a_photo_cannot_be_attached_twice(client: WebClient, db: Any) -> None:
    """A double submit of the same form: the second attempt finds the photo taken and saves nothing."""
    world = await make_world(db)
    await log_in(client, world.author)
    await propose(client, world, [("a.jpg", jpeg_with_exif(1), "image/jpeg")], title="")
    photo = await db.scalar(select(Photo).where(Photo.owner_id == world.author.id))
    assert (await propose(client, world, [], photo_ids=[str(photo.id)])).status_code == 303
    before = await counts(db)
    second = await propose(client, world, [], photo_ids=[str(photo.id)])
    assert second.status_code == 422 and await counts(db) == before


# --- bad input: each file named, nothing half-saved ----------------------------------------------

@pytest.mark.parametrize(("name", "content", "ctype", "expected"), [
    ("evil.jpg", EVIL, "image/jpeg", "Photo evil.jpg is not a JPEG, PNG or WebP image."),
    ("cat.gif", encoded("GIF"), "image/gif", "Photo cat.gif is not a JPEG, PNG or WebP image."),
    ("empty.png", b"", "image/png", "Photo empty.png is not a JPEG, PNG or WebP image."),
    ("cut.jpg", jpeg_with_exif(1)[:600], "image/jpeg", "Photo cut.jpg is damaged or incomplete"),
    ("bomb.png", bomb_png(), "image/png", "Photo bomb.png has too many pixels (at most 24 megapixels)."),
    ("huge.png", encoded("PNG", "L", (6000, 5000)), "image/png",
     "Photo huge.png has too many pixels (at most 24 megapixels)."),
])
async def test_a_bad_file_is_refused_by_name_and_no_topic_is_created(
        client: WebClient, db: Any, name: str, content: bytes, ctype: str, expected: str) -> None:
    world = await make_world(db)
    await log_in(client, world.author)
    response = await propose(client, world, [(name, content, ctype), ("good.jpg", jpeg_with_exif(1), "image/jpeg")])
    assert response.status_code == 422
    page = text_of(response.text)
    assert expected in page and "Please correct the errors below." in page
    assert f'value="{TITLE}"' in response.text  # the form comes back filled in
    assert await count(db, Topic.id) == 0
    kept = (await db.scalars(select(Photo))).all()  # the good photo waits for the next attempt
    assert [p.file_name for p in kept] == ["good.jpg"] and kept[0].topic_id is None
    assert 'aria-invalid="true"' in response.text and 'id="f-photos-error"' in response.text


async def test_a_photo_over_5_mb_gets_a_message_beside_the_field_not_an_error_page(
        client: WebClient, db: Any) -> None:
    world = await make_world(db)
    await log_in(client, world.author)
    big = noise_png(6 * 1024 * 1024)
    response = await propose(client, world, [("big.png", big, "image/png")])
    assert response.status_code == 422
    assert "Photo big.png is larger than 5 MB." in text_of(response.text)
    assert await counts(db) == (0, 0, 0)


async def test_more_than_six_photos_are_refused_and_none_is_stored(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    await log_in(client, world.author)
    seven = [(f"p{i}.jpg", encoded("JPEG", size=(64, 48)), "image/jpeg") for i in range(7)]
    response = await propose(client, world, seven)
    assert response.status_code == 422
    assert "A topic can have at most 6 photos; you chose 7." in text_of(response.text)
    assert await counts(db) == (0, 0, 0)
    six = seven[:6]
    assert (await propose(client, world, six)).status_code == 303
    assert await count(db, Photo.id, Photo.topic_id.is_not(None)) == 6


async def test_the_larger_body_limit_holds_only_for_the_photo_form(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    await log_in(client, world.author)
    four_mb = [("photos", ("a.png", b"x" * (4 * 1024 * 1024), "image/png"))]
    elsewhere = await client.submit("/account", {"display_name": "x"}, files=four_mb)
    assert elsewhere.status_code == 413
    too_much = [("photos", (f"{i}.png", b"x" * (5 * 1024 * 1024), "image/png")) for i in range(7)]
    assert (await client.submit(url_of(world), fields(), files=too_much)).status_code == 413
    assert await counts(db) == (0, 0, 0)


# --- the service and the image pipeline on their own ---------------------------------------------

async def test_stale_pending_uploads_are_purged_after_24_hours(db: Any) -> None:
    world = await make_world(db)
    actor = actor_of(world.author, world)
    staged = await photos.stage(db, actor, [photos.Upload("old.jpg", jpeg_with_exif(1)),
                                            photos.Upload("new.jpg", jpeg_with_exif(1))])
    old, new = staged.photos
    await db.execute(update(Photo).where(Photo.id == old.id).values(created_at=utcnow() - timedelta(hours=25)))
    assert await photos.purge_stale_uploads(db) == 1
    assert await count(db, Photo.id, Photo.id == old.id) == 0
    assert await count(db, PhotoVariant.id, PhotoVariant.photo_id == old.id) == 0
    assert await count(db, Photo.id, Photo.id == new.id) == 1
    assert await photos.purge_stale_uploads(db, now=utcnow() + timedelta(hours=25)) == 1


async def test_attach_refuses_someone_elses_pending_photo(db: Any) -> None:
    world = await make_world(db)
    mine = await photos.stage(db, actor_of(world.author, world), [photos.Upload("a.jpg", jpeg_with_exif(1))])
    neighbour = actor_of(world.neighbours[0], world)
    theirs = await photos.stage(db, neighbour, [], keep_ids=[mine.photos[0].id])
    assert theirs.photos == [] and theirs.problems
    topic = await services.propose(db, neighbour, world.city.community_a, title="借用照片", description="试试",
                                   category="other")
    with pytest.raises(ValidationFailed):
        await photos.attach(db, neighbour, topic, photos.Staged(mine.photos, []))
    assert await count(db, Photo.id, Photo.topic_id == topic.id) == 0


def test_cmyk_and_grey_jpegs_become_rgb_and_broken_files_are_named() -> None:
    cmyk = encoded("JPEG", "CMYK", size=(50, 40))
    grey = encoded("JPEG", "L", size=(50, 40))
    for data in (cmyk, grey):
        display, thumb = encode_variants(data)
        assert (display.name, thumb.name) == ("display", "thumb")
        assert Image.open(io.BytesIO(display.data)).mode == "RGB"
    opaque_palette = encoded("PNG", "P", size=(30, 30), transparency=0)  # index 0 is unused: all opaque
    assert encode_variants(opaque_palette)[0].content_type == "image/jpeg"
    half_clear = Image.new("P", (30, 30), 0)
    half_clear.paste(3, (0, 0, 15, 30))
    out = io.BytesIO()
    half_clear.save(out, "PNG", transparency=0)
    clear = encode_variants(out.getvalue())[0]
    assert clear.content_type == "image/webp"
    assert pixel(Image.open(io.BytesIO(clear.data)).convert("RGBA"), (25, 5))[3] == 0
    for data, reason in ((EVIL, NOT_AN_IMAGE), (encoded("PNG")[:-30], DAMAGED), (b"\xff\xd8\xff" + b"0" * 50,
                                                                                  NOT_AN_IMAGE)):
        with pytest.raises(ImageRejected) as caught:
            encode_variants(data)
        assert caught.value.reason == reason


def test_the_purge_uploads_command_deletes_only_stale_pending_uploads(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)

    async def add_photos() -> None:
        engine = make_engine(url)
        async with make_sessionmaker(engine)() as session, session.begin():
            session.add_all([Photo(file_name="stale.jpg", created_at=utcnow() - timedelta(hours=30)),
                             Photo(file_name="fresh.jpg")])
        await engine.dispose()

    async def names() -> list[str]:
        engine = make_engine(url)
        async with make_sessionmaker(engine)() as session:
            found = list((await session.scalars(select(Photo.file_name))).all())
        await engine.dispose()
        return found

    asyncio.run(add_photos())
    monkeypatch.setenv("DATABASE_URL", url)
    assert cli.main(["purge-uploads"]) == 0
    assert "deleted 1 stale photo uploads" in capsys.readouterr().out
    assert asyncio.run(names()) == ["fresh.jpg"]


async def test_one_person_holds_a_bounded_number_of_pending_uploads(db: Any) -> None:
    world = await make_world(db)
    actor = actor_of(world.author, world)
    small = encoded("JPEG", size=(40, 30))
    first = await photos.stage(db, actor, [photos.Upload("first.jpg", small)])
    for _ in range(photos.MAX_PENDING_PER_OWNER // photos.MAX_PHOTOS_PER_TOPIC):
        await photos.stage(db, actor, [photos.Upload("x.jpg", small)] * photos.MAX_PHOTOS_PER_TOPIC)
    assert await count(db, Photo.id, Photo.owner_id == world.author.id) == photos.MAX_PENDING_PER_OWNER
    assert await count(db, Photo.id, Photo.id == first.photos[0].id) == 0  # the oldest unused one went
    # Photos the current form carries are never evicted.
    oldest = first.photos[0].id + 1
    kept = await photos.stage(db, actor, [photos.Upload("y.jpg", small)] * 5, keep_ids=[oldest])
    assert kept.photos[0].id == oldest and len(kept.photos) == 6 and kept.problems == []
    assert await count(db, Photo.id, Photo.owner_id == world.author.id) == photos.MAX_PENDING_PER_OWNER


def test_a_large_jpeg_is_decoded_at_a_reduced_scale_and_resized() -> None:
    out = io.BytesIO()
    two_colour((4000, 3000)).save(out, "JPEG", quality=90)
    display, thumb = encode_variants(out.getvalue())
    assert (display.width, display.height) == (1600, 1200) and (thumb.width, thumb.height) == (400, 300)
    assert Image.open(io.BytesIO(display.data)).size == (1600, 1200)


async def test_the_propose_form_offers_a_photo_field(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    await log_in(client, world.author)
    page = (await client.get(url_of(world))).text
    assert 'enctype="multipart/form-data"' in page
    assert 'type="file" multiple accept="image/jpeg,image/png,image/webp"' in page and 'name="photos"' in page
    assert "Up to 6 photos, JPEG, PNG or WebP, at most 5 MB each." in text_of(page)


# --- bounded image work --------------------------------------------------------------------------

def test_fully_decoded_formats_have_a_lower_pixel_limit() -> None:
    assert photo_images.pixel_limit("JPEG") == photo_images.MAX_PIXELS == 50_000_000
    assert photo_images.pixel_limit("PNG") == photo_images.pixel_limit("WEBP") == 24_000_000
    with pytest.raises(ImageRejected) as caught:  # 30 megapixels, refused before it is decoded
        encode_variants(encoded("WEBP", "RGBA", (6000, 5000), lossless=True))
    assert caught.value.reason == photo_images.TOO_MANY_PIXELS and caught.value.megapixels == 24


async def test_image_work_runs_at_most_two_at_a_time(db: Any, monkeypatch: Any) -> None:
    calls: list[int] = []
    real_encode = photos.encode_variants

    def spy(data: bytes) -> list[photo_images.EncodedImage]:
        calls.append(len(data))
        return real_encode(data)

    monkeypatch.setattr(photos, "encode_variants", spy)
    slots = photos.image_work_slot()
    assert slots is photos.image_work_slot() and photos.IMAGE_WORKERS == 2  # one per process (and event loop)
    world = await make_world(db)
    for _ in range(photos.IMAGE_WORKERS):  # two other uploads are being worked on
        await slots.acquire()
    upload = photos.Upload("a.jpg", encoded("JPEG", size=(64, 48)))
    staging = asyncio.create_task(photos.stage(db, actor_of(world.author, world), [upload]))
    for _ in range(500):  # until the upload waits for a slot, or (wrongly) is worked on anyway
        if calls or getattr(slots, "_waiters", None) or staging.done():
            break
        await asyncio.sleep(0.01)
    assert calls == [] and not staging.done()  # it waits its turn
    slots.release()
    staged = await staging
    assert len(calls) == 1 and len(staged.photos) == 1 and staged.problems == []
    slots.release()


async def test_an_anonymous_photo_form_is_refused_before_its_body_is_read(
        client: WebClient, make_client: Any, db: Any) -> None:
    world = await make_world(db)
    four_mb = [("photos", ("a.png", b"x" * (4 * 1024 * 1024), "image/png"))]
    response = await client.submit(url_of(world), fields(), files=four_mb)
    assert response.status_code == 413  # not parsed (and then sent to log in): the 3 MB default applied
    forged = make_client()
    forged.cookies.set("ysession", "forged")  # a cookie that is no session: the larger limit, then the login
    response = await forged.submit(url_of(world), fields(), files=four_mb)
    assert response.status_code in (302, 303) and "/login" in response.headers["location"]
    await log_in(client, world.author)
    response = await client.submit(url_of(world), fields(), files=four_mb)
    assert response.status_code == 422  # signed in: the file is read and named
    assert await count(db, Topic.id) == 0
