"""Security headers on every response, rate limits, a body limit for forms, safe return paths, and trust in a
reverse proxy only when configured."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request
from flask_limiter.util import get_remote_address
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

from shopper.extensions import limiter

# No inline script or style anywhere: every script is an ES module under /static, every style a stylesheet.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "worker-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), geolocation=(), microphone=()",
}


def same_site_path(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None: never another host (an open redirect). Browsers ignore
    tabs and line breaks in a URL and read a backslash as a slash, so "/\t/evil.example" would be "//evil.example",
    another host: any of those, a scheme, a host or a leading "//" is refused."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 32 or ord(c) == 127 or c.isspace() for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return None
    return target


def _person_or_address() -> str:
    """The signed-in person for limits on what people do (making invitations, the phone's writes), else the
    client address."""
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return get_remote_address()


def rate_limit(setting: str, *, per_person: bool = False, key=None, methods: list[str] | None = None):
    """A Flask-Limiter limit whose value is the configuration setting `setting` (e.g. "10 per hour"), per client
    address, per signed-in person (`per_person`), or per what `key()` returns. Every view it decorates shares one
    count: opening any kind of link, say, spends from the same allowance. Decorates a view or a blueprint."""
    return limiter.shared_limit(
        lambda: current_app.config[setting],
        scope=setting,
        key_func=key or (_person_or_address if per_person else get_remote_address),
        methods=methods,
    )


def init_app(app: Flask) -> None:
    proxies = int(app.config.get("PROXY_COUNT") or 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)

    @app.before_request  # before the rate limits, whose keys may read the form
    def _form_body_limit() -> None:
        """A form without files never needs more than MAX_FORM_MEMORY_SIZE, the limit Werkzeug puts on each text
        part of a multipart body but not on a URL-encoded one: a larger URL-encoded body is 413 too, instead of up
        to MAX_CONTENT_LENGTH (sized for photos) parsed into memory and refused by the form afterwards."""
        limits = [current_app.config.get(name) for name in ("MAX_CONTENT_LENGTH", "MAX_FORM_MEMORY_SIZE")]
        limits = [limit for limit in limits if limit is not None]
        if request.mimetype == "application/x-www-form-urlencoded" and limits:
            request.max_content_length = min(limits)

    limiter.init_app(app)

    @app.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
