"""The page every anonymous visitor gets, kept in ``web.page_cache`` and compressed once.

An anonymous visitor's page differs from another's only by the visitor's CSRF token in its forms
(``web.templating.render_for_anyone``). A ``SharedPage`` keeps the page cut at the token's places, and
the same pieces gzip-compressed once, when it is stored. A visit then costs joining the pieces around the
visitor's token: for a browser that accepts gzip (all of them) the compressed pieces, with the token in a
stored (uncompressed) deflate block between them, so a page read from the cache is never compressed again.
Before, ``GZipMiddleware`` compressed the whole page on every visit: 0.23 ms of the 0.57 ms that a topic
page with 200 comments took from the cache (issue 6, bench/RESULTS.md).

The pieces are raw deflate streams (RFC 1951) that end on a byte boundary (``Z_SYNC_FLUSH``), the last
one with the final block (``Z_FINISH``), so they can follow one another; the gzip header and trailer
(RFC 1952: CRC-32 and length of the whole page, token included) are written per visit.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

GZIP_LEVEL = 6  # as web.app's GZipMiddleware
GZIP_MIN_SIZE = 1024  # as web.app's GZipMiddleware: smaller pages are sent as they are
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # deflate, no name, no mtime, unknown OS
_MAX_STORED = 0xFFFF  # the most a stored deflate block holds


def _deflated(part: bytes, last: bool) -> bytes:
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(part) + compressor.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


def _stored(data: bytes) -> bytes:
    """``data`` as stored (uncompressed, not final) deflate blocks, starting on a byte boundary."""
    blocks = []
    for start in range(0, len(data), _MAX_STORED):
        chunk = data[start:start + _MAX_STORED]
        blocks.append(b"\x00" + struct.pack("<HH", len(chunk), len(chunk) ^ 0xFFFF) + chunk)
    return b"".join(blocks)


@dataclass(frozen=True)
class SharedPage:
    """A page as UTF-8, cut where each visitor's token goes, and the same cuts deflated."""

    parts: tuple[bytes, ...]
    deflated: tuple[bytes, ...] = field(repr=False)
    size: int  # of the page without tokens

    @classmethod
    def of(cls, page: bytes, stand_in: bytes) -> SharedPage:
        parts = tuple(page.split(stand_in))
        deflated = tuple(_deflated(part, i == len(parts) - 1) for i, part in enumerate(parts))
        return cls(parts, deflated, len(page) - len(stand_in) * (len(parts) - 1))

    @property
    def nbytes(self) -> int:
        """What the cache holds for it (``web.page_cache`` bounds caches by this)."""
        return sum(map(len, self.parts)) + sum(map(len, self.deflated))

    def body(self, token: bytes) -> bytes:
        return token.join(self.parts)

    def gzipped(self, token: bytes) -> bytes:
        """``gzip.compress(self.body(token))``, without compressing anything."""
        crc = 0
        for i, part in enumerate(self.parts):
            if i:
                crc = zlib.crc32(token, crc)
            crc = zlib.crc32(part, crc)
        length = self.size + len(token) * (len(self.parts) - 1)
        return b"".join((_GZIP_HEADER, _stored(token).join(self.deflated),
                         struct.pack("<II", crc, length & 0xFFFFFFFF)))

    def response(self, request: Request, token: bytes) -> Response:
        """The page for this visitor: gzip-compressed when their browser accepts it (as ``GZipMiddleware``
        decides, which leaves a response that has its encoding alone)."""
        if "gzip" in request.headers.get("accept-encoding", "") and self.size >= GZIP_MIN_SIZE:
            return HTMLResponse(self.gzipped(token), headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
        return HTMLResponse(self.body(token))
