"""Error pages that look like the app, and JSON errors for the API."""

from __future__ import annotations

import errno
import math
import sqlite3
import time

from flask import Flask, current_app, jsonify, make_response, render_template, request
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from shopper.database import reads_first
from shopper.extensions import db, limiter

MESSAGES = {
    400: "Something in that request did not make sense to us.",
    401: "Please sign in again: your session has ended. Nothing you entered on this device is lost.",
    403: "Your role in this organization does not allow that.",
    404: "There is nothing here, or it belongs to an organization you are not part of.",
    405: "That action is not available here.",
    409: "That clashes with the current state of things.",
    413: "That upload is too large.",
    429: "Too many attempts. Please wait a little and try again.",
    500: "Something went wrong on our side. Nothing you entered was half-saved; please try again.",
    503: "We are busy for a moment. Nothing you entered is lost: this phone tries again by itself in a few seconds.",
    507: (
        "The server has run out of storage space, so this was not saved. Please tell your administrator, and try "
        "again once they have made room."
    ),
}
#: how long a client should wait before trying again when the database is busy or the connection dropped
BUSY_RETRY_SECONDS = 2
#: the phone's outbox keeps a change the server could not store and sends it again later (a 5xx is retried)
OUT_OF_SPACE_ON_THE_PHONE = (
    "The server has run out of storage space, so this was not saved. Your change is kept on this device and will "
    "be sent again; please tell your administrator."
)
OUT_OF_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
POSTGRESQL_DISK_FULL = "53100"


def database_busy(error: DBAPIError) -> bool:
    """The database could not take the request just now, and the same request later will do: SQLite's write lock
    held by another process past the busy timeout, or a connection to PostgreSQL that dropped (the pool has thrown
    it away; the next request gets a fresh one)."""
    if error.connection_invalidated:
        return True
    text = str(error.orig).lower() if error.orig is not None else ""
    return isinstance(error, OperationalError) and ("database is locked" in text or "database is busy" in text)


def wants_json() -> bool:
    return "/api/" in request.path or (
        request.accept_mimetypes.best_match(["application/json", "text/html"]) == "application/json"
    )


def error_response(status: int, message: str | None = None, retry_after: int | None = None):
    message = message or MESSAGES.get(status, "Something went wrong.")
    if wants_json():
        response = make_response(jsonify(error=message, status=status), status)
    else:
        response = make_response(render_template("errors/error.html", status=status, message=message), status)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def out_of_space(error: Exception) -> bool:
    """A full volume or an exhausted quota: a file write (ENOSPC, EDQUOT), SQLite's "database or disk is full",
    or PostgreSQL's disk_full."""
    if isinstance(error, OSError):
        return error.errno in OUT_OF_SPACE_ERRNOS
    if isinstance(error, OperationalError):
        driver_error = error.orig
        return (
            getattr(driver_error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
            or getattr(driver_error, "sqlstate", None) == POSTGRESQL_DISK_FULL
        )
    return False


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):
        return error_response(400, "This form has expired or was sent from elsewhere. Reload the page and try again.")

    @app.errorhandler(RateLimitExceeded)
    def _limited(error: RateLimitExceeded):
        current = limiter.current_limit
        wait = max(1, math.ceil(current.reset_at - time.time())) if current is not None else 60
        return error_response(
            429,
            "Too many requests from here in a short time. Please wait a minute and try again: nothing is lost.",
            retry_after=wait,
        )

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        description = error.description if error.description != type(error).description else None
        return error_response(error.code or 500, description)

    def _out_of_space_response(error: Exception):
        current_app.logger.error("Out of storage space on %s %s: %s", request.method, request.path, error)
        return error_response(507, OUT_OF_SPACE_ON_THE_PHONE if "/api/" in request.path else None)

    @app.errorhandler(OSError)
    def _os_error(error: OSError):
        """507 for a full disk; every other error is raised again, to stay the 500 it always was."""
        if not out_of_space(error):
            raise error
        return _out_of_space_response(error)

    @app.errorhandler(DBAPIError)
    def _database(error: DBAPIError):
        """507 for a full disk, 503 with Retry-After while the database cannot take the request (the phone tries
        again by itself); every other database error is raised again, to stay a 500."""
        if out_of_space(error):
            db.session.rollback()
            reads_first()
            return _out_of_space_response(error)
        if not database_busy(error):
            raise error
        db.session.rollback()
        reads_first()  # the page itself may read (who is signed in) and must not wait for the write lock again
        current_app.logger.warning("database busy or connection lost, answered 503: %s", error.orig)
        return error_response(503, retry_after=BUSY_RETRY_SECONDS)

    @app.errorhandler(InternalServerError)
    def _internal(error: InternalServerError):
        return error_response(500)
