"""Security headers on every response, rate limits, a body limit for forms, safe return paths, and trust in a
reverse proxy only when configured."""

from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request
from flask_limiter.util import get_remote_address
from flask_login import current_user
from limits.storage import Storage
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


class LocalCounters(Storage):
    """Rate limit counts in this process's memory, for the fixed windows our limits use, without a thread.

    It is what limits' own "memory://" storage counts, minus its expiry timer: that one starts a new
    `threading.Timer` 10 ms after nearly every counted request (15-20% of an autosave's wall time under load).
    Here an expired count is dropped when it is next read, and every minute the counts nobody read again are swept
    by the request that happens to count next, so memory stays bounded by the keys of the last window.
    """

    STORAGE_SCHEME = ["shopper-memory"]
    SWEEP_SECONDS = 60.0

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: float | str | bool):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._expiries: dict[str, float] = {}
        self._swept_at = time.time()

    @property
    def base_exceptions(self) -> type[Exception]:
        return ValueError

    def _drop_expired(self, key: str, now: float) -> None:
        if self._expiries.get(key, 0.0) <= now:
            self._counts.pop(key, None)
            self._expiries.pop(key, None)

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        with self._lock:
            if now - self._swept_at >= self.SWEEP_SECONDS:
                for stale in [k for k, at in self._expiries.items() if at <= now]:
                    self._drop_expired(stale, now)
                self._swept_at = now
            self._drop_expired(key, now)
            count = self._counts.get(key, 0) + amount
            self._counts[key] = count
            if count == amount:
                self._expiries[key] = now + expiry
            return count

    def get(self, key: str) -> int:
        with self._lock:
            self._drop_expired(key, time.time())
            return self._counts.get(key, 0)

    def get_expiry(self, key: str) -> float:
        return self._expiries.get(key, time.time())

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self._lock:
            cleared = len(self._counts)
            self._counts.clear()
            self._expiries.clear()
            return cleared

    def clear(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)
            self._expiries.pop(key, None)


#: the storage of the rate limits when neither RATELIMIT_STORAGE_URI nor REDIS_URL is set
LOCAL_COUNTERS_URI = "shopper-memory://"


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
