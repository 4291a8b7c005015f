"""Benchmark shopper.media.ingest on phone photos and a screenshot and print the figures against their targets.

    python bench/bench_ingest.py        (3-4 minutes on 2 cores when quiet, ~10 at load average 9-14)
    BENCH_SMOKE=1 python bench/bench_ingest.py   (small inputs, few runs: proves the script works)

Inputs are made on the fly (tests/images.py): a 12 MP JPEG of noisy gradients that compress like camera output,
stored landscape with EXIF orientation 6 (phone held upright) and a GPS block; a 1290 x 2796 RGBA PNG screenshot
(opaque, a photo across its top third, rows of "text" below); a 12 MP HEIC. The JPEG and PNG targets are ratios
of CPU time (both threads of an ingest) to a plain decode of the same file (Image.open + load at full size),
the two taking turns run by run so that the machine's load weighs on both alike. Memory is the growth of peak
RSS across one call, each in a fresh process that has already imported everything and read the file.

Then the tiny files that decode huge (issue 12): how long a refusal takes and how much memory it costs, next to
the normal ingest; and, for real inputs of each format and mode, the decode budget's estimate next to the peak
an ingest really reaches, which is what the limits in shopper/media/ingest.py are chosen from.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import _measure  # puts the repository root on sys.path, so it comes before the project's imports
import pillow_heif
from PIL import Image, features

from shopper.media.ingest import (  # _fit: the resize ingest makes, timed on its own
    DISPLAY_EDGE,
    PRINT_EDGE,
    THUMB_EDGE,
    ImageRejected,
    _fit,
    decode_cost,
    ingest_image,
)
from tests import images

SMOKE = _measure.smoke()
RUNS, HEIC_RUNS, MEMORY_PROBES, REFUSAL_RUNS = (3, 2, 1, 3) if SMOKE else (21, 7, 3, 21)
PHOTO_SIZE, IPHONE_SIZE, SCREENSHOT_SIZE, HEIC_SIZE = (
    ((1600, 1200), (1612, 1209), (645, 1398), (800, 600))
    if SMOKE
    else ((4000, 3000), (4032, 3024), (1290, 2796), (4000, 3000))
)
TARGET_JPEG_MS, TARGET_MB, TARGET_DECODE_RATIO, TARGET_HEIC_MS = 100, 60, 1.3, 700
TARGET_REFUSAL_MS, TARGET_REFUSAL_MB = 10, 10
MiB = 1024 * 1024

PROBE_SETUP = """
    import io
    from pathlib import Path
    from PIL import Image
    from shopper.media.ingest import ImageRejected, ingest_image
    Image.init()
    data = Path({path!r}).read_bytes()

    def refuse(data):
        try:
            ingest_image(data)
        except ImageRejected:
            pass
        else:
            raise SystemExit("accepted")
"""
INGEST = "ingest_image(data)"
REFUSE = "refuse(data)"
DECODE = "Image.open(io.BytesIO(data)).load()"


def peak_mb(path: Path, call: str, probes: int = MEMORY_PROBES) -> float:
    """The largest of a few fresh-process measurements (they differ by allocator noise only)."""
    return max(_measure.peak_growth_mb(PROBE_SETUP.format(path=str(path)), call) for _ in range(probes))


def describe(data: bytes) -> str:
    im = Image.open(io.BytesIO(data))
    return f"{im.format} {im.mode} {im.width}x{im.height}, {len(data) / 1e6:.1f} MB"


def plain_decode(data: bytes) -> None:
    Image.open(io.BytesIO(data)).load()


def draft_decode(data: bytes) -> None:
    """What the JPEG decode inside an ingest costs: libjpeg at the largest scale that keeps DISPLAY_EDGE."""
    im = Image.open(io.BytesIO(data))
    im.draft("RGB", (DISPLAY_EDGE, DISPLAY_EDGE * min(im.size) // max(im.size)))
    im.load()


def cpu_ms(funcs: dict[str, Callable[[], object]], runs: int = RUNS) -> dict[str, float]:
    return _measure.median_ms(funcs, runs, clock=time.process_time)


def main() -> None:
    started = time.perf_counter()
    print(
        f"Python {sys.version.split()[0]}, Pillow {Image.__version__} (libjpeg-turbo "
        f"{features.version('libjpeg_turbo')}), pillow-heif {pillow_heif.__version__} "
        f"(libheif {pillow_heif.libheif_version()}), {os.cpu_count()} CPUs, "
        f"load average {_measure.load_average()} at the start (other work inflates wall times){' SMOKE' * SMOKE}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        jpeg = images.phone_jpeg(PHOTO_SIZE, orientation=6)
        jpeg_path = Path(tmp, "phone.jpg")
        jpeg_path.write_bytes(jpeg)
        iphone = images.encode(
            images.photo(IPHONE_SIZE),
            "JPEG",
            quality=92,
            exif=images.exif_bytes(6, gps=True),
            icc_profile=images.display_p3_profile(),
        )
        png = images.encode(images.screenshot(SCREENSHOT_SIZE), "PNG")
        png_path = Path(tmp, "screenshot.png")
        png_path.write_bytes(png)
        heic = images.heic(images.photo(HEIC_SIZE), exif=images.exif_bytes(6, gps=True))
        heic_path = Path(tmp, "phone.heic")
        heic_path.write_bytes(heic)
        print(f"inputs: {describe(jpeg)}; {describe(iphone)} + Display P3; {describe(png)}; {describe(heic)}")
        print(f"(inputs made in {time.perf_counter() - started:.1f} s)")

        jpeg_figures(jpeg, jpeg_path, iphone)
        png_figures(png, png_path)
        heic_figures(heic, heic_path)
        refusals(Path(tmp))
        budget_against_measured(Path(tmp), heic_path)

    print(f"\ntotal run {time.perf_counter() - started:.1f} s, load average {_measure.load_average()} at the end")


def jpeg_figures(jpeg: bytes, path: Path, iphone: bytes) -> None:
    print(f"\n-- phone JPEG {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} (load average {_measure.load_average()})")
    cpu = cpu_ms(
        {
            "ingest": lambda: ingest_image(jpeg),
            "decode": lambda: plain_decode(jpeg),
            "draft": lambda: draft_decode(jpeg),
        }
    )
    _measure.figure("ingest / plain decode, CPU", cpu["ingest"] / cpu["decode"], "x", TARGET_DECODE_RATIO)
    _measure.figure("ingest, median CPU", cpu["ingest"], "ms")
    _measure.figure("plain full decode, median CPU", cpu["decode"], "ms")
    _measure.figure("draft decode (as ingest), CPU", cpu["draft"], "ms")
    _measure.figure("ingest / draft decode, CPU", cpu["ingest"] / cpu["draft"], "x")
    wall = _measure.median_ms({"ingest": lambda: ingest_image(jpeg)}, RUNS)["ingest"]
    _measure.figure(f"ingest, median wall (load {_measure.load_average()})", wall, "ms", TARGET_JPEG_MS)
    _measure.figure("ingest, peak RSS growth", peak_mb(path, INGEST), "MB", TARGET_MB)
    _measure.figure("plain full decode, peak RSS growth", peak_mb(path, DECODE), "MB")
    iphone_cpu = cpu_ms({"iphone": lambda: ingest_image(iphone), "decode": lambda: plain_decode(iphone)})
    _measure.figure("P3 iPhone JPEG / plain decode, CPU", iphone_cpu["iphone"] / iphone_cpu["decode"], "x")
    _measure.figure("P3 iPhone JPEG ingest, CPU", iphone_cpu["iphone"], "ms")


def png_figures(png: bytes, path: Path) -> None:
    """The ratio, then each step after the decode timed on its own (CPU), to show where the rest goes."""
    print(
        f"\n-- PNG screenshot {SCREENSHOT_SIZE[0]}x{SCREENSHOT_SIZE[1]}, opaque RGBA "
        f"(load average {_measure.load_average()})"
    )
    cpu = cpu_ms({"ingest": lambda: ingest_image(png), "decode": lambda: plain_decode(png)})
    _measure.figure("ingest / plain decode, CPU", cpu["ingest"] / cpu["decode"], "x", TARGET_DECODE_RATIO)
    _measure.figure("ingest, median CPU", cpu["ingest"], "ms")
    _measure.figure("plain decode, median CPU", cpu["decode"], "ms")
    _measure.figure("ingest, peak RSS growth", peak_mb(path, INGEST), "MB", TARGET_MB)
    _measure.figure("plain decode, peak RSS growth", peak_mb(path, DECODE), "MB")
    decoded = Image.open(io.BytesIO(png))
    decoded.load()
    rgb = decoded.convert("RGB")
    display = _fit(rgb, DISPLAY_EDGE)
    print_copy = _fit(display, PRINT_EDGE)
    thumb = _fit(print_copy, THUMB_EDGE)
    steps = cpu_ms(
        {
            "alpha's extremes": lambda: decoded.getchannel("A").getextrema(),
            "RGBA to RGB": lambda: decoded.convert("RGB"),
            f"display resize to {display.width}x{display.height}": lambda: _fit(rgb, DISPLAY_EDGE),
            "print resize, from display": lambda: _fit(display, PRINT_EDGE),
            "thumb resize, from print": lambda: _fit(print_copy, THUMB_EDGE),
            "display encode": lambda: jpeg_of(display, 85),
            "print encode": lambda: jpeg_of(print_copy, 80),
            "thumb encode": lambda: jpeg_of(thumb, 75),
        }
    )
    for label, ms in steps.items():
        _measure.figure(f"  step: {label}", ms, "ms")
    _measure.figure("  steps together / plain decode", sum(steps.values()) / cpu["decode"], "x")


def jpeg_of(im: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, format="JPEG", quality=quality, optimize=False, progressive=False)
    return buffer.getvalue()


def heic_figures(heic: bytes, path: Path) -> None:
    print(f"\n-- HEIC {HEIC_SIZE[0]}x{HEIC_SIZE[1]} (load average {_measure.load_average()})")
    cpu = cpu_ms({"ingest": lambda: ingest_image(heic), "decode": lambda: plain_decode(heic)}, HEIC_RUNS)
    wall = _measure.median_ms({"ingest": lambda: ingest_image(heic)}, HEIC_RUNS, warmups=1)["ingest"]
    _measure.figure("ingest, median CPU", cpu["ingest"], "ms", TARGET_HEIC_MS)
    _measure.figure(f"ingest, median wall (load {_measure.load_average()})", wall, "ms")
    _measure.figure("plain decode, median CPU", cpu["decode"], "ms")
    _measure.figure("ingest / plain decode, CPU", cpu["ingest"] / cpu["decode"], "x")
    _measure.figure("ingest, peak RSS growth", peak_mb(path, INGEST), "MB")


def outcome(data: bytes) -> str:
    try:
        ingest_image(data)
    except ImageRejected as error:
        return f"refused ({error.reason})"
    return "accepted"


def refusals(tmp: Path) -> None:
    """Tiny files that decode huge: all real, complete pictures. Before the decode budget each was decoded."""
    print("\n-- tiny files that decode huge: one refusal (compare the 12 MP JPEG ingest above)")
    started = time.perf_counter()
    hostile = {
        "WebP lossless 8900x6690 (32 bytes)": images.webp_lossless(8900, 6690),
        "PNG 8900x6690 1-bit palette": images.png_filled(8900, 6690, bit_depth=1, colour_type=3),
    }
    if not SMOKE:  # these two take a few seconds and ~240 MB each to make
        solid = Image.new("RGB", (8900, 6690), images.RED)
        hostile["WebP lossless 8900x6690 (Pillow)"] = images.encode(solid, "WEBP", lossless=True)
        hostile["PNG 8900x6690 RGB"] = images.png_filled(8900, 6690)
        hostile["JPEG 8900x6690 progressive 4:4:4"] = images.encode(solid, "JPEG", progressive=True, subsampling=0)
        del solid
    print(f"(made in {time.perf_counter() - started:.1f} s)")
    for index, (label, data) in enumerate(hostile.items()):
        path = tmp / f"hostile-{index}"
        path.write_bytes(data)
        cost = decode_cost(data)
        print(
            f"{label}: {len(data) / 1000:,.1f} KB, {outcome(data)}; estimated {cost.bytes / MiB:,.0f} MiB "
            f"against {cost.limit / MiB:.0f} MiB for {cost.format}"
        )
        ms = _measure.median_ms({"refuse": lambda data=data: outcome(data)}, REFUSAL_RUNS)["refuse"]
        _measure.figure("  refusal, median", ms, "ms", TARGET_REFUSAL_MS)
        _measure.figure("  refusal, peak RSS growth", peak_mb(path, REFUSE, probes=1), "MB", TARGET_REFUSAL_MB)


def budget_against_measured(tmp: Path, heic_path: Path) -> None:
    """The estimate ingest compares with its limit, next to the peak RSS growth of a whole ingest (one probe).

    Judged: the estimate minus the measured peak, which must stay >= 0 (the estimate an over-estimate).
    """
    print("\n-- decode budget: estimate against a real ingest's peak RSS growth (MiB)")
    started = time.perf_counter()
    flat_12 = images.marked_image((4000, 3000))
    rgba = flat_12.convert("RGBA")
    rgba.putalpha(128)
    inputs = {
        "JPEG 4000x3000 baseline": images.encode(flat_12, "JPEG", quality=90),
        "PNG 1290x2796 screenshot, opaque RGBA": images.encode(images.screenshot(), "PNG"),
        "PNG 1290x2796 screenshot, clear background": images.encode(images.screenshot(opaque=False), "PNG"),
        "PNG 4000x3000 RGBA": images.encode(rgba, "PNG"),
        "WebP 4000x3000 lossless": images.webp_lossless(4000, 3000),
        "HEIC (the phone photo above)": heic_path.read_bytes(),
    }
    if not SMOKE:
        inputs |= big_budget_inputs(flat_12, rgba)
    print(f"(made in {time.perf_counter() - started:.1f} s)")
    print(f"{'input':<42} {'mode':<5} {'estimate':>9} {'measured':>9} {'limit':>6}")
    for index, (label, data) in enumerate(inputs.items()):
        path = tmp / f"budget-{index}"
        path.write_bytes(data)
        cost = decode_cost(data)
        measured = peak_mb(path, INGEST, probes=1)
        print(f"{label:<42} {cost.mode:<5} {cost.bytes / MiB:9.1f} {measured:9.1f} {cost.limit / MiB:6.0f}")
        _measure.figure(f"  {label}: estimate - measured", cost.bytes / MiB - measured, "MiB", 0, at_least=True)


def big_budget_inputs(flat_12: Image.Image, rgba: Image.Image) -> dict[str, bytes]:
    flat_48 = images.marked_image((8064, 6048))
    return {
        "JPEG 8064x6048 baseline": images.encode(flat_48, "JPEG", quality=90),
        "JPEG 4000x3000 progressive 4:2:0": images.encode(flat_12, "JPEG", quality=90, progressive=True),
        "JPEG 4000x3000 progressive 4:4:4": images.encode(flat_12, "JPEG", progressive=True, subsampling=0),
        "JPEG 8064x6048 progressive 4:2:0": images.encode(flat_48, "JPEG", quality=90, progressive=True),
        "PNG 4000x3000 RGB": images.png_filled(4000, 3000),
        "PNG 4000x3000 opaque RGBA": images.encode(flat_12.convert("RGBA"), "PNG"),
        "PNG 4000x3000 palette": images.png_filled(4000, 3000, colour_type=3),
        "PNG 4000x3000 16-bit grey": images.png_filled(4000, 3000, 16, 0),
        "PNG 4000x3000 16-bit RGBA": images.png_filled(4000, 3000, 16, 6),
        "WebP 4000x3000 lossy": images.encode(flat_12, "WEBP", quality=80),
        "WebP 4000x3000 lossy, alpha": images.encode(rgba, "WEBP", quality=80),
        "HEIC 8064x6048 (iPhone 48 MP)": images.heic(flat_48, quality=50, enc_params={"preset": "ultrafast"}),
    }


if __name__ == "__main__":
    main()
