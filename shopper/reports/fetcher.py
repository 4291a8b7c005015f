"""WeasyPrint's only way to load anything while it renders a report. Imported in the render process only.

The report's HTML names its stylesheets, fonts and photos under two private schemes, ``shopper-static:<name>``
and ``shopper-media:<name>``; the parent process lists exactly which names exist (the app's report stylesheet and
font files, this audit's photos and its brand's logo) and where their bytes are: a file's path, or the bytes
themselves (media read from an S3 bucket). Everything else is refused: ``http:``, ``https:``, ``file:``,
``data:``, any other scheme, and any name that is not on the list, such as another audit's photo. Nothing is
ever resolved against the file system from a URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from weasyprint.urls import URLFetcher, URLFetcherResponse

STATIC_SCHEME = "shopper-static"
MEDIA_SCHEME = "shopper-media"
CONTENT_TYPES = {
    ".css": "text/css",
    ".woff": "font/woff",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
}


class RefusedURL(ValueError):
    """A URL the report may not load; WeasyPrint logs it and renders without the resource."""


class ReportFetcher(URLFetcher):
    """Serves the listed static files and media by name, and nothing else. ``refused`` keeps what it turned down
    (cut to 200 characters), for tests and for the log."""

    def __init__(self, static: Mapping[str, str | bytes], media: Mapping[str, str | bytes]):
        super().__init__(allowed_protocols=(STATIC_SCHEME, MEDIA_SCHEME), allow_redirects=False, timeout=1)
        self._sources = {STATIC_SCHEME: dict(static), MEDIA_SCHEME: dict(media)}
        self.refused: list[str] = []

    def fetch(self, url, headers=None):
        scheme, colon, name = str(url).partition(":")
        source = self._sources.get(scheme) if colon else None
        if source is None or name not in source:
            self.refused.append(str(url)[:200])
            raise RefusedURL(f"the report may not load {str(url)[:80]!r}")
        target = source[name]
        body = target if isinstance(target, bytes) else Path(target).read_bytes()
        content_type = CONTENT_TYPES.get(Path(name).suffix.lower(), "image/jpeg")
        return URLFetcherResponse(url, body, headers={"Content-Type": content_type})
