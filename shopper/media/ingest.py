"""Turn an uploaded photo into the JPEG renditions we keep: display, print and thumb.

Everything is decided from the bytes, never from the file name or the browser's content type.
The renditions are sRGB, upright (EXIF orientation applied) and carry no metadata at all: no EXIF
(so no GPS position, and WeasyPrint embeds the print copy without re-encoding it) and no ICC
profile (untagged JPEG is read as sRGB by browsers and by WeasyPrint).
"""

from __future__ import annotations

import hashlib
import io
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import pillow_heif
from PIL import Image, ImageCms, ImageFile

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 60_000_000
DISPLAY_EDGE, PRINT_EDGE, THUMB_EDGE = 2000, 1400, 400

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
_QUALITY = {"display": 85, "print": 80, "thumb": 75}
_ORIENTATION_TAG = 0x0112
# What ImageOps.exif_transpose does for each EXIF orientation; applied to the small copy, not the full image.
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
_PROFILE_SPACE_FOR_MODE = {"RGB": "RGB", "L": "GRAY", "CMYK": "CMYK"}

pillow_heif.register_heif_opener()
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


_MESSAGES = {
    "empty": "This file is empty. Please choose a photo.",
    "too_large": "This file is larger than 20 MB. Please choose a smaller photo.",
    "unsupported": "This file is not a photo we can read (JPEG, PNG, WebP or HEIC).",
    "zero_size": "This image has no pixels (its width or height is zero).",
    "too_many_pixels": "This image has more than 60 megapixels. Please choose a smaller photo.",
    "animated": "Animated images can't be used. Please choose a still photo.",
    "damaged": "This photo is incomplete or damaged (perhaps it did not finish uploading). Please try again.",
}


class ImageRejected(ValueError):
    """An upload we refuse: ``str(error)`` is shown to the uploader as is; ``reason`` is for code."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _rejected(reason: str) -> ImageRejected:
    return ImageRejected(_MESSAGES[reason], reason)


@dataclass(frozen=True)
class Rendition:
    name: str
    data: bytes
    width: int
    height: int


@dataclass(frozen=True)
class IngestedImage:
    renditions: dict[str, Rendition]
    width: int
    height: int
    source_format: str
    source_bytes: int
    sha256: str


def ingest_image(data: bytes) -> IngestedImage:
    """Check an upload and make its renditions; raises ImageRejected with a message for the user."""
    if not data:
        raise _rejected("empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise _rejected("too_large")
    # A helper thread hashes while this one decodes, then makes the print copy while this one makes the
    # display copy and the thumbnail. Pillow and hashlib release the GIL, so on 2 cores a 12 MP photo takes
    # ~80 ms instead of ~100 ms; the CPU time is the same. The thread lives for one call, never across a fork.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest") as helper:
        digest = helper.submit(_sha256, data)
        picture, orientation, source_format = _display_picture(data)
        print_copy = helper.submit(_smaller_copy, "print", picture, orientation, PRINT_EDGE)
        thumb = _smaller_copy("thumb", picture, orientation, THUMB_EDGE)
        display = _encode("display", _upright(picture, orientation))
        renditions = {"display": display, "print": print_copy.result(), "thumb": thumb}
        sha256 = digest.result()
    return IngestedImage(
        renditions=renditions,
        width=display.width,
        height=display.height,
        source_format=source_format,
        source_bytes=len(data),
        sha256=sha256,
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _display_picture(data: bytes) -> tuple[Image.Image, int, str]:
    """The picture at display size in sRGB RGB without alpha, still as stored; its EXIF orientation; its format."""
    picture, source_format, orientation, icc = _decode(data)
    picture = _normalise_mode(picture)
    picture = _fit(picture, DISPLAY_EDGE)  # first, so the per-pixel work below has fewer pixels to do
    picture = _flatten(picture)
    picture = _to_srgb(picture, icc)
    return picture, orientation, source_format


def _upright(picture: Image.Image, orientation: int) -> Image.Image:
    return picture.transpose(_TRANSPOSE[orientation]) if orientation in _TRANSPOSE else picture


def _smaller_copy(name: str, picture: Image.Image, orientation: int, edge: int) -> Rendition:
    """Scale down first, then turn upright, which is cheaper than turning the big picture.

    HAMMING costs half of LANCZOS (~25 ms at these sizes) and the difference cannot be seen at the size
    these copies are shown or printed.
    """
    return _encode(name, _upright(_fit(picture, edge, Image.Resampling.HAMMING), orientation))


def _decode(data: bytes) -> tuple[Image.Image, str, int, bytes | None]:
    """Open and decode with every safety check on; returns (pixels, format, EXIF orientation, ICC profile).

    WeasyPrint sets ImageFile.LOAD_TRUNCATED_IMAGES for the whole process when it is imported, which
    would let a half-uploaded photo through, so it is forced back off on every call.
    """
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _rejected("too_many_pixels") from None
        except Exception:
            raise _rejected(_unopenable_reason(data)) from None

        width, height = im.size
        if width <= 0 or height <= 0:
            raise _rejected("zero_size")
        # The limit itself: Pillow's check above depends on a global setting and on warning filters, which
        # catch_warnings() does not guard against other threads changing.
        if width * height > MAX_PIXELS:
            raise _rejected("too_many_pixels")
        # MPO (iPhone JPEGs) and multi-image HEIF hold extra pictures, not frames of an animation:
        # Pillow has the first (MPO) or primary (HEIF) picture selected, and that is the photo.
        if im.format in ("PNG", "WEBP") and getattr(im, "is_animated", False):
            raise _rejected("animated")
        if im.format in ("JPEG", "MPO"):
            # Let libjpeg decode at 1/2, 1/4 or 1/8 scale; the long edge stays >= DISPLAY_EDGE.
            im.draft("RGB", _draft_size(width, height))
        try:
            im.load()
        except Exception:
            raise _rejected("damaged") from None
    source_format = "JPEG" if im.format == "MPO" else im.format
    return im, source_format, _orientation(im), im.info.get("icc_profile") or None


def _draft_size(width: int, height: int) -> tuple[int, int]:
    """A size for Image.draft that keeps the long edge >= DISPLAY_EDGE whichever way the photo is stored."""
    if width >= height:
        return DISPLAY_EDGE, max(1, height * DISPLAY_EDGE // width)
    return max(1, width * DISPLAY_EDGE // height), DISPLAY_EDGE


def _unopenable_reason(data: bytes) -> str:
    """Why Pillow could not open the file: a cut-off or corrupt file in an allowed format is "damaged"."""
    if _declares_zero_size(data):
        return "zero_size"
    if data.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")):
        return "damaged"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "damaged"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "damaged"
    return "unsupported"


def _declares_zero_size(data: bytes) -> bool:
    """Pillow will not open a PNG or JPEG whose header says 0 pixels wide or high; tell that case apart."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        return data[16:20] == bytes(4) or data[20:24] == bytes(4)
    if not data.startswith(b"\xff\xd8"):
        return False
    pos = 2
    while pos + 9 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start-of-frame segment
            return data[pos + 5 : pos + 7] == bytes(2) or data[pos + 7 : pos + 9] == bytes(2)
        if marker == 0xDA:  # start of scan: no frame header came first
            return False
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return False


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation, or 1 when it is missing or the EXIF block cannot be read."""
    try:
        value = im.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:
        return 1
    return value if isinstance(value, int) else 1


def _normalise_mode(im: Image.Image) -> Image.Image:
    """Bring any decoded mode to RGB, RGBA, L, LA or CMYK, which resize well and which ImageCms accepts."""
    mode = im.mode
    if mode in ("RGB", "L") and "transparency" in im.info:  # a PNG colour key
        return im.convert(mode + "A")
    if mode in ("RGB", "RGBA", "L", "LA", "CMYK"):
        return im
    if mode.startswith("I;16") or mode == "I":
        # 16-bit greyscale (PNG): scale 0-65535 down to 0-255 instead of letting convert() clip it.
        return im.convert("I").point(lambda value: value * (1 / 257)).convert("L")
    if mode == "1":
        return im.convert("L")
    has_alpha = "A" in mode or "a" in mode or "transparency" in im.info
    return im.convert("RGBA" if has_alpha else "RGB")


def _fit(im: Image.Image, edge: int, resample: Image.Resampling = Image.Resampling.LANCZOS) -> Image.Image:
    """Scale down so the long edge is ``edge``; never scale up."""
    width, height = im.size
    long_edge = max(width, height)
    if long_edge <= edge:
        return im
    size = (max(1, round(width * edge / long_edge)), max(1, round(height * edge / long_edge)))
    return im.resize(size, resample, reducing_gap=2.0)


def _flatten(im: Image.Image) -> Image.Image:
    """Put transparent pixels on white: JPEG has no alpha, and black (convert's default) hides content."""
    if im.mode not in ("RGBA", "LA"):
        return im
    base = im.mode[:-1]
    background = Image.new(base, im.size, "white")
    background.paste(im.convert(base), mask=im.getchannel("A"))
    return background


def _to_srgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """Convert RGB, L or CMYK pixels to sRGB RGB, through the embedded ICC profile when it fits the mode."""
    if icc is not None:
        transform = _transform_to_srgb(icc, im.mode)
        if transform is not None:
            # RGB is converted in place: the picture is ours alone, and a fresh 12 MB image costs ~7 ms.
            return transform.apply(im, im if im.mode == "RGB" else None)
    return im if im.mode == "RGB" else im.convert("RGB")


@lru_cache(maxsize=16)
def _transform_to_srgb(icc: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    """A colour transform from the embedded profile to sRGB, or None when there is nothing to do.

    None for an sRGB profile (the transform would cost ~30 ms on the display copy and change nothing), and
    for a profile that is broken or does not describe this mode (the pixels are then taken as sRGB).
    Cached because phones embed the same few profiles (Display P3, sRGB) in every photo.
    """
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if source.profile.xcolor_space.strip() != _PROFILE_SPACE_FOR_MODE.get(mode):
            return None
        if mode == "RGB" and (source.profile.profile_description or "").startswith("sRGB"):
            return None
        return ImageCms.buildTransform(source, _srgb_profile(), mode, "RGB")
    except Exception:
        return None


@lru_cache(maxsize=1)
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _encode(name: str, im: Image.Image) -> Rendition:
    buffer = io.BytesIO()
    im.save(buffer, format="JPEG", quality=_QUALITY[name], optimize=False, progressive=False)
    return Rendition(name=name, data=buffer.getvalue(), width=im.width, height=im.height)
