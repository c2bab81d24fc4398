"""Photos: the stored copies served from the database, and the photos section of the topic page.

Copies of a topic's photos are public and never change (a new photo gets a new id), so they are
cached for a year with a strong ETag. A pending upload is shown only to its owner (the preview in
a propose form that came back with an error), privately.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from consultation.deliberation import photos
from consultation.deliberation.models import Topic
from consultation.errors import NotFound, ValidationFailed
from web.context import Ctx
from web.forms import id_list, uploads
from web.i18n import translate
from web.routing import RouteTable
from web.topic_sections import topic_section

routes = RouteTable()
PUBLIC_CACHE = "public, max-age=31536000, immutable"
PRIVATE_CACHE = "private, max-age=86400"


class PublicResponse(Response):
    """A response shared caches may store: it never carries a cookie (the pipeline's would be dropped)."""

    def set_cookie(self, *args: Any, **kwargs: Any) -> None:
        return None

    def delete_cookie(self, *args: Any, **kwargs: Any) -> None:
        return None


# --- photos in forms (used by the propose handler) -------------------------------------------------

async def stage_photos(request: Request, ctx: Ctx) -> photos.Staged:
    """Read the form's new photos (at most one byte over the limit each) and its earlier ones, and stage them."""
    files = []
    for upload in await uploads(request, photos.FIELD):
        files.append(photos.Upload(upload.filename or "", await upload.read(photos.MAX_PHOTO_BYTES + 1)))
    return await photos.stage(ctx.db, ctx.actor, files, keep_ids=await id_list(request, "photo_ids"),
                              remove_ids=await id_list(request, "remove_photo"))


def photo_form_context(staged: photos.Staged | None = None) -> dict[str, Any]:
    """What ``deliberation/_photo_field.html`` needs: limits, pending photos, each file's problem."""
    return {"photo_max": photos.MAX_PHOTOS_PER_TOPIC, "photo_mb": photos.MAX_PHOTO_BYTES // (1024 * 1024),
            "pending_photos": staged.photos if staged else [],
            "photo_problems": [translate(problem) for problem in staged.problems] if staged else []}


def with_photo_problems(exc: ValidationFailed, staged: photos.Staged) -> ValidationFailed:
    """The form's errors including the photos' (the topic's fields may fail while the photos do too)."""
    if (photo_error := staged.error()) is None or photos.FIELD in exc.errors:
        return exc
    return ValidationFailed({**exc.errors, **photo_error.errors})


# --- serving -------------------------------------------------------------------------------------


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


@routes.get("/media/photos/{photo_id:int}/{variant:str}", name="photo_file")
async def photo_file(request: Request, ctx: Ctx) -> Response:
    photo_id, variant = request.path_params["photo_id"], request.path_params["variant"]
    viewer = ctx.user.id if ctx.user else None
    served = await photos.variant_to_serve(ctx.db, photo_id, variant, viewer, with_data=False)
    if served is None:
        raise NotFound()
    etag = f'"{served.info.sha256}"'
    cls = PublicResponse if served.public else Response
    headers = {"ETag": etag, "Cache-Control": PUBLIC_CACHE if served.public else PRIVATE_CACHE,
               "X-Content-Type-Options": "nosniff"}
    if _matches(request.headers.get("if-none-match"), etag):
        return cls(status_code=304, headers=headers)
    served = await photos.variant_to_serve(ctx.db, photo_id, variant, viewer, with_data=True)
    if served is None or served.data is None:  # deleted between the two reads
        raise NotFound()
    return cls(served.data, media_type=served.info.content_type,
               headers={**headers, "Content-Disposition": "inline"})


@topic_section("deliberation/_topic_photos.html", order=10, slot="after_topic")
async def topic_photos_section(ctx: Ctx, topic: Topic) -> dict[str, Any]:
    return {"topic_photos": await photos.topic_photos(ctx.db, topic.id)}
