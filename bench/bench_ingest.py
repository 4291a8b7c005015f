"""Benchmark shopper.media.ingest on 12 MP phone-like photos and print the figures against their targets.

    python bench/bench_ingest.py        (about 2 minutes on 2 cores, ~20 s of it making the inputs)

Inputs are made on the fly (tests/images.py): noisy gradients that compress like camera output, stored
landscape with EXIF orientation 6 (phone held upright) and a GPS block. Memory is the growth of peak RSS
across one call, each in a fresh process that has already imported everything and read the file.

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
from pathlib import Path

import _measure  # puts the repository root on sys.path, so it comes before the project's imports
import pillow_heif
from PIL import Image, features

from shopper.media.ingest import ImageRejected, decode_cost, ingest_image
from tests import images

JPEG_RUNS, HEIC_RUNS, MEMORY_PROBES, REFUSAL_RUNS = 21, 5, 3, 21
TARGET_JPEG_MS, TARGET_JPEG_MB, GOAL_DECODE_RATIO, TARGET_HEIC_MS = 100, 60, 1.3, 1500
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
    return f"{im.format} {im.width}x{im.height}, {len(data) / 1e6:.1f} MB"


def main() -> None:
    started = time.perf_counter()
    print(
        f"Python {sys.version.split()[0]}, Pillow {Image.__version__} (libjpeg-turbo "
        f"{features.version('libjpeg_turbo')}), pillow-heif {pillow_heif.__version__} "
        f"(libheif {pillow_heif.libheif_version()}), {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f} at the start (other work inflates wall times)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        jpeg = images.phone_jpeg((4000, 3000), orientation=6)
        jpeg_path = Path(tmp, "phone.jpg")
        jpeg_path.write_bytes(jpeg)
        iphone = images.encode(
            images.photo((4032, 3024)),
            "JPEG",
            quality=92,
            exif=images.exif_bytes(6, gps=True),
            icc_profile=images.display_p3_profile(),
        )
        heic = images.heic(images.photo((4000, 3000)), exif=images.exif_bytes(6, gps=True))
        heic_path = Path(tmp, "phone.heic")
        heic_path.write_bytes(heic)
        print(f"inputs: {describe(jpeg)}; {describe(iphone)} + Display P3; {describe(heic)}")
        print(f"(inputs made in {time.perf_counter() - started:.1f} s)\n")

        wall = _measure.median_ms(
            {"ingest": lambda: ingest_image(jpeg), "decode": lambda: Image.open(io.BytesIO(jpeg)).load()}, JPEG_RUNS
        )
        ingest_ms, decode_ms = wall["ingest"], wall["decode"]
        cpu_ms = _measure.median_ms({"ingest": lambda: ingest_image(jpeg)}, JPEG_RUNS, clock=time.process_time)[
            "ingest"
        ]
        _measure.report("ingest 12MP JPEG, median", ingest_ms, "ms", TARGET_JPEG_MS)
        _measure.report("ingest 12MP JPEG, median CPU time", cpu_ms, "ms")
        _measure.report("plain full decode, median", decode_ms, "ms")
        _measure.report("ingest / full decode", ingest_ms / decode_ms, "x", GOAL_DECODE_RATIO, word="goal")
        _measure.report("ingest 12MP JPEG, peak RSS growth", peak_mb(jpeg_path, INGEST), "MB", TARGET_JPEG_MB)
        _measure.report("plain full decode, peak RSS growth", peak_mb(jpeg_path, DECODE), "MB")

        iphone_ms = _measure.median_ms({"iphone": lambda: ingest_image(iphone)}, JPEG_RUNS)["iphone"]
        _measure.report("ingest 4032x3024 P3 JPEG, median", iphone_ms, "ms")

        heic_ms = _measure.median_ms({"heic": lambda: ingest_image(heic)}, HEIC_RUNS, warmups=1)["heic"]
        _measure.report("ingest 12MP HEIC, median", heic_ms, "ms", TARGET_HEIC_MS)
        _measure.report("ingest 12MP HEIC, peak RSS growth", peak_mb(heic_path, INGEST), "MB")

        refusals(Path(tmp))
        budget_against_measured(Path(tmp), heic_path)

    print(f"\ntotal run {time.perf_counter() - started:.1f} s")


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
    solid = Image.new("RGB", (8900, 6690), images.RED)
    hostile = {
        "WebP lossless 8900x6690 (Pillow)": images.encode(solid, "WEBP", lossless=True),
        "PNG 8900x6690 RGB": images.png_filled(8900, 6690),
        "PNG 8900x6690 1-bit palette": images.png_filled(8900, 6690, bit_depth=1, colour_type=3),
        "JPEG 9000x6600 progressive 4:4:4": images.encode(
            Image.new("RGB", (9000, 6600), images.RED), "JPEG", progressive=True, subsampling=0
        ),
    }
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
        _measure.report("  refusal, median", ms, "ms", TARGET_REFUSAL_MS)
        _measure.report("  refusal, peak RSS growth", peak_mb(path, REFUSE, probes=1), "MB", TARGET_REFUSAL_MB)


def budget_against_measured(tmp: Path, heic_path: Path) -> None:
    """The estimate ingest compares with its limit, next to the peak RSS growth of a whole ingest (one probe)."""
    print("\n-- decode budget: estimate against a real ingest's peak RSS growth (MiB)")
    started = time.perf_counter()
    flat_12, flat_48 = images.marked_image((4000, 3000)), images.marked_image((8064, 6048))
    rgba = flat_12.convert("RGBA")
    rgba.putalpha(128)
    inputs = {
        "JPEG 4000x3000 baseline": images.encode(flat_12, "JPEG", quality=90),
        "JPEG 8064x6048 baseline": images.encode(flat_48, "JPEG", quality=90),
        "JPEG 4000x3000 progressive 4:2:0": images.encode(flat_12, "JPEG", quality=90, progressive=True),
        "JPEG 4000x3000 progressive 4:4:4": images.encode(flat_12, "JPEG", progressive=True, subsampling=0),
        "JPEG 8064x6048 progressive 4:2:0": images.encode(flat_48, "JPEG", quality=90, progressive=True),
        "PNG 4000x3000 RGB": images.png_filled(4000, 3000),
        "PNG 4000x3000 RGBA": images.encode(rgba, "PNG"),
        "PNG 4000x3000 palette": images.png_filled(4000, 3000, colour_type=3),
        "PNG 4000x3000 16-bit grey": images.png_filled(4000, 3000, 16, 0),
        "PNG 4000x3000 16-bit RGBA": images.png_filled(4000, 3000, 16, 6),
        "WebP 4000x3000 lossy": images.encode(flat_12, "WEBP", quality=80),
        "WebP 4000x3000 lossy, alpha": images.encode(rgba, "WEBP", quality=80),
        "WebP 4000x3000 lossless": images.webp_lossless(4000, 3000),
        "HEIC 4000x3000 (the phone photo above)": heic_path.read_bytes(),
        "HEIC 8064x6048 (iPhone 48 MP)": images.heic(flat_48, quality=50, enc_params={"preset": "ultrafast"}),
    }
    print(f"(made in {time.perf_counter() - started:.1f} s)")
    print(f"{'input':<40} {'mode':<5} {'estimate':>9} {'measured':>9} {'limit':>6}")
    for index, (label, data) in enumerate(inputs.items()):
        path = tmp / f"budget-{index}"
        path.write_bytes(data)
        cost = decode_cost(data)
        measured = peak_mb(path, INGEST, probes=1)
        print(
            f"{label:<40} {cost.mode:<5} {cost.bytes / MiB:9.1f} {measured:9.1f} {cost.limit / MiB:6.0f}"
            f"  {'ok' if measured <= cost.bytes / MiB else 'OVER THE ESTIMATE'}",
            flush=True,
        )


if __name__ == "__main__":
    main()
