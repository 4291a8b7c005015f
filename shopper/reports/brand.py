"""An organization's brand on its reports: checked colours, the logo, and the small stylesheet that carries them.

Colours reach CSS only as validated ``#rrggbb`` values; no other brand text is ever written into a stylesheet
(names, footer and contact line are HTML text, escaped by the template).
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from PIL import Image

from shopper.media.ingest import ImageRejected, ingest_image
from shopper.media.keys import LOGO_RENDITIONS, logo_key
from shopper.media.storage import Storage, remove, store

DEFAULT_PRIMARY = "#1d4e89"
DEFAULT_ACCENT = "#f2a541"
INK = "#1b2430"
WHITE = "#ffffff"
MIN_CONTRAST = 4.5
LOGO_MAX_BYTES = 5 * 1024 * 1024
LOGO_MAX_EDGE = 5000
FONT_FILES = (("SourceSans3-Regular.woff", 400), ("SourceSans3-Semibold.woff", 600))

#: Organization.kind of a consultancy (shopper.orgs.models.OrgKind; this module imports no models)
CONSULTANCY = "consultancy"
_HEX = re.compile(r"^#[0-9a-f]{6}$")
DAMAGED_LOGO = "That logo file is damaged or incomplete. Export it again as PNG or JPEG."


class BrandError(ValueError):
    """A brand value we refuse; ``str(error)`` is shown to the person who entered it, next to ``field``."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Brand:
    """What a report needs to look like its organization's."""

    name: str
    primary: str
    accent: str
    footer: str
    contact: str
    logo_id: str | None


def brand_of(org) -> Brand:
    """The brand of an Organization row, with defaults for whatever it has not set."""
    return Brand(
        name=name_on_reports(org),
        primary=color_or_default(org.primary_color, DEFAULT_PRIMARY),
        accent=color_or_default(org.accent_color, DEFAULT_ACCENT),
        footer=(org.report_footer or "").strip(),
        contact=(org.contact_line or "").strip(),
        logo_id=org.logo_media_id,
    )


class OrgFields(Protocol):
    """The columns of an Organization that decide who a report says made it (a row, or any plain object)."""

    id: int
    kind: str
    name: str
    display_name: str | None
    white_label: bool


def name_on_reports(org: OrgFields) -> str:
    """The organization's display name where it set one, else its name."""
    return (org.display_name or "").strip() or (org.name or "").strip()


@dataclass(frozen=True)
class Credit:
    """Who a report says made it and for whom. ``consultancy`` is set for a co-branded report (an audit run on a
    consultancy's checklist by one of its clients); ``white_label`` leaves Shopper's name off the report."""

    client: str
    consultancy: str | None = None
    white_label: bool = False

    @property
    def line(self) -> str | None:
        """ "Prepared for <client> by <consultancy>" for a co-branded report, else None."""
        if self.consultancy is None:
            return None
        return f"Prepared for {self.client} by {self.consultancy}"


def credit_of(audited: OrgFields, brand_owner: OrgFields) -> Credit:
    """The credit of a report of an audit of ``audited`` that wears ``brand_owner``'s brand (the checklist's owner).

    A consultancy's checklist walked by a client makes a co-branded report: "Prepared for <client> by
    <consultancy>". A business's own checklist, or a consultancy's walked by the consultancy itself, names no one
    else. White label is a consultancy's setting: a business's flag (it cannot set one) counts for nothing."""
    consultancy = brand_owner.kind == CONSULTANCY
    cobranded = consultancy and brand_owner.id != audited.id
    return Credit(
        client=name_on_reports(audited),
        consultancy=name_on_reports(brand_owner) if cobranded else None,
        white_label=consultancy and bool(brand_owner.white_label),
    )


def color_or_default(value: str | None, default: str) -> str:
    return value if isinstance(value, str) and _HEX.match(value) else default


def parse_color(value: str | None, label: str) -> str | None:
    """``#rrggbb`` in lower case, or None for a blank value (the default colour). Raises BrandError."""
    text = (value or "").strip().lower()
    if not text:
        return None
    if len(text) == 6 and re.fullmatch(r"[0-9a-f]{6}", text):
        text = "#" + text
    if not _HEX.match(text):
        raise BrandError(
            f"Write the {label} as # and six hexadecimal digits, for example {DEFAULT_PRIMARY} "
            f"(not {value.strip()[:20]!r})."
        )
    return text


def _linear(channel: int) -> float:
    c = channel / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(color: str) -> float:
    """WCAG relative luminance of ``#rrggbb``."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _linear(r) + 0.7152 * _linear(g) + 0.0722 * _linear(b)


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio between two ``#rrggbb`` colours, from 1 to 21."""
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def check_primary(color: str) -> None:
    """The primary colour carries white headings and the score: it must keep white text readable."""
    ratio = contrast(color, WHITE)
    if ratio < MIN_CONTRAST:
        raise BrandError(
            f"White text on {color} has a contrast of only {ratio:.1f}:1, and the report puts white headings on "
            f"the primary colour. Choose a darker colour (at least {MIN_CONTRAST}:1; {DEFAULT_PRIMARY} has "
            f"{contrast(DEFAULT_PRIMARY, WHITE):.1f}:1)."
        )


def accent_warning(color: str) -> str | None:
    """The accent colour is accepted either way; below 4.5:1 the report writes dark text on it, and says so."""
    ratio = contrast(color, WHITE)
    if ratio >= MIN_CONTRAST:
        return None
    return (
        f"White text on the accent colour {color} would have a contrast of only {ratio:.1f}:1 (below "
        f"{MIN_CONTRAST}:1), so the report writes dark text on it instead."
    )


def ink_on(color: str) -> str:
    """White or dark ink, whichever reads better on ``color``."""
    return WHITE if contrast(color, WHITE) >= MIN_CONTRAST else INK


def theme_css(brand: Brand, font_url: Callable[[str], str], page_size: str | None = None) -> str:
    """The per-organization stylesheet: colours as custom properties, the report font, and for the PDF the page
    size. Every value in it is a checked colour, a fixed file name or a fixed page size keyword."""
    primary = color_or_default(brand.primary, DEFAULT_PRIMARY)
    accent = color_or_default(brand.accent, DEFAULT_ACCENT)
    lines = [
        f'@font-face {{ font-family: "Source Sans 3"; font-style: normal; font-weight: {weight}; '
        f'src: url("{font_url(name)}") format("woff"); }}'
        for name, weight in FONT_FILES
    ]
    lines.append(
        f":root {{ --brand-primary: {primary}; --brand-primary-ink: {ink_on(primary)}; "
        f"--brand-accent: {accent}; --brand-accent-ink: {ink_on(accent)}; }}"
    )
    if page_size is not None:
        lines.append(f"@page {{ size: {page_size_css(page_size)}; }}")
    return "\n".join(lines) + "\n"


PAGE_SIZES = {"a4": "A4", "letter": "letter"}


def page_size_css(setting: str) -> str:
    """The CSS page size for the REPORT_PAGE_SIZE setting ("A4" or "letter", any case)."""
    size = PAGE_SIZES.get(str(setting).strip().lower())
    if size is None:
        raise ValueError(f"REPORT_PAGE_SIZE must be A4 or letter, not {setting!r}")
    return size


# The logo ---------------------------------------------------------------------------------------------------


def _sniff(data: bytes) -> str:
    """Name the format from the first bytes, only to say clearly why a logo is refused."""
    head = data[:512].lstrip().lower()
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if head.startswith((b"<?xml", b"<svg", b"<!doctype svg")) or b"<svg" in head:
        return "SVG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data[4:8] == b"ftyp":
        return "HEIC"
    return "unknown"


def check_logo(data: bytes) -> None:
    """Refuse what a logo may not be, before any pixel is decoded. Raises BrandError."""
    if not data:
        raise BrandError("That file is empty. Choose a PNG or JPEG logo.")
    if len(data) > LOGO_MAX_BYTES:
        raise BrandError("That logo is larger than 5 MB. Export a smaller PNG or JPEG (a few hundred KB is plenty).")
    kind = _sniff(data)
    if kind == "SVG":
        raise BrandError(
            "SVG logos can't be used: an SVG file can carry scripts and links. Export the logo as PNG (or JPEG) "
            "and upload that."
        )
    if kind not in ("PNG", "JPEG"):
        shown = "That file" if kind == "unknown" else f"A {kind} file"
        raise BrandError(f"{shown} can't be used as a logo. Upload the logo as PNG or JPEG.")
    try:
        with Image.open(io.BytesIO(data), formats=["PNG", "JPEG"]) as im:
            width, height = im.size
    except Exception:
        raise BrandError(DAMAGED_LOGO) from None
    if max(width, height) > LOGO_MAX_EDGE:
        raise BrandError(
            f"That logo is {width} x {height} pixels; a logo may be at most {LOGO_MAX_EDGE} pixels on its long "
            "side. Export a smaller one (1000 pixels wide is plenty for print)."
        )


def store_logo(org_id: int, data: bytes, storage: Storage) -> str:
    """Check and re-encode a logo, store its renditions and return its new id. Raises BrandError; on error
    nothing is stored."""
    check_logo(data)
    try:
        image = ingest_image(data)
    except ImageRejected as e:
        if e.reason in ("damaged", "zero_size", "unsupported"):
            raise BrandError(DAMAGED_LOGO) from None
        raise BrandError(str(e).replace("photo", "logo")) from None
    logo_id = str(uuid.uuid4())
    store(storage, {logo_key(org_id, logo_id, name): image.renditions[name].data for name in LOGO_RENDITIONS})
    return logo_id


def delete_logo(org_id: int, logo_id: str, storage: Storage) -> None:
    remove(storage, [logo_key(org_id, logo_id, name) for name in LOGO_RENDITIONS])
