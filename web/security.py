"""Security headers on every response (pure ASGI middleware, so streaming and errors are covered)."""

from __future__ import annotations

import re

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.context import SESSION_COOKIE

# The largest request body accepted (CSV imports are limited to 2 MB; multipart adds a little).
MAX_BODY_BYTES = 3 * 1024 * 1024
# Forms that carry photos (up to 6 of 5 MB each, plus the form around them) may send more; the photo
# service then names each file that is too large instead of the whole request being refused. Only
# signed-in people can send photos, so the larger limit needs a session cookie: an anonymous request
# is refused at the ordinary limit before its body is read (the cookie is only looked for here; the
# route still checks the session is valid).
PHOTO_BODY_BYTES = 32 * 1024 * 1024
PHOTO_FORM_PATHS = re.compile(r"/topics/new")

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data: blob:",
        "style-src 'self'",
        "script-src 'self'",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(self)",
    "Cross-Origin-Opener-Policy": "same-origin",
}


HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")


class SecurityHeadersMiddleware:
    """Adds each header of ``HEADERS`` (and HSTS) that the response does not set itself."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        # Encoded once, as ASGI carries them: a response then costs one pass over its own headers.
        self.defaults = [(name.lower().encode("latin-1"), value.encode("latin-1"))
                         for name, value in [*HEADERS.items(), *([HSTS] if hsts else [])]]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [pair for pair in self.defaults if pair[0] not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimitMiddleware:
    """Refuses request bodies over a limit before they are parsed or spooled (HTTP 413).

    The check runs inside ``receive``, so the refusal is raised in the endpoint and rendered by the
    normal error handlers (a translated page, or JSON under /api/).
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int = MAX_BODY_BYTES, photo_max_bytes: int = PHOTO_BODY_BYTES,
                 photo_paths: re.Pattern[str] = PHOTO_FORM_PATHS) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.photo_max_bytes = photo_max_bytes
        self.photo_paths = photo_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        photos = self.photo_paths.fullmatch(scope.get("path", "")) is not None and _has_session(headers)
        limit = self.photo_max_bytes if photos else self.max_bytes
        declared = headers.get(b"content-length", b"0")
        too_large_declared = declared.isdigit() and int(declared) > limit
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if too_large_declared:
                raise HTTPException(413)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413)
            return message

        await self.app(scope, limited_receive, send)


def _has_session(headers: dict[bytes, bytes]) -> bool:
    """Whether the request carries a session cookie at all (its validity is the route's business)."""
    cookies = headers.get(b"cookie", b"").decode("latin-1")
    return any(part.strip().partition("=")[0] == SESSION_COOKIE and part.partition("=")[2].strip()
               for part in cookies.split(";"))
