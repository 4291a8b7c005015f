"""Make real image files in memory for tests and benchmarks, so no binary fixture is committed.

Besides plain encoders this builds the awkward inputs ingest must handle: EXIF orientation and GPS blocks,
ICC profiles written byte by byte (Pillow can only create sRGB), MPO, HEIC, animations, and crafted
headers that declare sizes no real pixels back up.
"""

from __future__ import annotations

import io
import struct
import zlib
from itertools import product

import pillow_heif
from PIL import Image

pillow_heif.register_heif_opener()

RED = (255, 0, 0)
WHITE = (255, 255, 255)
ORIENTATION_TAG = 0x0112
GPS_IFD = 0x8825

# Stored pixels -> upright pixels for each EXIF orientation is what ImageOps.exif_transpose does;
# these are the inverse operations, upright -> stored.
_STORE_FOR_ORIENTATION = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def encode(im: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def marked_image(size: tuple[int, int] = (160, 120)) -> Image.Image:
    """A grey landscape image with a red block in its top-left quarter: any wrong turn or flip shows."""
    im = Image.new("RGB", size, (128, 128, 128))
    im.paste(RED, (0, 0, size[0] // 4, size[1] // 4))
    return im


def stored_as(upright: Image.Image, orientation: int) -> Image.Image:
    """The pixels a camera would store so that applying EXIF ``orientation`` shows ``upright``."""
    method = _STORE_FOR_ORIENTATION[orientation]
    return upright.copy() if method is None else upright.transpose(method)


def exif_bytes(orientation: int | None = None, gps: bool = False) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "ShopperCam"  # Make
    if orientation is not None:
        exif[ORIENTATION_TAG] = orientation
    if gps:
        gps_ifd = exif.get_ifd(GPS_IFD)
        gps_ifd[1] = "N"
        gps_ifd[2] = (52.0, 22.0, 13.5)
        gps_ifd[3] = "E"
        gps_ifd[4] = (4.0, 53.0, 42.0)
    return exif.tobytes()


def oriented_jpeg(orientation: int, size: tuple[int, int] = (160, 120)) -> bytes:
    return encode(stored_as(marked_image(size), orientation), "JPEG", quality=95, exif=exif_bytes(orientation))


def photo(size: tuple[int, int] = (4000, 3000), noise: float = 25.0) -> Image.Image:
    """Colour gradients with noise: compresses like a phone photo (12 MP -> ~4 MB JPEG at q92)."""
    width, height = size
    channels = []
    for angle in (0, 90, 45):
        gradient = Image.linear_gradient("L").rotate(angle).resize(size)
        grain = Image.effect_noise((max(1, width // 2), max(1, height // 2)), noise).resize(size)
        channels.append(Image.blend(gradient, grain, 0.5))
    return Image.merge("RGB", channels)


def phone_jpeg(size: tuple[int, int] = (4000, 3000), orientation: int = 6, quality: int = 92) -> bytes:
    """A camera-like JPEG: noisy content, EXIF orientation and a GPS block."""
    return encode(photo(size), "JPEG", quality=quality, exif=exif_bytes(orientation, gps=True))


def heic(im: Image.Image, **params: object) -> bytes:
    return encode(im, "HEIF", **params)


def heic_declaring(width: int, height: int, bit_depth: int = 8) -> bytes:
    """A real 64 x 64 HEIC whose image size (its ``ispe`` box) is rewritten: Pillow opens it at ``width`` x
    ``height``, with the bit depth and 4:2:0 chroma of the real picture, and a decode would fail."""
    if bit_depth == 8:
        data = heic(marked_image((64, 64)), quality=50)
    else:
        buffer = io.BytesIO()
        pillow_heif.from_bytes(mode="RGB;16", size=(64, 64), data=bytes(64 * 64 * 6)).save(buffer, quality=50)
        data = buffer.getvalue()
    patched = bytearray(data)
    ispe = patched.index(b"ispe")
    patched[ispe + 8 : ispe + 16] = struct.pack(">II", width, height)  # after the box's version and flags
    return bytes(patched)


def mpo(first: Image.Image, second: Image.Image, **params: object) -> bytes:
    return encode(first, "MPO", save_all=True, append_images=[second], **params)


def animated(fmt: str, size: tuple[int, int] = (32, 32)) -> bytes:
    frames = [Image.new("RGB", size, colour) for colour in (RED, (0, 0, 255))]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)


def png_declaring(width: int, height: int, bit_depth: int = 8, colour_type: int = 2) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` pixels, with almost no pixel data behind it.

    Pillow opens it (the header is all it reads) and a decode would fail: the pixel data is cut short.
    ``colour_type`` is PNG's: 0 grey, 2 RGB, 3 palette, 4 grey and alpha, 6 RGBA.
    """
    return _png(width, height, bit_depth, colour_type, zlib.compress(b"\0" * 64))


def png_filled(width: int, height: int, bit_depth: int = 8, colour_type: int = 2) -> bytes:
    """A complete, valid PNG of ``width`` x ``height`` black (or transparent) pixels.

    Identical rows compress about 1000:1, so 60 MP fit in a few hundred KB, or 7 KB at one bit per pixel:
    the tiny file that decodes huge.
    """
    row = bytes(1 + (width * _PNG_CHANNELS[colour_type] * bit_depth + 7) // 8)  # filter type 0, then zeros
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return _png(width, height, bit_depth, colour_type, pixels)


_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def _png(width: int, height: int, bit_depth: int, colour_type: int, pixels: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    palette = _png_chunk(b"PLTE", bytes(3 * 2**bit_depth)) if colour_type == 3 else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + palette
        + _png_chunk(b"IDAT", pixels)
        + _png_chunk(b"IEND", b"")
    )


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def jpeg_declaring(
    width: int,
    height: int,
    progressive: bool = False,
    subsampling: int = 2,
    first_scan_components: int | None = None,
) -> bytes:
    """A real JPEG with its frame header's width and height rewritten, so its pixel data falls far short.

    ``subsampling`` is Pillow's (0 is 4:4:4, 2 is 4:2:0). ``first_scan_components`` rewrites the first scan to
    carry only that many of the three components, as in a baseline JPEG that sends its colours in separate scans.
    """
    im = Image.new("RGB", (16, 16), RED)
    data = bytearray(encode(im, "JPEG", progressive=progressive, subsampling=subsampling))
    sof = data.index(b"\xff\xc2" if progressive else b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    if first_scan_components is not None:
        sos = data.index(b"\xff\xda")
        end = sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big")
        components = data[sos + 5 : sos + 5 + 2 * first_scan_components]
        segment = bytes([first_scan_components]) + components + data[end - 3 : end]  # then Ss, Se, Ah/Al
        data[sos + 2 : end] = struct.pack(">H", 2 + len(segment)) + segment
    return bytes(data)


def webp_lossless(width: int, height: int, colour: tuple[int, int, int, int] = (*RED, 255)) -> bytes:
    """A valid lossless WebP of one colour, written bit by bit: 32 bytes, whatever its size (up to 16384 px).

    Each of its five prefix codes has a single symbol, which takes no bits at all, so every pixel is free. That is
    how Pillow's own encoder writes a 59.5 MP picture of one colour in 2.3 KB.
    """
    red, green, blue, alpha = colour
    bits = _webp_lossless_header(width, height, alpha != 255)
    bits.put(0, 1)  # no transform
    bits.put(0, 1)  # no colour cache
    bits.put(0, 1)  # one group of prefix codes for the whole picture
    for symbol in (green, red, blue, alpha):
        bits.put(1, 1)  # a simple code
        bits.put(0, 1)  # of one symbol
        bits.put(1, 1)  # written in 8 bits
        bits.put(symbol, 8)
    bits.put(0b0001, 4)  # the distance code: simple, one symbol, written in 1 bit, 0
    return _webp_file(b"VP8L", b"\x2f" + bits.to_bytes())


def webp_declaring(width: int, height: int, alpha: bool = False) -> bytes:
    """A lossless WebP that ends after its header: Pillow opens it, and a decode would fail."""
    return _webp_file(b"VP8L", b"\x2f" + _webp_lossless_header(width, height, alpha).to_bytes())


class _Bits:
    """Writes values least significant bit first, the order of WebP's lossless bitstream."""

    def __init__(self) -> None:
        self.value = 0
        self.count = 0

    def put(self, value: int, width: int) -> None:
        self.value |= (value & ((1 << width) - 1)) << self.count
        self.count += width

    def to_bytes(self) -> bytes:
        return self.value.to_bytes((self.count + 7) // 8, "little")


def _webp_lossless_header(width: int, height: int, alpha: bool) -> _Bits:
    bits = _Bits()
    bits.put(width - 1, 14)
    bits.put(height - 1, 14)
    bits.put(int(alpha), 1)
    bits.put(0, 3)  # version
    return bits


def _webp_file(kind: bytes, payload: bytes) -> bytes:
    chunk = kind + struct.pack("<I", len(payload)) + payload + bytes(len(payload) % 2)
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


# ICC profiles. Pillow's ImageCms can create sRGB, Lab and XYZ only, so the others are written by hand
# (ICC v2, just the tags lcms needs). Each one does something visible, so a test can tell it was applied.

_D50 = (0.9642, 1.0, 0.8249)
# sRGB primaries adapted to D50, as in the sRGB ICC profile; rows are red, green, blue colorants.
_SRGB_COLORANTS = ((0.4361, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971), (0.1431, 0.0606, 0.7141))


def swapped_rgb_profile() -> bytes:
    """An RGB profile whose red and green colorants are swapped: pure red in it is pure green in sRGB."""
    red, green, blue = _SRGB_COLORANTS
    gamma = _curve(2.2)
    return _profile(
        b"mntr",
        b"RGB ",
        "Swapped red-green RGB",
        {
            b"rXYZ": _xyz(*green),
            b"gXYZ": _xyz(*red),
            b"bXYZ": _xyz(*blue),
            b"rTRC": gamma,
            b"gTRC": gamma,
            b"bTRC": gamma,
        },
    )


def display_p3_profile() -> bytes:
    """Display P3, the profile iPhones embed in every photo (a wider gamut than sRGB, sRGB's tone curve)."""
    curve = _srgb_curve()
    return _profile(
        b"mntr",
        b"RGB ",
        "Display P3",
        {
            b"rXYZ": _xyz(0.515102, 0.241196, -0.001053),
            b"gXYZ": _xyz(0.291965, 0.692236, 0.041885),
            b"bXYZ": _xyz(0.157153, 0.066567, 0.784079),
            b"rTRC": curve,
            b"gTRC": curve,
            b"bTRC": curve,
        },
    )


def linear_gray_profile() -> bytes:
    """A greyscale profile with gamma 1.0: stored 128 is 50% light, which sRGB writes as ~188."""
    return _profile(b"mntr", b"GRAY", "Linear grey", {b"kTRC": _curve(1.0)})


def cmyk_swapped_profile() -> bytes:
    """A CMYK profile that behaves like naive CMYK with cyan and yellow swapped: full cyan ink shows yellow."""
    clut = []
    for cyan, magenta, yellow, black in product((0, 1), repeat=4):  # first input varies slowest
        rgb = ((1 - yellow) * (1 - black), (1 - magenta) * (1 - black), (1 - cyan) * (1 - black))
        xyz = [sum(rgb[i] * _SRGB_COLORANTS[i][axis] for i in range(3)) for axis in range(3)]
        clut.extend(round(value * 32768) for value in xyz)  # lut16 XYZ encoding: 0x8000 is 1.0
    identity_matrix = struct.pack(">9i", 65536, 0, 0, 0, 65536, 0, 0, 0, 65536)
    table = struct.pack(">2H", 0, 0xFFFF)  # 2-entry identity curve, for each input and output channel
    lut = (
        b"mft2"
        + bytes(4)
        + struct.pack(">BBBx", 4, 3, 2)
        + identity_matrix
        + struct.pack(">HH", 2, 2)
        + table * 4
        + struct.pack(f">{len(clut)}H", *clut)
        + table * 3
    )
    return _profile(b"prtr", b"CMYK", "Swapped cyan-yellow CMYK", {b"A2B0": lut})


def _profile(device_class: bytes, colour_space: bytes, description: str, tags: dict[bytes, bytes]) -> bytes:
    tags = {b"desc": _description(description), b"wtpt": _xyz(*_D50), b"cprt": _text("No copyright")} | tags
    table_size = 4 + 12 * len(tags)
    offset = 128 + table_size
    entries, body = [], b""
    for signature, payload in tags.items():
        payload += bytes(-len(payload) % 4)
        entries.append(struct.pack(">4sII", signature, offset + len(body), len(payload)))
        body += payload
    total = 128 + table_size + len(body)
    header = (
        struct.pack(">I4sI4s4s4s", total, b"lcms", 0x02100000, device_class, colour_space, b"XYZ ")
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
        + b"acsp"
        + bytes(24)
        + struct.pack(">I", 0)  # rendering intent: perceptual
        + struct.pack(">3i", *(_s15(v) for v in _D50))
        + bytes(48)
    )
    return header + struct.pack(">I", len(tags)) + b"".join(entries) + body


def _s15(value: float) -> int:
    return round(value * 65536)


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ " + bytes(4) + struct.pack(">3i", _s15(x), _s15(y), _s15(z))


def _curve(gamma: float) -> bytes:
    if gamma == 1.0:
        return b"curv" + bytes(4) + struct.pack(">I", 0)
    return b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256))


def _srgb_curve() -> bytes:
    """The sRGB tone curve as an ICC parametric curve (function type 3)."""
    params = (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)
    return b"para" + bytes(4) + struct.pack(">HH5i", 3, 0, *(_s15(v) for v in params))


def _text(text: str) -> bytes:
    return b"text" + bytes(4) + text.encode("ascii") + b"\0"


def _description(text: str) -> bytes:
    ascii_text = text.encode("ascii") + b"\0"
    return b"desc" + bytes(4) + struct.pack(">I", len(ascii_text)) + ascii_text + bytes(4 + 4 + 2 + 1 + 67)


def screenshot(size: tuple[int, int] = (1290, 2796), opaque: bool = True) -> Image.Image:
    """A phone screenshot, RGBA like iOS writes them: a light background, a photo across the top third and rows
    of dark "text" on white cards below; every pixel opaque, or with ``opaque=False`` the background clear."""
    width, height = size
    im = Image.new("RGBA", size, (242, 242, 247, 255 if opaque else 0))
    im.paste(photo((width, height // 3)).convert("RGBA"), (0, height // 7))
    card, line = max(1, height // 40), max(1, height // 140)
    for top in range(height // 2, height - card, card + card // 4):
        im.paste((255, 255, 255, 255), (width // 40, top, width - width // 40, top + card))
        for left in range(width // 20, width - width // 10, width // 17):
            im.paste((20, 20, 20, 255), (left, top + card // 3, left + width // 26, top + card // 3 + line))
    return im
