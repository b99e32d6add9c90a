"""The MSP's brand on the deliverables: its name, its colors and its logo, from the settings
(XBR_BRAND_NAME, XBR_BRAND_COLOR, XBR_BRAND_ACCENT, XBR_BRAND_LOGO). The logo is read and
checked once, when a document is made: a PNG or JPEG file of bounded size."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from reports.deliverables.text import one_line
from states.errors import InvalidInput
from states.settings import Settings

DEFAULT_NAME = "Your IT partner"
LOGO_MAX_BYTES = 2 * 1024 * 1024
LOGO_MAX_PIXELS = 4000  # on either side: a logo, not a photograph to decode at every document
_SIGNATURES = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG"}


@dataclass(frozen=True)
class Logo:
    """A checked logo image: its bytes, format and size in pixels."""

    data: bytes
    kind: str  # PNG or JPEG
    width: int
    height: int

    def fit(self, width: float, height: float) -> tuple[float, float]:
        """The largest (width, height) with the logo's proportions inside the box."""
        scale = min(width / self.width, height / self.height)
        return self.width * scale, self.height * scale


@dataclass(frozen=True)
class Brand:
    """The MSP's name, colors (#RRGGBB) and logo, as the documents show them."""

    name: str = DEFAULT_NAME
    color: str = "#1F4E79"
    accent: str = "#2F6FB3"
    logo: Logo | None = None

    @property
    def rgb(self) -> tuple[int, int, int]:
        """The brand color as (red, green, blue), 0-255."""
        return hex_rgb(self.color)

    @property
    def accent_rgb(self) -> tuple[int, int, int]:
        return hex_rgb(self.accent)


def brand_of(settings: Settings) -> Brand:
    """The installation's brand; a logo that is missing, too large or not a PNG or JPEG image
    is refused in one line naming XBR_BRAND_LOGO."""
    logo = read_logo(settings.brand_logo) if settings.brand_logo else None
    name = one_line(settings.brand_name, 100) or DEFAULT_NAME
    return Brand(name, settings.brand_color, settings.brand_accent, logo)


def read_logo(path: Path) -> Logo:
    """The logo at `path`, checked: a readable PNG or JPEG file of at most LOGO_MAX_BYTES and
    LOGO_MAX_PIXELS on either side."""
    from PIL import Image, UnidentifiedImageError

    try:
        with path.open("rb") as file:
            data = file.read(LOGO_MAX_BYTES + 1)
    except OSError as error:
        raise _refused(path, error.strerror or "cannot be read") from None
    if len(data) > LOGO_MAX_BYTES:
        raise _refused(path, f"is larger than {LOGO_MAX_BYTES // 1024 // 1024} MB")
    kind = next((k for sig, k in _SIGNATURES.items() if data.startswith(sig)), None)
    if kind is None:
        raise _refused(path, "is not a PNG or JPEG image")
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if max(width, height) > LOGO_MAX_PIXELS:
                raise _refused(path, f"is {width}×{height} pixels, more than {LOGO_MAX_PIXELS}")
            image.verify()  # a damaged file fails here, not halfway through a document
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise _refused(path, f"is a damaged {kind} image ({error})") from None
    return Logo(data, kind, width, height)


def _refused(path: Path, why: str) -> InvalidInput:
    return InvalidInput(
        f"XBR_BRAND_LOGO {str(path)[:200]}: {why}; give a PNG or JPEG file of at most 2 MB "
        f"and {LOGO_MAX_PIXELS} pixels a side, or unset XBR_BRAND_LOGO"
    )


def hex_rgb(color: str) -> tuple[int, int, int]:
    """#1F4E79 as (31, 78, 121)."""
    value = int(color.lstrip("#"), 16)
    return value >> 16 & 0xFF, value >> 8 & 0xFF, value & 0xFF
