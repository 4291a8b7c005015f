"""Who commits: the request, the CLI command and the job, once, at their end (as Indico's `RH.process` does).

Service functions add and flush; they never commit. The boundary that called them decides:

- A request commits after its view returned a successful answer (a status below 400: 2xx, and 3xx redirects) and
  rolls back when the view raised or answered an error (4xx, 5xx). A form re-rendered with its errors answers 400
  or 422, so bad input changes nothing. The commit runs inside `dispatch_request`, so a commit that fails still
  reaches the app's error handlers (503 while the database is busy, 507 when the disk is full), never a bare 500.
- A CLI command (`@commits`) and a job (`jobs.job`) run in `unit_of_work()`: committed when they return, rolled
  back when they raise.

The one other place that commits is database.py: `write_transaction()`, the deliberate short unit of work that
writes under SQLite's write lock after slow work, and the phone's exactly-once writes (it also serves a refusal that
must be remembered although the answer is an error: a failed sign-in counts towards the throttle), and
`end_reading()`, which ends a reading transaction before slow work.

Jobs put on the queue during a boundary are enqueued only once it has committed, so a job never reads the state
from before the change that asked for it, and a request that rolled back queues nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import Flask, Response, g, has_app_context

from shopper.extensions import db

#: answers from this status up are errors: the request's transaction is rolled back
ERROR_STATUS = 400


def after_commit(callback: Callable[[], object]) -> None:
    """Run `callback` once the current boundary has committed (never if it rolls back); at once outside one."""
    pending = g.get("_after_commit") if has_app_context() else None
    if pending is None:
        callback()
    else:
        pending.append(callback)


def _commit() -> None:
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


@contextmanager
def unit_of_work() -> Iterator[None]:
    """Commit once when the block ends, roll back when it raises; then run what waited for the commit."""
    outer = g.get("_after_commit")
    pending: list[Callable[[], object]] = []
    g._after_commit = pending
    try:
        try:
            yield
        except BaseException:
            db.session.rollback()
            raise
        _commit()
    finally:
        g._after_commit = outer
    for callback in pending:
        after_commit(callback)


def commits(command: Callable) -> Callable:
    """A CLI command that commits once at its end (and rolls back when it fails). Inside `with_appcontext`."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        with unit_of_work():
            return command(*args, **kwargs)

    return run


class Shopper(Flask):
    """The app: every request's view runs in one transaction that ends as the answer says (see the module)."""

    def send_static_file(self, filename: str) -> Response:
        """A static file read whole (the largest is some 30 KB) and its file closed: Flask-Compress then compresses
        it as one body with a length, where a streamed file would be left open by its streaming compressor."""
        response = super().send_static_file(filename)
        response.direct_passthrough = False
        response.make_sequence()
        return response

    def dispatch_request(self) -> Response:
        pending: list[Callable[[], object]] = []
        g._after_commit = pending
        try:
            response = self.make_response(super().dispatch_request())
        except BaseException:
            db.session.rollback()  # before an error page renders: nothing of the failed view may be flushed there
            raise
        finally:
            g._after_commit = None
        if response.status_code >= ERROR_STATUS:
            db.session.rollback()
            return response
        _commit()
        for callback in pending:
            callback()
        return response
