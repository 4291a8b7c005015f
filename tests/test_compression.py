"""Text answers are compressed by the app itself (Flask-Compress), so `make run` sends small pages with no proxy in
front: brotli where the browser takes it, else gzip; photos and other compressed formats as they are."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import brotli
import pytest
from flask import url_for

from shopper.orgs.models import Role

STATIC = Path(__file__).resolve().parent.parent / "static"


def decoded(response) -> bytes:
    body = response.get_data()
    encoding = response.headers.get("Content-Encoding")
    if encoding == "br":
        return brotli.decompress(body)
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    assert encoding is None, encoding
    return body


@pytest.mark.parametrize(("accepts", "encoding"), [("br, gzip", "br"), ("gzip, deflate", "gzip"), ("", None)])
def test_a_page_is_sent_compressed_as_the_browser_asks_and_reads_the_same(client, accepts, encoding):
    plain = client.get("/login")
    response = client.get("/login", headers={"Accept-Encoding": accepts} if accepts else {})
    assert response.status_code == 200
    assert response.headers.get("Content-Encoding") == encoding
    assert "Accept-Encoding" in response.headers["Vary"]
    if encoding:
        assert len(response.get_data()) < len(plain.get_data()) / 2
    # the CSRF token differs between the two answers; the page around it does not
    assert decoded(response).split(b'name="csrf_token"')[0] == plain.get_data().split(b'name="csrf_token"')[0]


@pytest.mark.parametrize("name", ["js/walk.js", "css/app.css"])
def test_scripts_and_styles_are_sent_compressed_and_decode_to_the_file(client, name):
    with client.get(f"/static/{name}", headers={"Accept-Encoding": "br, gzip"}) as response:
        assert response.status_code == 200
        assert response.headers["Content-Encoding"] == "br"
        assert decoded(response) == (STATIC / name).read_bytes()


def test_pictures_are_sent_as_they_are(client):
    with client.get("/static/icons/icon-192.png", headers={"Accept-Encoding": "br, gzip"}) as response:
        assert response.status_code == 200
        assert "Content-Encoding" not in response.headers
        assert response.get_data() == (STATIC / "icons" / "icon-192.png").read_bytes()


def test_the_service_worker_script_is_sent_compressed(client):
    plain = client.get("/sw.js").get_data()
    response = client.get("/sw.js", headers={"Accept-Encoding": "br"})
    assert response.headers["Content-Encoding"] == "br"
    assert decoded(response) == plain


def current_url(app, name: str) -> str:
    with app.test_request_context():
        return url_for("static", filename=name)


@pytest.mark.parametrize(
    ("accepts", "encoding"), [("gzip, deflate, br", "br"), ("gzip", "gzip"), ("br;q=0, gzip", "gzip")]
)
def test_a_shell_file_under_its_version_is_sent_precompressed_as_the_browser_asks(client, app, accepts, encoding):
    url = current_url(app, "css/app.css")
    with client.get(url, headers={"Accept-Encoding": accepts}) as response:
        assert response.status_code == 200
        assert response.headers["Content-Encoding"] == encoding
        assert response.headers["Vary"] == "Accept-Encoding"
        assert int(response.headers["Content-Length"]) == len(response.get_data())
        served = decoded(response)
    with client.get(url) as plain:
        assert "Content-Encoding" not in plain.headers and plain.get_data() == served
        assert plain.headers["ETag"] != response.headers["ETag"]  # one strong ETag per encoding
    assert b"body" in served and b"/*" not in served  # the stylesheet, without its comments


def test_a_shell_file_answer_carries_no_cookie_and_no_document_headers(client, app, login, make):
    login(make.member(make.org(), Role.AUDITOR))
    with client.get(current_url(app, "js/walk.js"), headers={"Accept-Encoding": "br"}) as response:
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.mimetype == "text/javascript"
        for name in ("Content-Security-Policy", "X-Frame-Options", "Referrer-Policy", "Permissions-Policy"):
            assert name not in response.headers


def test_a_picture_of_the_shell_and_a_font_outside_it(client, app):
    with client.get(current_url(app, "icons/icon-192.png"), headers={"Accept-Encoding": "br, gzip"}) as icon:
        assert icon.status_code == 200 and icon.cache_control.immutable
        assert "Content-Encoding" not in icon.headers and "Vary" not in icon.headers
        assert icon.get_data() == (STATIC / "icons" / "icon-192.png").read_bytes()
    font = next(p for p in sorted((STATIC / "fonts").rglob("*.woff*")) if p.is_file())
    with client.get(current_url(app, font.relative_to(STATIC).as_posix())) as response:
        assert response.status_code == 200 and not response.cache_control.immutable  # the report's, not the shell's


def test_a_head_request_for_a_shell_file_has_its_headers_and_no_body(client, app):
    url = current_url(app, "js/walk.js")
    with client.get(url, headers={"Accept-Encoding": "br"}) as full:
        length = full.headers["Content-Length"]
    with client.head(url, headers={"Accept-Encoding": "br"}) as head:
        assert head.status_code == 200 and head.headers["Content-Length"] == length and head.get_data() == b""
