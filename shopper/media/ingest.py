"""Turn an uploaded photo into the JPEG renditions we keep: display, print and thumb.

Everything is decided from the bytes, never from the file name or the browser's content type.
The renditions are sRGB, upright (EXIF orientation applied) and carry no metadata at all: no EXIF
(so no GPS position, and WeasyPrint embeds the print copy without re-encoding it) and no ICC
profile (untagged JPEG is read as sRGB by browsers and by WeasyPrint).

Close to a plain decode
-----------------------
After the decode, the work is what Pillow spends on resizing and encoding, so there is as little of it as
possible: JPEG is decoded at the smallest draft scale that keeps the display size; the full-size picture is
box-reduced by the whole factor (Image.reduce) and only the rest, less than 2x, is resampled (HAMMING); an opaque
RGBA picture (most screenshots) drops its alpha instead of being pasted on white; the colour transform and the
EXIF orientation are applied once, to the display copy; print is made from display and thumb from print; a helper
thread hashes the upload and encodes display and print. bench/bench_ingest.py measures each against a plain
decode of the same file.

Tiny files that decode huge
---------------------------
A file's size says nothing of what it costs to decode: 32 bytes of lossless WebP can declare 16383 x 16383 pixels
of one colour, 7 KB of PNG 60 MP. So every check that needs no pixels runs on the header, before any decode:
Image.open reads only the header, except for WebP, where opening creates libwebp's decoder and its canvas, so a
WebP's size is read from its RIFF header first. Then the decode must fit its format's budget. The estimate is the
memory held at the peak of the full-size stage (the decode, and our steps until the picture is at display size),
from the size and mode the decoder will produce, plus 32 MiB for the display-size work that follows:

- Pillow's image: 1 byte a pixel in modes 1, L and P, 2 in 16-bit grey, 4 in every other mode (Pillow stores RGB
  in 4 bytes; 16-bit colour PNGs decode to 8-bit RGB or RGBA).
- our full-size steps (_STEPS): the conversion to a mode that resizes well (a palette becomes RGB: +4 bytes a
  pixel), flattening alpha onto white or, when every pixel is opaque, dropping it (+4 for RGBA either way), then
  the resize (_fit), whose box-reduced copy, horizontal pass and result are alive together with its source (+3
  bytes a pixel for a 12 MP RGB picture, less for bigger ones; only the reduced copy when the factor is whole).
- the decoder's own memory. JPEG: only when the file is progressive or sends its components in separate scans;
  libjpeg then keeps every DCT coefficient of the full-size picture, 128 bytes per 8 x 8 block per component
  (3 bytes a pixel at 4:2:0, 6 at 4:4:4), whatever the draft scale. PNG: one row. HEIF: libheif's planes
  (1.5 bytes a pixel at 8-bit 4:2:0, twice that above 8 bits) and the interleaved copy it hands to Pillow; both are
  freed before load() returns, so they weigh against our steps, not on top. WebP: 12 bytes a pixel (libwebp's
  canvas and frame, and the copy Pillow takes of it), kept while the image lives, so they add up.

Measured growth of peak RSS for a plain open + load in a fresh process (Pillow 13.0, libjpeg-turbo 3.2,
libwebp 1.6, pillow-heif 1.8.1; bytes per source pixel): baseline JPEG with draft 1.06 at 12 MP and 0.26 at 48 MP;
progressive JPEG 4.05 (4:2:0), 7.05 (4:4:4), 3.26 (48 MP 4:2:0); PNG 1.0 (1, L, P), 2.0 (16-bit grey), 4.0 (RGB,
RGBA, LA, 16-bit colour); WebP 16.0-16.2 (lossy or lossless, with or without alpha); HEIF RGB 7.3-8.0 (8-bit
4:2:0, 12 and 48 MP), 7.9 (10-bit), 9.4 (4:4:4), RGBA 8.6, L 2.6, 16-bit grey 4.6. Against a whole ingest's
measured peak, the full-size part of the estimate comes within ~1 MB above it for PNG and progressive JPEG, and
12-25% above it for WebP and HEIF; the 32 MiB covers the display-size work, the peak of small uploads and of
baseline JPEGs (up to 31 MB measured). bench/bench_ingest.py prints both. The limits let real photos through and
stop there:

- JPEG 256 MiB. Any baseline JPEG up to the 60 MP cap is estimated at 45-75 MB, since draft decodes it at 1/2 to
  1/8 scale; a progressive 48 MP 4:2:0 one at ~190 MB. Refused: progressive 4:4:4 beyond 33 MP.
- HEIF 512 MiB. Phones write 12-50 MP, some in 10 bits: an iPhone's 8064 x 6048 is estimated at 448 MB in 8 bits
  (measured 355 MB) and 521 MB in 10 bits; a 50 MP 8160 x 6120 at 458 and 533 MB. 8-bit 4:2:0 passes up to 59 MP,
  10-bit or 4:4:4 up to 50 MP, RGBA up to 48 MP.
- PNG 192 MiB. Screenshots are 3-20 MP: RGB passes up to 29 MP, RGBA 21 MP, 16-bit grey 33 MP; a 60 MP PNG of
  one colour, 174 KB in RGB or 7 KB with a 1-bit palette, which took 300+ MB, does not.
- WebP 352 MiB. WebP photos are rarely above 12-16 MP: RGB passes up to 18 MP, RGBA 16 MP. The 2.5 KB 59.5 MP
  file of issue 12 (estimated 1.09 GB; it took a worker from 85 to 1,093 MB) does not.

Only JPEG can be decoded at a reduced scale here: Pillow's WebP plugin uses libwebp's animation decoder, which has
no scaling; libheif always decodes the whole picture (pillow-heif's draft only swaps in an embedded thumbnail, far
smaller than the display copy); zlib has no shortcut; Image.reduce works on decoded pixels.

Each process lets a bounded number of decodes run at once (set_decode_concurrency, from IMAGE_DECODE_CONCURRENCY):
the slot is held from the decode until the picture is at display size, so a worker holds at most that many budgets.
A decode that gets no slot within the wait is refused with ImageBusy (status 503 with Retry-After), which the
phone's outbox retries.
"""

from __future__ import annotations

import hashlib
import io
import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import pillow_heif
from PIL import Image, ImageCms, ImageFile

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 60_000_000
DISPLAY_EDGE, PRINT_EDGE, THUMB_EDGE = 2000, 1400, 400
MiB = 1024 * 1024
DECODE_LIMITS = {"JPEG": 256 * MiB, "HEIF": 512 * MiB, "PNG": 192 * MiB, "WEBP": 352 * MiB}
DECODE_CONCURRENCY = 2
DECODE_WAIT_SECONDS = 10.0  # well inside gunicorn's 30 s timeout, with the decode still to come
BUSY_RETRY_AFTER_SECONDS = 5

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

# Our full-size steps by decoded mode, as bytes per pixel: the peak of the conversions before the resize (each
# step's input is still held while its output is made), and the picture that is then resized.
_STEPS: dict[str, tuple[int, int]] = {
    "1": (1 + 1, 1),  # to L
    "L": (1, 1),
    "I;16": (2 + 2 + 1, 1),  # scaled in its own mode, then to L
    "I": (4 + 4 + 1, 1),
    "P": (1 + 4, 4),  # to RGB
    "LA": (4 + 1 + 1, 1),  # flattened onto white, in grey (opaque: its alpha read, then dropped)
    "RGB": (4, 4),
    "CMYK": (4, 4),
    "RGBA": (4 + 4, 4),  # flattened onto RGB (opaque: its alpha read, then dropped)
}
_STEPS_KEYED = {"L": (4 + 1 + 1, 1), "P": (4 + 4, 4), "RGB": (4 + 4, 4)}  # a colour key or palette transparency
_STEPS_OTHER = (4 + 4 + 4, 4)
_WEBP_DECODER_BYTES = 12
_HEIF_CHROMA_SAMPLES = {420: 0.5, 422: 1.0, 444: 2.0}  # chroma samples per pixel, both planes together
# The display-size work after the resize (at most a 2000 x 2000 picture, its upright copy, the encoders' buffers;
# up to 31 MB measured) and the libraries' own tables: the same for every upload.
_AFTER_FIT_BYTES = 32 * MiB
_JPEG_BLOCK_BYTES = 64 * 2  # libjpeg's JBLOCK: 64 coefficients of 16 bits
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # start-of-frame markers (not DHT, JPG, DAC)
_JPEG_ONE_PASS_SOF = {0xC0, 0xC1}  # baseline and extended sequential: decoded a band of rows at a time

pillow_heif.register_heif_opener()
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


_MESSAGES = {
    "empty": "This file is empty. Please choose a photo.",
    "too_large": "This file is larger than 20 MB. Please choose a smaller photo.",
    "unsupported": "This file is not a photo we can read (JPEG, PNG, WebP or HEIC).",
    "zero_size": "This image has no pixels (its width or height is zero).",
    "too_many_pixels": "This image has more than 60 megapixels. Please choose a smaller photo.",
    "too_big_to_process": (
        "This image is too large to process. Please choose a smaller photo, or a screenshot of the part you need."
    ),
    "animated": "Animated images can't be used. Please choose a still photo.",
    "damaged": "This photo is incomplete or damaged (perhaps it did not finish uploading). Please try again.",
    "busy": "We are busy with other images right now. Please try again in a moment.",
}


class ImageRejected(ValueError):
    """An upload we refuse: ``str(error)`` is shown to the uploader as is; ``reason`` is for code.

    ``status`` is the HTTP status that fits; ``retry_after`` (seconds) is set when sending again later will work.
    """

    status = 422
    retry_after: int | None = None

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class ImageBusy(ImageRejected):
    """Every decode slot of this process stayed taken: nothing is wrong with the image, send it again soon."""

    status = 503
    retry_after = BUSY_RETRY_AFTER_SECONDS


def _rejected(reason: str) -> ImageRejected:
    return ImageRejected(_MESSAGES[reason], reason)


_slots = threading.BoundedSemaphore(DECODE_CONCURRENCY)
_wait_seconds = DECODE_WAIT_SECONDS


def set_decode_concurrency(limit: int, wait_seconds: float = DECODE_WAIT_SECONDS) -> None:
    """Let at most ``limit`` decodes run at once in this process; a further one waits up to ``wait_seconds`` for
    a slot, then is refused with ImageBusy. Raises ValueError unless ``limit`` is a whole number >= 1 and
    ``wait_seconds`` is positive."""
    global _slots, _wait_seconds
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"The number of concurrent image decodes must be a whole number of at least 1, not {limit!r}.")
    if not wait_seconds > 0:
        raise ValueError(f"The wait for a decode slot must be a positive number of seconds, not {wait_seconds!r}.")
    _slots, _wait_seconds = threading.BoundedSemaphore(limit), wait_seconds


@contextmanager
def decode_slot() -> Iterator[None]:
    """Hold one of this process's decode slots; raises ImageBusy if none frees up in time."""
    slots = _slots  # the one acquired is the one released, even if the bound changes meanwhile
    if not slots.acquire(timeout=_wait_seconds):
        raise ImageBusy(_MESSAGES["busy"], "busy")
    try:
        yield
    finally:
        slots.release()


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


@dataclass(frozen=True)
class DecodeCost:
    """The memory a decode is estimated to hold at its peak, and the limit of its format, in bytes."""

    format: str
    mode: str
    width: int
    height: int
    bytes: int
    limit: int


def ingest_image(data: bytes) -> IngestedImage:
    """Check an upload and make its renditions.

    Raises ImageRejected with a message for the user (ImageBusy, a subclass, when no decode slot freed up in time).
    """
    if not data:
        raise _rejected("empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise _rejected("too_large")
    # Each copy is made from the next bigger one, already upright: display from the decode, print from
    # display, thumb from print. A helper thread hashes while this one decodes, then encodes the display and
    # print copies while this one resizes. Pillow and hashlib release the GIL, so the copies cost less wall time
    # on 2 cores; the CPU time is the same. The thread lives for one call, never across a fork.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest") as helper:
        digest = helper.submit(_sha256, data)
        display_picture, source_format = _display_picture(data)
        display_copy = helper.submit(_encode, "display", display_picture)
        print_picture = _fit(display_picture, PRINT_EDGE)
        print_copy = helper.submit(_encode, "print", print_picture)
        thumb_picture = _fit(print_picture, THUMB_EDGE)
        # Image.save keeps its options on the image: a picture of 400 px or less, the same object for all three
        # copies, is copied so that two threads never save one image at once.
        thumb = _encode("thumb", thumb_picture.copy() if thumb_picture is print_picture else thumb_picture)
        display = display_copy.result()
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


def decode_cost(data: bytes) -> DecodeCost:
    """What decoding ``data`` is estimated to cost, and its format's limit, from the header alone.

    Raises ImageRejected when the file cannot be opened or fails a check that needs no pixels.
    """
    cost = _webp_cost(data)
    if cost is None:
        im, full_size = _open_header(data)
        cost = _decode_cost(im, data, full_size)
    return cost


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _display_picture(data: bytes) -> tuple[Image.Image, str]:
    """The picture at display size in sRGB RGB without alpha, upright; and its format.

    ``picture`` is the only reference to each full-size image, so each is freed as soon as the next exists: the
    peak is what the budget counts. The EXIF orientation is applied once, to the display-size picture.
    """
    picture = _open(data)
    source_format = _source_format(picture)
    with decode_slot():
        _load(picture)
        orientation, icc = _orientation(picture), picture.info.get("icc_profile") or None
        picture = _normalise_mode(picture)
        picture = _flatten(picture)
        picture = _fit(picture, DISPLAY_EDGE)  # before the colour work, so it has fewer pixels to do
    picture = _to_srgb(picture, icc)
    return _upright(picture, orientation), source_format


def _upright(picture: Image.Image, orientation: int) -> Image.Image:
    return picture.transpose(_TRANSPOSE[orientation]) if orientation in _TRANSPOSE else picture


def _open(data: bytes) -> Image.Image:
    """Open the file and make every check that needs no pixels, the decode budget last; nothing is decoded yet."""
    cost = _webp_cost(data)
    if cost is not None:
        _check_budget(cost)  # before Image.open, which creates libwebp's decoder and its canvas
    im, full_size = _open_header(data)
    _check_budget(cost or _decode_cost(im, data, full_size))
    return im


def _open_header(data: bytes) -> tuple[Image.Image, tuple[int, int]]:
    """Open with every safety check on; returns the image, set to decode at draft scale, and its full size."""
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
    return im, (width, height)


def _load(im: Image.Image) -> None:
    """Decode the pixels. WeasyPrint sets ImageFile.LOAD_TRUNCATED_IMAGES for the whole process when it is
    imported, which would let a half-uploaded photo through, so it is forced back off right before."""
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        im.load()
    except Exception:
        raise _rejected("damaged") from None


def _draft_size(width: int, height: int) -> tuple[int, int]:
    """A size for Image.draft that keeps the long edge >= DISPLAY_EDGE whichever way the photo is stored."""
    if width >= height:
        return DISPLAY_EDGE, max(1, height * DISPLAY_EDGE // width)
    return max(1, width * DISPLAY_EDGE // height), DISPLAY_EDGE


def _source_format(im: Image.Image) -> str:
    return "JPEG" if im.format == "MPO" else str(im.format)


def _check_budget(cost: DecodeCost) -> None:
    if cost.width * cost.height > MAX_PIXELS:
        raise _rejected("too_many_pixels")
    if cost.bytes > cost.limit:
        raise _rejected("too_big_to_process")


def _decode_cost(im: Image.Image, data: bytes, full_size: tuple[int, int]) -> DecodeCost:
    """The budget estimate for an opened image (see the module docstring); ``im.size`` is what will be decoded."""
    source_format = _source_format(im)
    pixels = im.width * im.height
    if source_format == "JPEG":
        decoder = _jpeg_coefficient_bytes(data, getattr(im, "layer", None), full_size)
    elif source_format == "HEIF":
        decoder = round(pixels * _heif_bytes_per_pixel(im))
    elif source_format == "WEBP":
        decoder = pixels * _WEBP_DECODER_BYTES
    else:
        decoder = 0
    return _cost(source_format, im.mode, full_size, im.size, decoder, keyed="transparency" in im.info)


def _cost(
    source_format: str,
    mode: str,
    full_size: tuple[int, int],
    decoded_size: tuple[int, int],
    decoder: int,
    keyed: bool = False,
) -> DecodeCost:
    """Add up the estimate: Pillow's image, our full-size steps and the decoder's own ``decoder`` bytes."""
    pixels = decoded_size[0] * decoded_size[1]
    steps = _STEPS_KEYED if keyed and mode in _STEPS_KEYED else _STEPS
    converting, resized = steps.get("I;16" if mode.startswith("I;16") else mode, _STEPS_OTHER)
    working = max(pixels * converting, resized * (pixels + _resize_pixels(*decoded_size)))
    decoded = pixels * _stored_bytes(mode)
    # Pillow keeps libwebp's decoder for as long as the image lives; libjpeg and libheif free theirs in load().
    peak = decoder + working if source_format == "WEBP" else max(decoded + decoder, working)
    return DecodeCost(
        source_format, mode, *full_size, bytes=peak + _AFTER_FIT_BYTES, limit=DECODE_LIMITS[source_format]
    )


def _resize_pixels(width: int, height: int) -> int:
    """Pixels the display resize (_fit) makes beside its source: the box-reduced copy, then the resize's
    horizontal pass and its result, all alive at the end; only the reduced copy when it is the result."""
    out_width, out_height = _fitted_size(width, height, DISPLAY_EDGE)
    if (out_width, out_height) == (width, height):
        return 0
    factor_x, factor_y = width // out_width, height // out_height
    if (factor_x * out_width, factor_y * out_height) == (width, height):
        return out_width * out_height
    reduced_width, reduced_height = -(-width // factor_x), -(-height // factor_y)
    reduced = reduced_width * reduced_height if factor_x > 1 or factor_y > 1 else 0
    return reduced + out_width * reduced_height + out_width * out_height


def _stored_bytes(mode: str) -> int:
    """Bytes a pixel of Pillow's image takes in ``mode`` (RGB is stored in 4)."""
    if mode in ("1", "L", "P"):
        return 1
    return 2 if mode.startswith("I;16") else 4


def _webp_cost(data: bytes) -> DecodeCost | None:
    """The estimate for a WebP from its first chunk, before Pillow opens it; None when that chunk is not one of
    the three WebP starts with, or is cut short (Pillow then refuses it, or the opened image is estimated)."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:  # extended: canvas size, and the alpha flag
        alpha = bool(data[20] & 0x10)
        size = int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    elif chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:  # lossless: width - 1, height - 1, alpha
        bits = int.from_bytes(data[21:25], "little")
        alpha = bool(bits >> 28 & 1)
        size = (bits & 0x3FFF) + 1, (bits >> 14 & 0x3FFF) + 1
    elif chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":  # lossy, no alpha
        alpha = False
        size = int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(data[28:30], "little") & 0x3FFF
    else:
        return None
    decoder = size[0] * size[1] * _WEBP_DECODER_BYTES
    return _cost("WEBP", "RGBA" if alpha else "RGB", size, size, decoder)


def _heif_bytes_per_pixel(im: Image.Image) -> float:
    """libheif's planes and the interleaved copy it makes for Pillow (8 bits a channel, 16 for 16-bit grey)."""
    bands = len(im.getbands())
    sample = 2 if int(im.info.get("bit_depth") or 8) > 8 else 1
    chroma = 0.0 if im.mode in ("L", "LA") or im.mode.startswith("I;16") else _chroma_samples(im.info.get("chroma"))
    alpha = 1 if im.mode.endswith("A") else 0
    interleaved = bands * (2 if im.mode.startswith("I;16") else 1)
    return (1 + chroma + alpha) * sample + interleaved


def _chroma_samples(chroma: object) -> float:
    return _HEIF_CHROMA_SAMPLES.get(chroma, 2.0) if isinstance(chroma, int) else 2.0


def _jpeg_coefficient_bytes(data: bytes, layers: object, full_size: tuple[int, int]) -> int:
    """The DCT coefficients libjpeg keeps for the whole picture when it decodes in several passes, else 0.

    ``layers`` is Pillow's JpegImageFile.layer: (component id, horizontal and vertical sampling, table) each.
    Blocks are counted in whole MCUs, as libjpeg allocates them.
    """
    if _jpeg_decodes_in_one_pass(data):
        return 0
    samplings = [(h, v) for _, h, v, _ in layers] if isinstance(layers, list) and layers else [(1, 1)] * 4
    h_max = max(h for h, _ in samplings)
    v_max = max(v for _, v in samplings)
    width, height = full_size
    mcus = -(-width // (8 * h_max)) * -(-height // (8 * v_max))
    return mcus * sum(h * v for h, v in samplings) * _JPEG_BLOCK_BYTES


def _jpeg_decodes_in_one_pass(data: bytes) -> bool:
    """True for a sequential JPEG whose first scan carries every component (libjpeg then needs no whole-image
    buffer); False for a progressive one, one whose colours come in separate scans, or one we cannot follow."""
    components = None
    for marker, payload in _jpeg_segments(data):
        if marker in _JPEG_SOF:
            if marker not in _JPEG_ONE_PASS_SOF or len(payload) < 6:
                return False
            components = payload[5]
        elif marker == 0xDA:
            return components is not None and len(payload) > 0 and payload[0] >= components
    return False


def _jpeg_segments(data: bytes) -> Iterator[tuple[int, bytes]]:
    """A JPEG's marker segments up to its first scan header: (marker, the segment after its length field)."""
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        yield marker, data[pos + 4 : end]
        if marker == 0xDA:  # start of scan: the entropy-coded data follows
            return
        pos = end


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
    for marker, payload in _jpeg_segments(data):
        if marker in _JPEG_SOF:  # precision, then height and width
            return payload[1:3] == bytes(2) or payload[3:5] == bytes(2)
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
        # 16-bit greyscale (PNG, HEIF): scale 0-65535 down to 0-255 instead of letting convert() clip it, in the
        # image's own mode (a 16-bit copy, not the 32-bit one of converting to "I" first).
        return im.point(lambda value: value * (1 / 257)).convert("L")
    if mode == "1":
        return im.convert("L")
    has_alpha = "A" in mode or "a" in mode or "transparency" in im.info
    return im.convert("RGBA" if has_alpha else "RGB")


def _fit(im: Image.Image, edge: int) -> Image.Image:
    """Scale down so the long edge is ``edge``; never scale up.

    A box reduce by the whole factor first (Image.reduce, cheap), which leaves the picture less than twice the
    size asked for, then HAMMING for the rest. HAMMING on that last step comes within 44 dB of LANCZOS on a
    noisy photo, finer than the JPEG encode can keep, at half the cost of BICUBIC and a third of LANCZOS. When the
    reduce lands on the size exactly (a 4000 x 3000 HEIC to 2000 x 1500), that is the result.
    """
    width, height = im.size
    size = _fitted_size(width, height, edge)
    if size == im.size:
        return im
    factor_x, factor_y = width // size[0], height // size[1]
    if (factor_x * size[0], factor_y * size[1]) == im.size:
        return im.reduce((factor_x, factor_y))
    return im.resize(size, Image.Resampling.HAMMING, reducing_gap=1.0)


def _fitted_size(width: int, height: int, edge: int) -> tuple[int, int]:
    long_edge = max(width, height)
    if long_edge <= edge:
        return width, height
    return max(1, round(width * edge / long_edge)), max(1, round(height * edge / long_edge))


def _flatten(im: Image.Image) -> Image.Image:
    """Put transparent pixels on white: JPEG has no alpha, and black (convert's default) hides content.

    Done at full size, before the resize: pasting through the image's own alpha needs one new picture, where
    resizing an image with alpha first makes a premultiplied copy of it and then the resize's own. Most
    screenshots are RGBA with every pixel opaque: their alpha is dropped instead (3.5 ms to read the alpha's
    extremes and 5 ms to convert a 3.6 MP screenshot, against 12 ms for the paste).
    """
    if im.mode not in ("RGBA", "LA"):
        return im
    if im.getchannel("A").getextrema() == (255, 255):
        return im.convert(im.mode[:-1])
    background = Image.new(im.mode[:-1], im.size, "white")
    background.paste(im, mask=im)
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
