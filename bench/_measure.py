"""Helpers shared by the bench scripts. Importing this module puts the repository root on sys.path."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

# ru_maxrss is in KiB on Linux and in bytes on macOS.
_MAXRSS_PER_MB = 1024 * 1024 if sys.platform == "darwin" else 1024


def median_ms(
    funcs: dict[str, Callable[[], object]],
    runs: int,
    warmups: int = 2,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:
    """Median time of each function in milliseconds, wall clock unless told.

    The functions take turns, run by run, so that a change in the machine's load during the measurement
    weighs on all of them alike and their ratios stay fair.
    """
    for _ in range(warmups):
        for func in funcs.values():
            func()
    times: dict[str, list[float]] = {name: [] for name in funcs}
    for _ in range(runs):
        for name, func in funcs.items():
            start = clock()
            func()
            times[name].append(clock() - start)
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB.

    On Linux this reads VmHWM: ru_maxrss would do, except that the kernel carries the parent's peak into
    it across fork+exec, so a small probe started by a big benchmark process would report no growth at all.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / _MAXRSS_PER_MB


def peak_growth_mb(setup: str, call: str) -> float:
    """Growth of peak RSS across ``call``, measured in a fresh interpreter after ``setup`` has run.

    Pillow allocates pixels in C, where tracemalloc cannot see them; the process's high-water mark can.
    """
    script = textwrap.dedent(setup) + textwrap.dedent(
        f"""
        import _measure
        _before = _measure.peak_rss_mb()
        {call}
        print(_measure.peak_rss_mb() - _before)
        """
    )
    path = [str(REPO_ROOT), str(Path(__file__).resolve().parent), os.environ.get("PYTHONPATH")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, path))}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"memory probe failed:\n{done.stderr}")
    return float(done.stdout.strip().splitlines()[-1])


def report(label: str, value: float, unit: str, target: float | None = None, word: str = "target") -> None:
    """One table row: ``label  value unit  (target <= N)  PASS|MISS``; no verdict without a target."""
    figure(label, value, unit, target, word=word)


def figure(
    label: str, value: float, unit: str, target: float | None = None, *, at_least: bool = False, word: str = "target"
) -> bool:
    """Print one figure as a table row and judge it: ``value <= target`` (``>=`` with ``at_least``).

    Returns whether it passed (True without a target). A verdict is also appended to the file named by
    SHOPPER_BENCH_SUMMARY, where `make bench` counts the PASS and MISS lines of every script once they have all run.
    """
    digits = 2 if unit == "x" else 1
    line = f"{label:<34} {value:9.{digits}f} {unit:<4}"
    if target is None:
        print(line, flush=True)
        return True
    passed = value >= target if at_least else value <= target
    verdict = "PASS" if passed else "MISS"
    line += f"  ({word} {'>=' if at_least else '<='} {target:g})  {verdict}"
    print(line, flush=True)
    record(passed, f"{label.strip()} {value:.{digits}f} {unit}")
    return passed


def record(passed: bool, what: str) -> None:
    """Append one verdict to the file named by SHOPPER_BENCH_SUMMARY (for a figure not printed by `figure`)."""
    summary = os.environ.get("SHOPPER_BENCH_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as out:
            out.write(f"{'PASS' if passed else 'MISS'}  {Path(sys.argv[0]).name}: {what}\n")


def smoke() -> bool:
    """True under BENCH_SMOKE=1: scripts then use their smallest sizes and shortest runs, to prove they still work."""
    return os.environ.get("BENCH_SMOKE") == "1"


def load_average() -> str:
    """The machine's 1-minute load average, printed beside wall-clock figures (they swing with it)."""
    return f"{os.getloadavg()[0]:.1f}"


PG_URL = os.environ.get("SHOPPER_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _drop_and_create(schema: str, create: bool) -> None:
    from sqlalchemy import create_engine, text

    from shopper.database import normalize_database_url

    admin = create_engine(normalize_database_url(PG_URL), connect_args={"connect_timeout": 3})
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        if create:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()


def on_sqlite_and_postgres(run: Callable[[str, str | None], bool], schema: str, only: str = "both") -> bool:
    """`run(label, database_url)` on a fresh SQLite file (url None), then, when PostgreSQL answers at
    SHOPPER_BENCH_PG_URL, in a schema made for this run and dropped afterwards; `only` ("sqlite" or "postgres")
    runs one of them. True when every run passed."""
    ok = True
    if only != "postgres":
        ok = run("SQLite (fresh file, migrated)", None)
    if only == "sqlite":
        return ok
    try:
        _drop_and_create(schema, create=True)
    except Exception as e:  # any failure to connect means: no PostgreSQL here
        print(f"\n== PostgreSQL: skipped ({type(e).__name__}: {str(e).splitlines()[0]})")
        return ok
    separator = "&" if "?" in PG_URL else "?"
    try:
        return run(f"PostgreSQL (schema {schema})", f"{PG_URL}{separator}options=-csearch_path%3D{schema}") and ok
    finally:
        _drop_and_create(schema, create=False)


def migrated_app(prefix: str, database_url: str | None):
    """A Shopper app with its own instance folder, migrated to the head revision: on `database_url`, or on a new
    SQLite file in that folder. Returns (app, instance folder)."""
    import tempfile

    from flask_migrate import upgrade

    from shopper import create_app

    instance = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["SHOPPER_INSTANCE_PATH"] = str(instance)
    url = database_url or f"sqlite:///{instance / 'bench.sqlite3'}"
    app = create_app({"SECRET_KEY": "bench", "DATABASE_URL": url})
    with app.app_context():
        upgrade()
    return app, instance
