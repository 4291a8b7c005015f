"""Long work off the request: report PDFs, the consultancy's ZIP of reports, mail and reminders, run by Huey.

A request only enqueues; the consumer (`flask --app shopper jobs run`, which `make run` starts next to gunicorn)
does the work, each job in an app context of its own that reads without SQLite's write lock and writes in short
transactions. The queue is a SQLite file in the instance folder by default (JOBS_BACKEND "sqlite"), Redis when
REDIS_URL is set ("auto" picks it; that is how several app servers share one queue), or memory ("memory": the test
suite, which runs the queue itself with `run_pending`).

The consumer writes a heartbeat when it starts, before every job and every minute, so a page waiting for a job can
tell "being prepared" from "nobody is there to prepare it" even while a long queue of renders goes by. It stops
gracefully on SIGTERM (what systemd sends): the jobs under way finish first.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from pathlib import Path

from flask import Flask, current_app, has_app_context
from huey import Huey, crontab
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage

from shopper.database import reads_first
from shopper.transactions import after_commit, unit_of_work

log = logging.getLogger(__name__)

QUEUE_FILE = "jobs.sqlite3"
HEARTBEAT = "heartbeat"
#: after this long without a heartbeat the consumer counts as not running
HEARTBEAT_STALE_SECONDS = 180


class Queue(Huey):
    """Huey, putting a job on the queue only once the request, command or job that asked for it has committed."""

    def enqueue(self, task):
        after_commit(functools.partial(super().enqueue, task))


huey = Queue("shopper", storage_class=MemoryStorage, results=False, utc=True)
_app: Flask | None = None


def init_app(app: Flask) -> None:
    """Point the queue at the storage the configuration names; jobs run in this app."""
    global _app
    backend = app.config["JOBS_BACKEND"]
    redis_url = app.config.get("REDIS_URL")
    if backend == "auto":
        backend = "redis" if redis_url else "sqlite"
    if backend == "redis":
        if not redis_url:
            raise RuntimeError("JOBS_BACKEND is 'redis' but REDIS_URL is not set.")
        huey.storage = RedisStorage("shopper", url=redis_url)
    elif backend == "sqlite":
        huey.storage = SqliteStorage("shopper", filename=str(Path(app.instance_path) / QUEUE_FILE))
    elif backend == "memory":
        if not isinstance(huey.storage, MemoryStorage):
            huey.storage = MemoryStorage("shopper")
    else:
        raise RuntimeError(f"JOBS_BACKEND must be auto, sqlite, redis or memory, not {backend!r}.")
    _app = app


def job(periodic=None, **options):
    """A Huey task that runs in a fresh app context of the app (the current one, else the one `init_app` saw),
    reading without the write lock until it writes, and committing once when it returns (rolled back when it
    raises). With `periodic` (a huey.crontab) the consumer runs it on that schedule."""

    def decorator(function):
        @functools.wraps(function)
        def run(*args, **kwargs):
            app = current_app._get_current_object() if has_app_context() else _app
            if app is None:
                raise RuntimeError("shopper.jobs.init_app was not called in this process.")
            with app.app_context():
                reads_first()
                with unit_of_work():
                    return function(*args, **kwargs)

        return (huey.periodic_task(periodic, **options) if periodic else huey.task(**options))(run)

    return decorator


def run_pending(limit: int = 1000) -> int:
    """Run every queued job now, in this thread, as the consumer would; returns how many ran. For the test suite
    and for `flask jobs run --once`."""
    ran = 0
    while ran < limit:
        task = huey.dequeue()
        if task is None:
            return ran
        huey.execute(task)
        ran += 1
    return ran


def beat() -> None:
    huey.put(HEARTBEAT, time.time())


def consumer_running() -> bool:
    """Whether a consumer wrote its heartbeat lately (the memory queue of the test suite has none: True there)."""
    if isinstance(huey.storage, MemoryStorage):
        return True
    try:
        last = huey.get(HEARTBEAT, peek=True)
    except Exception:  # the queue's storage is down: say nobody is there, never fail the page
        log.exception("reading the job consumer's heartbeat failed")
        return False
    return last is not None and time.time() - last < HEARTBEAT_STALE_SECONDS


@huey.periodic_task(crontab(minute="*"))
def heartbeat() -> None:
    beat()


@huey.on_startup()
def _started() -> None:
    beat()


@huey.pre_execute()
def _before_each_job(task) -> None:
    beat()


def run_consumer(workers: int, nice: int) -> None:
    """The consumer, as `flask jobs run` starts it: `workers` threads, at a lower CPU priority than the web server
    (`nice`), picking up a new job within two seconds, and stopping gracefully on SIGTERM."""
    if nice:
        os.nice(nice)
    huey.create_consumer(
        workers=workers, worker_type="thread", periodic=True, max_delay=2.0, graceful_signal="TERM"
    ).run()
