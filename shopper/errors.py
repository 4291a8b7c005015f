"""Error pages that look like the app, and JSON errors for the API."""

from __future__ import annotations

import errno
import sqlite3

from flask import Flask, current_app, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

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
    507: (
        "The server has run out of storage space, so this was not saved. Please tell your administrator, and try "
        "again once they have made room."
    ),
}
#: the phone's outbox keeps a change the server could not store and sends it again later (a 5xx is retried)
OUT_OF_SPACE_ON_THE_PHONE = (
    "The server has run out of storage space, so this was not saved. Your change is kept on this device and will "
    "be sent again; please tell your administrator."
)
OUT_OF_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
POSTGRESQL_DISK_FULL = "53100"


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

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        description = error.description if error.description != type(error).description else None
        return error_response(error.code or 500, description)

    @app.errorhandler(OSError)
    @app.errorhandler(OperationalError)
    def _out_of_space(error: Exception):
        """507 for a full disk; every other error is raised again, to stay the 500 it always was."""
        if not out_of_space(error):
            raise error
        current_app.logger.error("Out of storage space on %s %s: %s", request.method, request.path, error)
        return error_response(507, OUT_OF_SPACE_ON_THE_PHONE if "/api/" in request.path else None)

    @app.errorhandler(InternalServerError)
    def _internal(error: InternalServerError):
        return error_response(500)
