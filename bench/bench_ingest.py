"""Benchmark shopper.media.ingest on 12 MP phone-like photos and print the figures against their targets.

    python bench/bench_ingest.py        (about 35 s on 2 cores, ~10 s of it encoding the HEIC input)

Inputs are made on the fly (tests/images.py): noisy gradients that compress like camera output, stored
landscape with EXIF orientation 6 (phone held upright) and a GPS block. Memory is the growth of peak RSS
across one call, each in a fresh process that has already imported everything and read the file.
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

from shopper.media.ingest import ingest_image
from tests import images

JPEG_RUNS, HEIC_RUNS, MEMORY_PROBES = 21, 5, 3
TARGET_JPEG_MS, TARGET_JPEG_MB, GOAL_DECODE_RATIO, TARGET_HEIC_MS = 100, 60, 1.3, 1500

PROBE_SETUP = """
    import io
    from pathlib import Path
    from PIL import Image
    from shopper.media.ingest import ingest_image
    Image.init()
    data = Path({path!r}).read_bytes()
"""
INGEST = "ingest_image(data)"
DECODE = "Image.open(io.BytesIO(data)).load()"


def peak_mb(path: Path, call: str) -> float:
    """The largest of a few fresh-process measurements (they differ by allocator noise only)."""
    return max(_measure.peak_growth_mb(PROBE_SETUP.format(path=str(path)), call) for _ in range(MEMORY_PROBES))


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

    print(f"\ntotal run {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
