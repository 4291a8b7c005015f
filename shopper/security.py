"""Security headers on every response, rate limits, safe return paths, and trust in a reverse proxy only when
configured."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, current_app
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
    limiter.init_app(app)

    @app.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
