"""shopper.media.ingest on real image bytes, made at run time by tests/images.py."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import pickle
import subprocess
import sys
import textwrap
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image, ImageCms, ImageFile, JpegImagePlugin

from shopper.media.ingest import (
    DECODE_CONCURRENCY,
    DISPLAY_EDGE,
    MAX_UPLOAD_BYTES,
    ImageBusy,
    ImageRejected,
    IngestedImage,
    decode_cost,
    decode_slot,
    ingest_image,
    set_decode_concurrency,
)
from tests import images

REPO_ROOT = Path(__file__).resolve().parent.parent
GREY = (128, 128, 128)


def decoded(result: IngestedImage, name: str = "display") -> Image.Image:
    im = Image.open(io.BytesIO(result.renditions[name].data))
    im.load()
    return im


def close_to(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def rejection(data: bytes) -> ImageRejected:
    with pytest.raises(ImageRejected) as caught:
        ingest_image(data)
    return caught.value


@pytest.fixture(scope="module")
def phone_jpeg() -> bytes:
    """12 MP, stored landscape with EXIF orientation 6 and a GPS block, like a phone held upright."""
    return images.phone_jpeg()


# Orientation


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(orientation: int) -> None:
    result = ingest_image(images.oriented_jpeg(orientation, size=(160, 120)))
    display = decoded(result)
    assert display.size == (160, 120) == (result.width, result.height)
    assert close_to(display.getpixel((8, 8)), images.RED)
    for corner in ((152, 8), (8, 112), (152, 112)):
        assert close_to(display.getpixel(corner), GREY)


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_orientation_with_reduced_decode_of_a_big_portrait_photo(orientation: int) -> None:
    upright = images.marked_image((3000, 4000))
    data = images.encode(
        images.stored_as(upright, orientation), "JPEG", quality=90, exif=images.exif_bytes(orientation)
    )
    result = ingest_image(data)
    display = decoded(result)
    assert display.size == (1500, 2000)
    assert close_to(display.getpixel((20, 20)), images.RED)
    assert close_to(display.getpixel((1480, 20)), GREY)
    assert close_to(display.getpixel((20, 1980)), GREY)
    assert close_to(decoded(result, "thumb").getpixel((5, 5)), images.RED)


@pytest.mark.parametrize("size", [(4032, 3024), (3024, 4032), (4000, 2999), (2999, 4000), (12000, 1500)])
def test_reduced_decode_never_leaves_the_display_copy_short(size: tuple[int, int]) -> None:
    result = ingest_image(images.encode(Image.new("RGB", size, GREY), "JPEG"))
    assert max(result.width, result.height) == DISPLAY_EDGE
    expected_short = round(min(size) * DISPLAY_EDGE / max(size))
    assert abs(min(result.width, result.height) - expected_short) <= 1


def test_garbage_orientation_value_is_ignored() -> None:
    data = images.encode(images.marked_image(), "JPEG", exif=images.exif_bytes(orientation=99))
    display = decoded(ingest_image(data))
    assert display.size == (160, 120)
    assert close_to(display.getpixel((8, 8)), images.RED)


# Sizes and renditions


def test_12mp_phone_photo_renditions(phone_jpeg: bytes) -> None:
    result = ingest_image(phone_jpeg)
    sizes = {name: (r.width, r.height) for name, r in result.renditions.items()}
    assert sizes == {"display": (1500, 2000), "print": (1050, 1400), "thumb": (300, 400)}
    assert (result.width, result.height) == (1500, 2000)
    for name, rendition in result.renditions.items():
        assert rendition.name == name
        im = decoded(result, name)
        assert (im.format, im.mode, im.size) == ("JPEG", "RGB", sizes[name])
        assert not im.info.get("progressive")
    assert result.source_format == "JPEG"
    assert result.source_bytes == len(phone_jpeg)


def test_sha256_is_of_the_uploaded_bytes(phone_jpeg: bytes) -> None:
    assert ingest_image(phone_jpeg).sha256 == hashlib.sha256(phone_jpeg).hexdigest()


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((300, 200), {"display": (300, 200), "print": (300, 200), "thumb": (300, 200)}),
        ((1000, 500), {"display": (1000, 500), "print": (1000, 500), "thumb": (400, 200)}),
        ((1800, 1200), {"display": (1800, 1200), "print": (1400, 933), "thumb": (400, 267)}),
        ((1, 1), {"display": (1, 1), "print": (1, 1), "thumb": (1, 1)}),
    ],
)
def test_small_images_are_never_upscaled(size: tuple[int, int], expected: dict[str, tuple[int, int]]) -> None:
    result = ingest_image(images.encode(images.marked_image(size), "PNG"))
    assert {name: (r.width, r.height) for name, r in result.renditions.items()} == expected


# Metadata


def test_gps_and_all_exif_are_removed_from_every_rendition(phone_jpeg: bytes) -> None:
    assert Image.open(io.BytesIO(phone_jpeg)).getexif().get_ifd(images.GPS_IFD)  # the input does have GPS
    result = ingest_image(phone_jpeg)
    for name, rendition in result.renditions.items():
        im = decoded(result, name)
        assert not im.getexif(), name
        assert "exif" not in im.info and "icc_profile" not in im.info, name
        assert b"Exif\0\0" not in rendition.data and b"ShopperCam" not in rendition.data, name


def test_print_copy_has_no_exif_so_weasyprint_embeds_it_as_is(phone_jpeg: bytes) -> None:
    print_copy = decoded(ingest_image(phone_jpeg), "print")
    assert print_copy.getexif() == {}


def test_weasyprint_embeds_the_print_copy_byte_for_byte() -> None:
    """WeasyPrint re-encodes a JPEG that carries EXIF (to apply its orientation); ours must go in untouched."""
    weasyprint = pytest.importorskip("weasyprint")
    with_exif = images.encode(images.photo((800, 600)), "JPEG", exif=images.exif_bytes(1))
    print_copy = ingest_image(with_exif).renditions["print"].data

    def pdf_of(jpeg: bytes) -> bytes:
        html = f'<img src="data:image/jpeg;base64,{base64.b64encode(jpeg).decode()}" style="width: 8cm">'
        return weasyprint.HTML(string=html).write_pdf()

    assert with_exif not in pdf_of(with_exif)  # the premise: EXIF makes WeasyPrint re-encode
    assert print_copy in pdf_of(print_copy)


# Colour


def test_cmyk_jpeg_without_profile() -> None:
    im = Image.new("CMYK", (64, 64), (255, 0, 0, 0))  # full cyan ink
    display = decoded(ingest_image(images.encode(im, "JPEG", quality=95)))
    assert display.mode == "RGB"
    assert close_to(display.getpixel((32, 32)), (0, 255, 255))


def test_cmyk_jpeg_is_converted_through_its_profile() -> None:
    im = Image.new("CMYK", (64, 64), (255, 0, 0, 0))
    data = images.encode(im, "JPEG", quality=95, icc_profile=images.cmyk_swapped_profile())
    display = decoded(ingest_image(data))
    assert close_to(display.getpixel((32, 32)), (255, 255, 0))  # the profile says full cyan looks yellow
    assert "icc_profile" not in display.info


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_rgb_is_converted_through_its_profile(fmt: str) -> None:
    im = Image.new("RGB", (64, 64), images.RED)
    data = images.encode(im, fmt, icc_profile=images.swapped_rgb_profile())
    display = decoded(ingest_image(data))
    assert close_to(display.getpixel((32, 32)), (0, 255, 0))
    assert "icc_profile" not in display.info


def test_display_p3_photo_is_converted_to_srgb() -> None:
    im = Image.new("RGB", (64, 64), (200, 100, 50))
    data = images.encode(im, "PNG", icc_profile=images.display_p3_profile())
    display = decoded(ingest_image(data))
    assert close_to(display.getpixel((32, 32)), (215, 93, 31), tolerance=2)  # the same colour, in sRGB numbers


def test_srgb_profile_leaves_colours_alone() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    im = Image.new("RGB", (64, 64), (200, 100, 50))
    display = decoded(ingest_image(images.encode(im, "PNG", icc_profile=srgb)))
    assert display.getpixel((32, 32)) == (200, 100, 50)


@pytest.mark.parametrize(
    "profile", [b"definitely not an ICC profile", images.linear_gray_profile()], ids=["broken", "wrong-space"]
)
def test_unusable_profile_is_ignored(profile: bytes) -> None:
    im = Image.new("RGB", (64, 64), (200, 100, 50))
    display = decoded(ingest_image(images.encode(im, "PNG", icc_profile=profile)))
    assert display.getpixel((32, 32)) == (200, 100, 50)


def test_greyscale_jpeg_becomes_rgb() -> None:
    display = decoded(ingest_image(images.encode(Image.new("L", (64, 64), 90), "JPEG")))
    assert display.mode == "RGB"
    assert close_to(display.getpixel((32, 32)), (90, 90, 90), tolerance=2)


def test_greyscale_is_converted_through_its_profile() -> None:
    data = images.encode(Image.new("L", (64, 64), 128), "PNG", icc_profile=images.linear_gray_profile())
    display = decoded(ingest_image(data))
    assert close_to(display.getpixel((32, 32)), (188, 188, 188), tolerance=2)


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_is_flattened_onto_white(mode: str) -> None:
    im = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    im.paste((0, 0, 0, 255), (0, 0, 32, 64))
    display = decoded(ingest_image(images.encode(im.convert(mode), "PNG")))
    assert display.mode == "RGB"
    assert close_to(display.getpixel((8, 32)), (0, 0, 0))
    assert close_to(display.getpixel((56, 32)), images.WHITE)


def test_webp_with_alpha_is_flattened_onto_white() -> None:
    im = Image.new("RGBA", (64, 64), (0, 0, 255, 0))
    im.paste((255, 0, 0, 255), (0, 0, 32, 64))
    result = ingest_image(images.encode(im, "WEBP", lossless=True))
    display = decoded(result)
    assert result.source_format == "WEBP"
    assert close_to(display.getpixel((8, 32)), images.RED)
    assert close_to(display.getpixel((56, 32)), images.WHITE)


def test_png_colour_key_transparency_is_white() -> None:
    im = Image.new("RGB", (64, 64), (0, 255, 0))
    im.paste(images.RED, (0, 0, 32, 64))
    display = decoded(ingest_image(images.encode(im, "PNG", transparency=(0, 255, 0))))
    assert close_to(display.getpixel((8, 32)), images.RED)
    assert close_to(display.getpixel((56, 32)), images.WHITE)


def test_16_bit_greyscale_png_is_scaled_not_clipped() -> None:
    im = Image.new("I;16", (64, 16))
    for x, level in enumerate((0, 16448, 32896, 65535)):  # 0, 64, 128, 255 in 8 bits
        im.paste(level, (x * 16, 0, x * 16 + 16, 16))
    data = images.encode(im, "PNG")
    assert Image.open(io.BytesIO(data)).mode == "I;16"
    display = decoded(ingest_image(data))
    for x, expected in enumerate((0, 64, 128, 255)):
        assert close_to(display.getpixel((x * 16 + 8, 8)), (expected,) * 3, tolerance=3)


def test_palette_png() -> None:
    im = Image.new("RGB", (64, 64), (0, 0, 255))
    im.paste(images.RED, (0, 0, 32, 64))
    data = images.encode(im.convert("P", palette=Image.Palette.ADAPTIVE, colors=4), "PNG")
    assert Image.open(io.BytesIO(data)).mode == "P"
    display = decoded(ingest_image(data))
    assert close_to(display.getpixel((8, 32)), images.RED)
    assert close_to(display.getpixel((56, 32)), (0, 0, 255))


def test_palette_png_with_transparency() -> None:
    im = Image.new("P", (64, 64), 0)
    im.putpalette([255, 0, 0, 0, 0, 255])
    im.paste(1, (32, 0, 64, 64))
    display = decoded(ingest_image(images.encode(im, "PNG", transparency=1)))
    assert close_to(display.getpixel((8, 32)), images.RED)
    assert close_to(display.getpixel((56, 32)), images.WHITE)


def test_one_bit_png() -> None:
    im = Image.new("1", (64, 64), 1)
    im.paste(0, (0, 0, 32, 64))
    display = decoded(ingest_image(images.encode(im, "PNG")))
    assert close_to(display.getpixel((8, 32)), (0, 0, 0))
    assert close_to(display.getpixel((56, 32)), images.WHITE)


# Formats


def test_lossy_webp() -> None:
    result = ingest_image(images.encode(images.marked_image(), "WEBP", quality=90))
    assert result.source_format == "WEBP"
    assert close_to(decoded(result).getpixel((8, 8)), images.RED, tolerance=20)


def test_heic() -> None:
    upright = images.marked_image()
    data = images.heic(images.stored_as(upright, 6), exif=images.exif_bytes(6, gps=True))
    result = ingest_image(data)
    assert result.source_format == "HEIF"
    display = decoded(result)
    assert display.size == (160, 120)
    assert close_to(display.getpixel((8, 8)), images.RED, tolerance=20)
    assert close_to(display.getpixel((152, 112)), GREY, tolerance=20)
    assert not display.getexif()


def test_heif_with_several_pictures_uses_the_primary_one() -> None:
    """Not an animation: a HEIF collection (bursts, edits) has one primary picture, and that is the photo."""
    data = images.heic(images.marked_image(), save_all=True, append_images=[Image.new("RGB", (64, 48), "blue")])
    assert Image.open(io.BytesIO(data)).n_frames == 2
    display = decoded(ingest_image(data))
    assert display.size == (160, 120)
    assert close_to(display.getpixel((8, 8)), images.RED, tolerance=20)


def test_mpo_uses_the_first_picture() -> None:
    """iPhone JPEGs are often MPO; the first picture is the photo, and it gets the same reduced decode."""
    first = images.stored_as(images.marked_image((3000, 4000)), 6)
    second = Image.new("RGB", (640, 480), (0, 0, 255))
    data = images.mpo(first, second, exif=images.exif_bytes(6))
    assert Image.open(io.BytesIO(data)).format == "MPO"
    result = ingest_image(data)
    assert result.source_format == "JPEG"
    display = decoded(result)
    assert display.size == (1500, 2000)
    assert close_to(display.getpixel((20, 20)), images.RED)
    assert close_to(display.getpixel((1480, 1980)), GREY)


def test_concurrent_ingests_do_not_interfere(phone_jpeg: bytes) -> None:
    cases = [
        (phone_jpeg, (1500, 2000)),
        (phone_jpeg[: len(phone_jpeg) // 2], "damaged"),
        (images.png_declaring(8000, 8000), "too_many_pixels"),
        (images.heic(images.marked_image()), (160, 120)),
        (images.encode(Image.new("RGBA", (640, 480)), "PNG"), (640, 480)),
    ] * 3

    def outcome(data: bytes) -> tuple[int, int] | str:
        try:
            result = ingest_image(data)
        except ImageRejected as error:
            return error.reason
        return result.width, result.height

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(outcome, [data for data, _ in cases]))
    assert outcomes == [expected for _, expected in cases]


# The resize path (issue 15): box reduce by the whole factor, HAMMING for the rest, each copy from the next bigger


def stripes(size: tuple[int, int]) -> Image.Image:
    """Black and white columns one pixel wide: any resize that picks pixels instead of averaging them shows."""
    row = Image.frombytes("L", (size[0], 1), b"\x00\xff" * (size[0] // 2) + b"\x00" * (size[0] % 2))
    return row.resize(size, Image.Resampling.NEAREST).convert("RGB")


def centre(im: Image.Image) -> tuple[int, ...]:
    return im.getpixel((im.width // 2, im.height // 2))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_copy_is_upright_through_the_reduce(orientation: int) -> None:
    """A full-size decode (PNG: no draft) reduced by 2, then resized from 1512 x 2016: each copy comes from the
    upright display copy, so all three show the red block top left."""
    upright = images.marked_image((3024, 4032))
    data = images.encode(images.stored_as(upright, orientation), "PNG", exif=images.exif_bytes(orientation))
    result = ingest_image(data)
    expected = {"display": (1500, 2000), "print": (1050, 1400), "thumb": (300, 400)}
    for name, size in expected.items():
        im = decoded(result, name)
        assert im.size == size, name
        width, height = size
        assert close_to(im.getpixel((width // 20, height // 20)), images.RED), name
        for corner in ((width * 19 // 20, height // 20), (width // 20, height * 19 // 20)):
            assert close_to(im.getpixel(corner), GREY), name


@pytest.mark.parametrize(
    ("size", "display"),
    [((4000, 3000), (2000, 1500)), ((4032, 3024), (2000, 1500)), ((12000, 1500), (2000, 250))],
    ids=["exact-reduce", "reduce-then-resize", "panorama-reduce-by-6"],
)
def test_the_reduce_averages_pixels_instead_of_picking_them(size: tuple[int, int], display: tuple[int, int]) -> None:
    result = ingest_image(images.encode(stripes(size), "PNG"))
    for name in ("display", "print", "thumb"):
        im = decoded(result, name)
        for point in ((3, 3), (im.width // 2, im.height // 2), (im.width - 4, im.height - 4)):
            assert close_to(im.getpixel(point), (128, 128, 128), tolerance=6), (name, point)
    assert (result.width, result.height) == display


@pytest.mark.parametrize(
    "size", [(4000, 3000), (4032, 3024), (1290, 2796), (1179, 2556), (2560, 1600), (3001, 3001), (12000, 1500)]
)
def test_each_copy_keeps_the_shape_and_has_its_long_edge(size: tuple[int, int]) -> None:
    result = ingest_image(images.encode(Image.new("RGB", size, GREY), "PNG"))
    for name, edge in (("display", DISPLAY_EDGE), ("print", 1400), ("thumb", 400)):
        rendition = result.renditions[name]
        assert max(rendition.width, rendition.height) == edge, name
        assert abs(min(rendition.width, rendition.height) - round(min(size) * edge / max(size))) <= 1, name
        assert decoded(result, name).size == (rendition.width, rendition.height)


def test_an_opaque_rgba_screenshot_keeps_its_colours() -> None:
    """iOS screenshots are RGBA with every pixel opaque: the alpha is dropped, nothing is pasted on white."""
    shot = images.screenshot()
    background, card = shot.getpixel((10, 10)), shot.getpixel((shot.width // 2, shot.height * 52 // 100))
    assert (background, card) == ((242, 242, 247, 255), (255, 255, 255, 255))
    result = ingest_image(images.encode(shot, "PNG"))
    sizes = {name: (r.width, r.height) for name, r in result.renditions.items()}
    assert sizes == {"display": (923, 2000), "print": (646, 1400), "thumb": (185, 400)}
    for name in sizes:
        im = decoded(result, name)
        assert im.mode == "RGB"
        assert close_to(im.getpixel((2, 2)), (242, 242, 247), tolerance=3), name
        if name != "thumb":  # where the thumb blends the card with its line of text
            assert close_to(im.getpixel((im.width // 2, im.height * 52 // 100)), images.WHITE, tolerance=3), name


def test_a_screenshot_with_a_clear_background_is_put_on_white() -> None:
    result = ingest_image(images.encode(images.screenshot(opaque=False), "PNG"))
    for name in ("display", "print", "thumb"):
        assert close_to(decoded(result, name).getpixel((2, 2)), images.WHITE, tolerance=3), name


def test_a_few_transparent_pixels_are_enough_to_flatten() -> None:
    """Nearly opaque (alpha 254) with one clear block: the alpha's extremes must send it to the white paste."""
    im = Image.new("RGBA", (2560, 1600), (0, 0, 0, 254))
    im.paste((0, 0, 0, 0), (0, 0, 256, 160))
    display = decoded(ingest_image(images.encode(im, "PNG")))
    assert display.size == (2000, 1250)
    assert close_to(display.getpixel((50, 50)), images.WHITE)
    assert close_to(display.getpixel((1000, 600)), (1, 1, 1), tolerance=4)


def test_half_transparent_black_on_white_is_mid_grey_in_every_copy() -> None:
    im = Image.new("RGBA", (4000, 3000), (0, 0, 0, 128))
    result = ingest_image(images.encode(im, "PNG"))
    for name in ("display", "print", "thumb"):
        assert close_to(centre(decoded(result, name)), (127, 127, 127), tolerance=3), name


def test_an_opaque_grey_with_alpha_png_keeps_its_grey() -> None:
    im = Image.new("LA", (2400, 1600), (90, 255))
    display = decoded(ingest_image(images.encode(im, "PNG")))
    assert (display.mode, display.size) == ("RGB", (2000, 1333))
    assert close_to(centre(display), (90, 90, 90), tolerance=2)


def test_a_big_display_p3_photo_keeps_its_colour_in_every_copy() -> None:
    im = Image.new("RGB", (4032, 3024), (200, 100, 50))
    data = images.encode(im, "JPEG", quality=95, icc_profile=images.display_p3_profile())
    result = ingest_image(data)
    for name in ("display", "print", "thumb"):
        assert close_to(centre(decoded(result, name)), (215, 93, 31), tolerance=4), name


def test_a_big_cmyk_jpeg_is_resized_then_converted() -> None:
    im = Image.new("CMYK", (4200, 3000), (255, 0, 0, 0))  # full cyan ink; draft decodes it at 2100 x 1500
    result = ingest_image(images.encode(im, "JPEG", quality=95))
    assert (result.width, result.height) == (2000, 1429)
    for name in ("display", "print", "thumb"):
        assert close_to(centre(decoded(result, name)), (0, 255, 255)), name


def test_a_big_16_bit_grey_png_is_scaled_then_reduced() -> None:
    im = Image.new("I;16", (4000, 3000), 32896)  # 128 in 8 bits
    result = ingest_image(images.encode(im, "PNG"))
    assert (result.width, result.height) == (2000, 1500)
    assert close_to(centre(decoded(result)), (128, 128, 128), tolerance=3)


def test_a_big_palette_png_is_reduced_in_colour() -> None:
    im = Image.new("RGB", (4000, 3000), (0, 0, 255))
    im.paste(images.RED, (0, 0, 2000, 3000))
    data = images.encode(im.convert("P", palette=Image.Palette.ADAPTIVE, colors=2), "PNG")
    display = decoded(ingest_image(data))
    assert display.size == (2000, 1500)
    assert close_to(display.getpixel((500, 750)), images.RED)
    assert close_to(display.getpixel((1500, 750)), (0, 0, 255))


def test_a_12mp_heic_is_reduced_exactly_and_turned_upright() -> None:
    upright = images.marked_image((3000, 4000))
    data = images.heic(
        images.stored_as(upright, 6), exif=images.exif_bytes(6), quality=60, enc_params={"preset": "ultrafast"}
    )
    result = ingest_image(data)
    for name, size in (("display", (1500, 2000)), ("print", (1050, 1400)), ("thumb", (300, 400))):
        im = decoded(result, name)
        assert im.size == size, name
        assert close_to(im.getpixel((size[0] // 20, size[1] // 20)), images.RED, tolerance=20), name
        assert close_to(im.getpixel((size[0] * 19 // 20, size[1] // 20)), GREY, tolerance=20), name


def test_the_copies_are_baseline_4_2_0_jpegs_and_the_same_every_time() -> None:
    """The helper thread encodes display and print: the result does not depend on which thread did what."""
    data = images.encode(images.screenshot(), "PNG")
    first, second = ingest_image(data), ingest_image(data)
    for name, rendition in first.renditions.items():
        assert rendition.data == second.renditions[name].data, name
        im = decoded(first, name)
        assert JpegImagePlugin.get_sampling(im) == 2 and not im.info.get("progressive"), name


@pytest.mark.parametrize("size", [(300, 200), (1000, 500), (2400, 1800)], ids=["one-picture", "two", "three"])
def test_each_copy_is_saved_at_its_own_quality(size: tuple[int, int]) -> None:
    """Small pictures are one image for several copies, saved from two threads: each keeps its own quality."""
    result = ingest_image(images.encode(images.photo(size), "PNG"))
    for name, quality in (("display", 85), ("print", 80), ("thumb", 75)):
        im = decoded(result, name)
        reference = Image.open(io.BytesIO(images.encode(im, "JPEG", quality=quality)))
        assert im.quantization == reference.quantization, name


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads peak RSS from /proc")
@pytest.mark.parametrize(
    "make",
    [
        lambda: images.encode(images.screenshot(), "PNG"),
        lambda: images.encode(images.screenshot(opaque=False), "PNG"),
        lambda: images.encode(images.marked_image((4032, 3024)), "PNG"),
        lambda: images.encode(images.marked_image((4000, 3000)).convert("RGBA"), "PNG"),
        lambda: images.encode(Image.new("RGBA", (4000, 3000), (0, 0, 0, 128)), "PNG"),
    ],
    ids=["screenshot", "screenshot-clear", "rgb-reduce-then-resize", "rgba-opaque-exact-reduce", "rgba-half-clear"],
)
def test_the_decode_budget_stays_above_what_an_ingest_takes(make: Callable[[], bytes]) -> None:
    """In a fresh process, the peak RSS growth of a whole ingest stays under the estimate the budget compares."""
    data = make()
    script = textwrap.dedent(
        """
        import sys
        from shopper.media.ingest import ingest_image
        data = sys.stdin.buffer.read()

        def peak_kb():
            with open("/proc/self/status") as status:
                return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))

        before = peak_kb()
        ingest_image(data)
        print((peak_kb() - before) * 1024)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    run = subprocess.run(
        [sys.executable, "-c", script], input=data, capture_output=True, cwd=REPO_ROOT, env=env, timeout=120
    )
    assert run.returncode == 0, run.stderr.decode()
    assert 0 < int(run.stdout.decode()) <= decode_cost(data).bytes


# Refusals


def test_refusal_messages_are_distinct_plain_sentences() -> None:
    from shopper.media.ingest import _MESSAGES

    assert len(set(_MESSAGES.values())) == len(_MESSAGES)
    for message in _MESSAGES.values():
        assert message[0].isupper() and message.endswith(".")
        assert "PIL" not in message and "Error" not in message


def test_empty_upload() -> None:
    assert rejection(b"").reason == "empty"


def test_over_20_mb_is_refused_before_anything_else() -> None:
    assert rejection(bytes(MAX_UPLOAD_BYTES + 1)).reason == "too_large"
    assert rejection(bytes(MAX_UPLOAD_BYTES)).reason == "unsupported"


@pytest.mark.parametrize(
    "data",
    [
        images.encode(Image.new("RGB", (8, 8)), "GIF"),
        images.encode(Image.new("RGB", (8, 8)), "BMP"),
        images.encode(Image.new("RGB", (8, 8)), "TIFF"),
        images.encode(Image.new("RGB", (16, 16)), "ICO"),
        images.encode(Image.new("RGB", (8, 8)), "PDF"),
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>',
        b"<svg><script>alert(1)</script></svg>",
        os.urandom(4096),
        b"just some text\n" * 10,
    ],
    ids=["gif", "bmp", "tiff", "ico", "pdf", "svg", "svg-script", "random", "text"],
)
def test_formats_outside_the_allowlist_are_refused(data: bytes) -> None:
    error = rejection(data)
    assert error.reason == "unsupported"
    assert str(error) == "This file is not a photo we can read (JPEG, PNG, WebP or HEIC)."


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_animated_images_are_refused(fmt: str) -> None:
    data = images.animated(fmt)
    assert Image.open(io.BytesIO(data)).is_animated
    assert rejection(data).reason == "animated"


@pytest.mark.parametrize(
    "data",
    [
        images.png_declaring(8000, 8000),  # 64 MP: Pillow only warns, ingest must still refuse
        images.png_declaring(20000, 20000),  # over twice the limit: Pillow raises
        images.jpeg_declaring(10000, 7000),
    ],
    ids=["png-64mp", "png-400mp", "jpeg-70mp"],
)
def test_decompression_bombs_are_refused(data: bytes) -> None:
    assert rejection(data).reason == "too_many_pixels"


def test_bomb_is_refused_without_pillow_warning_escaping() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert rejection(images.png_declaring(8000, 8000)).reason == "too_many_pixels"
    assert caught == []


def test_pixel_limit_holds_even_if_pillows_own_limit_is_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    assert rejection(images.png_declaring(8000, 8000)).reason == "too_many_pixels"


@pytest.mark.parametrize(
    "data",
    [images.png_declaring(0, 10), images.png_declaring(10, 0), images.jpeg_declaring(0, 16)],
    ids=["png-zero-width", "png-zero-height", "jpeg-zero-width"],
)
def test_zero_size_images_are_refused(data: bytes) -> None:
    assert rejection(data).reason == "zero_size"


@pytest.mark.parametrize("fraction", [0.3, 0.9])
def test_truncated_jpeg_is_refused(phone_jpeg: bytes, fraction: float) -> None:
    assert rejection(phone_jpeg[: int(len(phone_jpeg) * fraction)]).reason == "damaged"


@pytest.mark.parametrize("fmt", ["PNG", "HEIF", "WEBP"])
def test_truncated_files_in_other_formats_are_refused(fmt: str) -> None:
    data = images.encode(images.photo((300, 200)), fmt)
    assert rejection(data[: len(data) * 2 // 3]).reason == "damaged"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "HEIF", "WEBP"])
def test_file_cut_inside_its_header_is_damaged_not_unsupported(fmt: str) -> None:
    data = images.encode(images.marked_image(), fmt, exif=images.exif_bytes(1))
    with pytest.raises(OSError):  # the premise: Pillow cannot even open it
        Image.open(io.BytesIO(data[:40]))
    assert rejection(data[:40]).reason == "damaged"


def test_truncated_jpeg_is_refused_even_when_pillow_is_told_to_accept_it(
    phone_jpeg: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    assert rejection(phone_jpeg[: len(phone_jpeg) // 2]).reason == "damaged"


def test_truncated_jpeg_is_refused_after_weasyprint_is_imported() -> None:
    """In a fresh process: importing WeasyPrint turns on LOAD_TRUNCATED_IMAGES for everyone."""
    truncated = images.encode(images.photo((640, 480)), "JPEG")[:20000]
    script = textwrap.dedent(
        """
        import io, sys
        from PIL import Image, ImageFile
        assert ImageFile.LOAD_TRUNCATED_IMAGES is False
        import weasyprint
        assert ImageFile.LOAD_TRUNCATED_IMAGES is True
        data = sys.stdin.buffer.read()
        Image.open(io.BytesIO(data)).load()  # Pillow alone now takes the cut-off file
        from shopper.media.ingest import ImageRejected, ingest_image
        try:
            ingest_image(data)
        except ImageRejected as error:
            print("refused:", error.reason)
        else:
            print("accepted")
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    run = subprocess.run(
        [sys.executable, "-c", script], input=truncated, capture_output=True, cwd=REPO_ROOT, env=env, timeout=60
    )
    assert run.returncode == 0, run.stderr.decode()
    assert run.stdout.decode().strip() == "refused: damaged"


# Tiny files that decode huge (issue 12): refused from their header, before any decode

TOO_BIG = "This image is too large to process. Please choose a smaller photo, or a screenshot of the part you need."


@pytest.mark.parametrize(
    ("big", "small"),
    [
        (images.webp_declaring(8900, 6690), images.webp_declaring(640, 480)),  # issue 12's 59.5 MP
        (images.webp_declaring(5000, 4000, alpha=True), images.webp_declaring(640, 480, alpha=True)),
        (images.png_declaring(8000, 7000), images.png_declaring(640, 480)),  # 56 MP RGB, under the pixel cap
        (images.png_declaring(7000, 5000, colour_type=3), images.png_declaring(640, 480, colour_type=3)),
        (images.png_declaring(5000, 4500, 16, 6), images.png_declaring(640, 480, 16, 6)),  # 16-bit RGBA
        (images.png_declaring(7000, 5000, 16, 0), images.png_declaring(640, 480, 16, 0)),  # 16-bit grey
        (images.heic_declaring(9000, 6600, bit_depth=10), images.heic_declaring(640, 480, bit_depth=10)),
    ],
    ids=[
        "webp-59.5mp",
        "webp-rgba-20mp",
        "png-rgb-56mp",
        "png-palette-35mp",
        "png-16-bit-rgba-22mp",
        "png-16-bit-grey-35mp",
        "heic-10-bit-59mp",
    ],
)
def test_a_file_that_would_decode_huge_is_refused_before_decoding(big: bytes, small: bytes) -> None:
    """The same construction, small enough to be decoded, is found damaged: the big one never got that far."""
    assert Image.open(io.BytesIO(big)).size  # the premise: Pillow opens it
    assert rejection(small).reason == "damaged"
    error = rejection(big)
    assert (error.reason, str(error)) == ("too_big_to_process", TOO_BIG)


@pytest.mark.parametrize(
    "kwargs", [{"progressive": True}, {"first_scan_components": 1}], ids=["progressive", "separate-scans"]
)
def test_a_jpeg_decoded_in_several_passes_is_budgeted_at_full_size(kwargs: dict[str, object]) -> None:
    """libjpeg keeps all DCT coefficients of such a file (here 405 MB), whatever the draft scale."""
    one_pass = images.jpeg_declaring(9000, 6600, subsampling=0)
    several_passes = images.jpeg_declaring(9000, 6600, subsampling=0, **kwargs)
    assert ingest_image(one_pass).width == DISPLAY_EDGE  # draft decodes the same size at 1/4 scale, cheaply
    assert rejection(several_passes).reason == "too_big_to_process"


def test_a_progressive_48mp_phone_jpeg_still_fits() -> None:
    data = images.encode(images.marked_image((8064, 6048)), "JPEG", quality=85, progressive=True)
    assert Image.open(io.BytesIO(data)).info.get("progressive")
    assert decode_cost(data).bytes > 150_000_000  # the premise: it is costly, yet within the JPEG budget
    result = ingest_image(data)
    assert (result.width, result.height) == (2000, 1500)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads peak RSS from /proc")
def test_hostile_files_are_refused_without_growing_the_process() -> None:
    """In a fresh process, peak RSS (VmHWM) stays put while three real, complete files are refused; ingesting them
    took 320 MB to 1 GB each. They are real pictures: the same constructions at 640 x 480 are accepted."""
    constructions = [
        images.webp_lossless,  # 32 bytes at 59.5 MP
        images.png_filled,  # 174 KB at 59.5 MP, RGB
        lambda width, height: images.png_filled(width, height, bit_depth=1, colour_type=3),  # 7 KB, palette
    ]
    for make in constructions:
        assert ingest_image(make(640, 480)).width == 640
    hostile = [make(8900, 6690) for make in constructions]
    script = textwrap.dedent(
        """
        import pickle, sys
        from shopper.media.ingest import ImageRejected, ingest_image
        hostile = pickle.load(sys.stdin.buffer)

        def peak_kb():
            with open("/proc/self/status") as status:
                return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))

        before = peak_kb()
        for data in hostile:
            try:
                ingest_image(data)
            except ImageRejected as error:
                print(error.reason)
            else:
                print("accepted")
        print((peak_kb() - before) // 1024)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    run = subprocess.run(
        [sys.executable, "-c", script],
        input=pickle.dumps(hostile),
        capture_output=True,
        cwd=REPO_ROOT,
        env=env,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr.decode()
    *reasons, growth_mb = run.stdout.decode().split()
    assert reasons == ["too_big_to_process"] * 3
    assert int(growth_mb) < 20


@pytest.mark.parametrize(
    ("make", "size"),
    [
        (lambda: images.encode(images.marked_image((6000, 4000)), "JPEG", quality=90), (2000, 1333)),
        (lambda: images.encode(images.marked_image((8000, 6000)), "JPEG", quality=90), (2000, 1500)),
        (
            lambda: images.heic(images.marked_image((4032, 3024)), quality=50, enc_params={"preset": "ultrafast"}),
            (2000, 1500),
        ),
        (lambda: images.encode(images.marked_image((1290, 2796)).convert("RGBA"), "PNG"), (923, 2000)),
        (lambda: images.encode(images.marked_image((2560, 1600)), "PNG"), (2000, 1250)),
        (lambda: images.png_filled(4000, 3000, 16, 6), (2000, 1500)),
        (lambda: images.png_filled(6000, 4000, 16, 0), (2000, 1333)),
        (lambda: images.webp_lossless(4000, 3000), (2000, 1500)),
    ],
    ids=[
        "jpeg-24mp",
        "jpeg-48mp",
        "heic-12mp",
        "png-iphone-screenshot",
        "png-4mp-screenshot",
        "png-16-bit-rgba-12mp",
        "png-16-bit-grey-24mp",
        "webp-12mp",
    ],
)
def test_real_photos_and_screenshots_fit_their_budget(make: Callable[[], bytes], size: tuple[int, int]) -> None:
    result = ingest_image(make())
    assert (result.width, result.height) == size


@pytest.mark.parametrize("bit_depth", [8, 10])
@pytest.mark.parametrize("size", [(8064, 6048), (8160, 6120)], ids=["iphone-48mp", "samsung-50mp"])
def test_phone_heics_of_48_and_50mp_fit_the_heif_budget(size: tuple[int, int], bit_depth: int) -> None:
    """From the header: decoding these for real takes seconds and ~350 MB (bench/bench_ingest.py does)."""
    cost = decode_cost(images.heic_declaring(*size, bit_depth=bit_depth))
    assert (cost.width, cost.height) == size
    assert 400_000_000 < cost.bytes <= cost.limit


def test_16_bit_pngs_are_budgeted_by_what_pillow_decodes_them_to() -> None:
    """16-bit colour decodes to 8-bit RGBA (4 bytes a pixel), 16-bit grey to I;16 (2): grey fits a bigger picture."""
    colour, grey = (
        decode_cost(images.png_declaring(6000, 4500, 16, 6)),
        decode_cost(images.png_declaring(6000, 4500, 16, 0)),
    )
    assert (colour.mode, grey.mode) == ("RGBA", "I;16")
    assert colour.bytes > colour.limit >= grey.bytes


@pytest.mark.parametrize(
    "params",
    [{"quality": 80}, {"lossless": True}, {"quality": 80, "exif": images.exif_bytes(1)}],
    ids=["lossy", "lossless", "extended"],
)
@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_a_webps_size_and_alpha_are_read_from_its_header_as_pillow_reads_them(
    mode: str, params: dict[str, object]
) -> None:
    """WebP is estimated before Pillow opens it (opening allocates libwebp's canvas): the two must agree."""
    im = images.marked_image((300, 200)).convert(mode)
    if mode == "RGBA":
        im.putalpha(Image.linear_gradient("L").resize((300, 200)))
    data = images.encode(im, "WEBP", **params)
    opened = Image.open(io.BytesIO(data))
    cost = decode_cost(data)
    assert (cost.mode, cost.width, cost.height) == (opened.mode, *opened.size) == (mode, 300, 200)


def test_the_estimate_reads_only_the_header() -> None:
    cost = decode_cost(images.webp_declaring(8900, 6690))  # there are no pixels to decode
    assert (cost.format, cost.mode, cost.width, cost.height) == ("WEBP", "RGB", 8900, 6690)
    assert cost.bytes > 1_000_000_000 > cost.limit


# The bound on concurrent decodes


@pytest.fixture
def decode_bound() -> Iterator[Callable[..., None]]:
    yield set_decode_concurrency
    set_decode_concurrency(DECODE_CONCURRENCY)


def test_a_decode_waits_for_a_free_slot_then_proceeds(decode_bound: Callable[..., None]) -> None:
    decode_bound(1)
    with ThreadPoolExecutor(max_workers=1) as pool:
        with decode_slot():  # another upload is decoding
            waiting = pool.submit(ingest_image, images.oriented_jpeg(1))
            time.sleep(0.5)
            assert not waiting.done()
        assert waiting.result(timeout=30).width == 160


def test_a_decode_that_gets_no_slot_in_time_is_refused_as_busy(decode_bound: Callable[..., None]) -> None:
    decode_bound(1, wait_seconds=0.05)
    with decode_slot():
        error = rejection(images.oriented_jpeg(1))
    assert isinstance(error, ImageBusy)
    assert (error.reason, error.status) == ("busy", 503)
    assert error.retry_after and error.retry_after > 0
    assert str(error) == "We are busy with other images right now. Please try again in a moment."
    assert ingest_image(images.oriented_jpeg(1)).width == 160  # the slot was given back


def test_the_bound_counts_slots(decode_bound: Callable[..., None]) -> None:
    decode_bound(2, wait_seconds=0.05)
    with decode_slot():
        assert ingest_image(images.oriented_jpeg(1)).width == 160
        with decode_slot():
            assert rejection(images.oriented_jpeg(1)).reason == "busy"


def test_refusals_from_the_header_do_not_wait_for_a_slot(decode_bound: Callable[..., None]) -> None:
    decode_bound(1, wait_seconds=60)
    started = time.monotonic()
    with decode_slot():
        assert rejection(images.webp_lossless(8900, 6690)).reason == "too_big_to_process"
        assert rejection(images.png_declaring(8000, 8000)).reason == "too_many_pixels"
        assert rejection(b"not an image at all").reason == "unsupported"
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("limit", [0, -1, 1.5, "2", True, None])
def test_the_bound_is_a_whole_number_of_at_least_one(limit: object) -> None:
    with pytest.raises(ValueError, match="whole number"):
        set_decode_concurrency(limit)  # type: ignore[arg-type]


@pytest.mark.parametrize("wait_seconds", [0, -1])
def test_the_wait_for_a_slot_is_positive(wait_seconds: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        set_decode_concurrency(1, wait_seconds)
