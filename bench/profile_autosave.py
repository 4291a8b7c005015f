"""Where one autosave's time goes, in-process: the statements one answer write sends, its CPU time, and optionally
a pyinstrument profile (pip install pyinstrument; it is not a dependency of the project).

    python bench/profile_autosave.py [--database sqlite|postgres] [--requests 500] [--profile out.txt]

No gunicorn and one thread: the Flask test client sends PUT .../answers/<item> as the signed-in owner of the audit
bench_autosave.py seeds, each with a new Idempotency-Key. CPU time per request is the figure to compare between two
trees at the same load (wall time swings with the machine's). Not part of `make bench`: it judges nothing.
"""

from __future__ import annotations

import argparse
import json
import re
import time
import uuid

import _measure  # puts the repository root on sys.path, so it comes before the project's imports
import _phones
from bench_autosave import seed

SCHEMA = "shopper_profile_autosave"


def profile(database_url: str | None, args) -> None:
    from sqlalchemy import event

    from shopper.extensions import db

    app, _instance = _measure.migrated_app("shopper-profile-autosave-", database_url)
    app.config["RATE_LIMIT_API"] = "1000000 per minute"
    slug, audit_id, counters = seed(app)
    client = app.test_client()
    page = client.get("/login")
    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page.data).group(1).decode()
    form = {"csrf_token": token, "email": "bench@example.com", "password": _phones.PASSWORD}
    if client.post("/login", data=form).status_code != 302:
        raise SystemExit("sign-in failed")

    def put(n: int) -> None:
        body = json.dumps({"value": n % 9, "client_ts": time.time_ns() // 1000})
        response = client.put(
            f"/o/{slug}/api/audits/{audit_id}/answers/{counters[n % len(counters)]}",
            data=body,
            headers={"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex},
        )
        if response.status_code != 200:
            raise SystemExit(f"answer write answered {response.status_code}: {response.data[:300]!r}")

    for n in range(50):  # warm: imports, the connection pool, the statement caches
        put(n)
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def listener(_conn, _cursor, statement, *_rest) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", listener)
    put(0)
    event.remove(engine, "before_cursor_execute", listener)
    print(f"{len(statements)} statements per answer write:")
    for statement in statements:
        print(f"  {statement[:140]}")

    started = time.process_time()
    for n in range(args.requests):
        put(n)
    cpu_ms = (time.process_time() - started) * 1000 / args.requests
    print(f"CPU {cpu_ms:.2f} ms per request over {args.requests}, load average {_measure.load_average()}")
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        with profiler:
            for n in range(args.requests):
                put(n)
        with open(args.profile, "w", encoding="utf-8") as out:
            out.write(profiler.output_text(unicode=False))
        print(f"profile written to {args.profile}")
    with app.app_context():
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--profile", help="write a pyinstrument profile of the timed requests to this file")
    args = parser.parse_args()

    def run(label: str, url: str | None) -> bool:
        print(f"== {label}")
        profile(url, args)
        return True

    _measure.on_sqlite_and_postgres(run, SCHEMA, only=args.database)


if __name__ == "__main__":
    main()
