"""What a photo attached to a card must be: a JPEG, PNG or WebP image (told by its bytes, not its name), of at
most ``MAX_PHOTO_BYTES``, and at most ``MAX_PHOTOS_PER_CARD`` on one card."""

from __future__ import annotations

MAX_PHOTO_BYTES = 5 * 1024 * 1024
MAX_PHOTOS_PER_CARD = 10


class PhotoRefused(ValueError):
    """The upload is not a photo callcard keeps; the message says why (a 4xx for whoever sent it)."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


def sniff(data: bytes) -> str | None:
    """The image type of ``data`` from its first bytes: image/jpeg, image/png, image/webp, or None."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def check_photo(data: bytes, *, already: int) -> str:
    """The photo's content type, or PhotoRefused."""
    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoRefused(f"a photo may have at most {MAX_PHOTO_BYTES // (1024 * 1024)} MiB", too_large=True)
    if not data:
        raise PhotoRefused("the photo is empty")
    kind = sniff(data)
    if kind is None:
        raise PhotoRefused("a photo must be a JPEG, PNG or WebP image")
    if already >= MAX_PHOTOS_PER_CARD:
        raise PhotoRefused(f"a card keeps at most {MAX_PHOTOS_PER_CARD} photos")
    return kind
