"""Turning uploaded bytes into the photo copies we serve (Pillow).

The type is decided by decoding the bytes, never by the file name or the browser's content type.
Only JPEG, PNG and WebP are accepted; the image is fully decoded (a truncated or forged file
fails here), turned upright from its EXIF orientation, converted to sRGB, and re-encoded without
any metadata (EXIF with GPS, XMP, comments are all dropped). The original bytes are not kept.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from consultation.errors import N_

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
# A phone photo is 12-50 megapixels; beyond this the decoded image would be a memory bomb. A JPEG is
# decoded at a reduced scale (``draft``), so its full size never reaches memory.
MAX_PIXELS = 50_000_000
# PNG and WebP (the formats that carry see-through pixels) are always decoded in full, at 4 bytes a
# pixel, and then copied while being normalised: a 50-megapixel one would need about a gigabyte. Phones
# save photos as JPEG; PNG/WebP are screenshots and exports, far below this.
MAX_PIXELS_FULL_DECODE = 24_000_000
QUALITY = 82
# Long side in pixels of each copy served; "thumb" is the list picture, "display" the full view.
VARIANT_SIZES = {"display": 1600, "thumb": 400}

NOT_AN_IMAGE = N_("Photo {name} is not a JPEG, PNG or WebP image.")
TOO_MANY_PIXELS = N_("Photo {name} has too many pixels (at most {megapixels} megapixels).")
DAMAGED = N_("Photo {name} is damaged or incomplete and could not be read.")


class ImageRejected(Exception):
    """The bytes are not a usable photo; ``reason`` is a message id with a ``{name}`` placeholder (and
    ``{megapixels}``, the limit that applied to this file, for ``TOO_MANY_PIXELS``)."""

    def __init__(self, reason: str, *, megapixels: int = MAX_PIXELS // 1_000_000) -> None:
        super().__init__(reason)
        self.reason = reason
        self.megapixels = megapixels


def pixel_limit(image_format: str | None) -> int:
    """The most pixels accepted for an image of this format (see ``MAX_PIXELS_FULL_DECODE``)."""
    return MAX_PIXELS if image_format == "JPEG" else MAX_PIXELS_FULL_DECODE


@dataclass(frozen=True)
class EncodedImage:
    name: str  # the variant: "display" or "thumb"
    content_type: str
    width: int
    height: int
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def encode_variants(data: bytes) -> list[EncodedImage]:
    """The served copies of an uploaded photo, largest first; raises ``ImageRejected``."""
    image = _decode(data)
    image = _normalise(image)
    transparent = image.mode == "RGBA"
    variants = []
    for name, long_side in VARIANT_SIZES.items():  # display first: the thumb is made from it
        image = image.copy() if image.width <= long_side and image.height <= long_side else _shrunk(image, long_side)
        variants.append(_encode(name, image, transparent))
    return variants


def _decode(data: bytes) -> Image.Image:
    with warnings.catch_warnings():
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that; make every bomb an error.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
            limit = pixel_limit(image.format)
            if image.width * image.height > limit:
                raise ImageRejected(TOO_MANY_PIXELS, megapixels=limit // 1_000_000)
            if image.format == "JPEG":
                # Decode a large JPEG at a reduced scale straight away (still at least the display size).
                image.draft("RGB", _display_box(image.width, image.height))
            image.load()
        except ImageRejected:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            limit = pixel_limit("JPEG" if data.startswith(b"\xff\xd8") else None)  # refused before its format was known
            raise ImageRejected(TOO_MANY_PIXELS, megapixels=limit // 1_000_000) from exc
        except UnidentifiedImageError as exc:
            raise ImageRejected(NOT_AN_IMAGE) from exc
        except (OSError, SyntaxError, ValueError, EOFError) as exc:  # truncated or corrupt data
            raise ImageRejected(DAMAGED) from exc
    return image


def _display_box(width: int, height: int) -> tuple[int, int]:
    """The display copy's size for an image of this shape (JPEG draft decoding stays at or above it)."""
    long_side = VARIANT_SIZES["display"]
    if width >= height:
        return long_side, max(1, -(-long_side * height // width))
    return max(1, -(-long_side * width // height)), long_side


def _normalise(image: Image.Image) -> Image.Image:
    """Upright, sRGB, RGB or RGBA (only if some pixel is see-through), with no metadata at all."""
    try:
        upright = ImageOps.exif_transpose(image) or image
    except (OSError, SyntaxError, ValueError) as exc:  # a broken EXIF block
        raise ImageRejected(DAMAGED) from exc
    upright = _to_srgb(upright)
    has_alpha = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
    if has_alpha:
        upright = upright.convert("RGBA")
        alpha_min, _ = upright.getchannel("A").getextrema()
        if alpha_min == 255:
            upright = upright.convert("RGB")
    else:
        upright = upright.convert("RGB")
    clean = upright.copy()
    clean.info = {}
    return clean


def _to_srgb(image: Image.Image) -> Image.Image:
    profile = image.info.get("icc_profile")
    if not profile or image.mode not in ("RGB", "RGBA", "CMYK"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        target = ImageCms.createProfile("sRGB")
        mode = "RGBA" if image.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(image, source, target, outputMode=mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image  # an unusable profile: the pixels are taken as they are
    return converted if converted is not None else image


def _shrunk(image: Image.Image, long_side: int) -> Image.Image:
    copy = image.copy()
    copy.thumbnail((long_side, long_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
    copy.info = {}
    return copy


def _encode(name: str, image: Image.Image, transparent: bool) -> EncodedImage:
    """JPEG for ordinary photos; WebP (which keeps the alpha channel) for see-through images."""
    out = io.BytesIO()
    if transparent:
        image.save(out, "WEBP", quality=QUALITY, method=4)
        content_type = "image/webp"
    else:
        image.save(out, "JPEG", quality=QUALITY, optimize=True, progressive=True)
        content_type = "image/jpeg"
    return EncodedImage(name, content_type, image.width, image.height, out.getvalue())
