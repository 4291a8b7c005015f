"""Installable, offline-capable: the web app manifest, the service worker at /sw.js, and the offline page."""

from __future__ import annotations

import json

from flask import Blueprint, Flask, current_app, jsonify, make_response, render_template, url_for

from shopper.pwa import files
from shopper.pwa.shell import Shell, shell_of

bp = Blueprint("pwa", __name__)

THEME_COLOR = "#1d4e89"


def current_shell() -> Shell:
    return shell_of(current_app)


def version() -> str:
    return current_shell().version


def init_app(app: Flask) -> None:
    files.init_app(app)

    @app.url_defaults
    def _versioned_static(endpoint, values):
        if endpoint == "static" and "v" not in values:
            values["v"] = version()


@bp.get("/manifest.webmanifest")
def manifest():
    response = jsonify(
        name="Shopper: be your customer",
        short_name="Shopper",
        description="Walk your business the way your customers do, and see what they live through.",
        id="/",
        start_url="/",
        scope="/",
        display="standalone",
        orientation="portrait",
        background_color="#f5f7fa",
        theme_color=THEME_COLOR,
        icons=[
            {"src": url_for("static", filename="icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": url_for("static", filename="icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {
                "src": url_for("static", filename="icons/maskable-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
    )
    response.mimetype = "application/manifest+json"
    return response


@bp.get("/sw.js")
def service_worker():
    """static/sw.js, a plain file, after the lines that give it what only the server knows: the shell's version, the
    URLs to keep (the offline page among them) and the outbox's versioned URL to import.

    A deploy updates the worker on every phone: the browser fetches /sw.js again (no-cache) on navigation and
    installs it when a byte differs, and the version in the first lines changes with any shell file, the worker's
    own code, any template or SHELL_VERSION_SALT (see shell.py). The new worker then takes over as sw.js says."""
    offline_url = url_for("pwa.offline")
    shell = current_shell()
    urls = [url_for("static", filename=name) for name in shell.files]
    facts = {"VERSION": version(), "SHELL_URLS": [*urls, offline_url], "OFFLINE_URL": offline_url}
    lines = ['"use strict";', *(f"const {name} = {json.dumps(value)};" for name, value in facts.items())]
    lines.append(f"importScripts({json.dumps(url_for('static', filename='js/outbox.js'))});")
    response = make_response("\n".join(lines) + "\n\n" + shell.worker())
    response.mimetype = "text/javascript"
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    response.add_etag()  # the browser's update check on each navigation is then a 304 (Flask-Compress answers it)
    return response


@bp.get("/offline")
def offline():
    return render_template("pwa/offline.html")
