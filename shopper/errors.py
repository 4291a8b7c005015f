"""Error pages that look like the app, and JSON errors for the API."""

from __future__ import annotations

from flask import Flask, jsonify, make_response, render_template, request
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
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
}


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


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):
        return error_response(400, "This form has expired or was sent from elsewhere. Reload the page and try again.")

    @app.errorhandler(RateLimitExceeded)
    def _limited(error: RateLimitExceeded):
        return error_response(
            429, "Too many requests from here in a short time. Please wait a minute and try again: nothing is lost."
        )

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        description = error.description if error.description != type(error).description else None
        return error_response(error.code or 500, description)

    @app.errorhandler(InternalServerError)
    def _internal(error: InternalServerError):
        return error_response(500)
