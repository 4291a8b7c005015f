"""Installable, offline-capable: the web app manifest, the service worker at /sw.js, and the offline page."""

from __future__ import annotations

import json

from flask import Blueprint, Flask, Response, current_app, jsonify, make_response, render_template, request, url_for

from shopper.pwa.shell import SHELL_FOLDERS, shell_files, shell_version, worker_script

bp = Blueprint("pwa", __name__)

THEME_COLOR = "#1d4e89"
#: how long a browser keeps a shell file fetched under the current version: its URL changes when the file does
SHELL_FILE_MAX_AGE = 365 * 24 * 3600


def version() -> str:
    config = current_app.config
    return shell_version(current_app.static_folder, current_app.template_folder, str(config["SHELL_VERSION_SALT"]))


def init_app(app: Flask) -> None:

    @app.url_defaults
    def _versioned_static(endpoint, values):
        if endpoint == "static" and "v" not in values:
            values["v"] = version()

    @app.after_request
    def _shell_files_last(response: Response) -> Response:
        """A shell file asked for under the current version is kept a year and never revalidated: the version is a
        hash of every shell file, so a changed file comes under a new URL. Other static files (the report's fonts)
        and other versions keep Flask's revalidated caching."""
        if (
            request.endpoint == "static"
            and response.status_code == 200
            and str((request.view_args or {}).get("filename", "")).split("/")[0] in SHELL_FOLDERS
            and request.args.get("v") == version()
        ):
            response.cache_control.public = True
            response.cache_control.max_age = SHELL_FILE_MAX_AGE
            response.cache_control.immutable = True
            response.cache_control.no_cache = None
        return response


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
    shell = [url_for("static", filename=name) for name in shell_files(current_app.static_folder)]
    facts = {"VERSION": version(), "SHELL_URLS": [*shell, offline_url], "OFFLINE_URL": offline_url}
    lines = ['"use strict";', *(f"const {name} = {json.dumps(value)};" for name, value in facts.items())]
    lines.append(f"importScripts({json.dumps(url_for('static', filename='js/outbox.js'))});")
    response = make_response("\n".join(lines) + "\n\n" + worker_script(current_app.static_folder))
    response.mimetype = "text/javascript"
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@bp.get("/offline")
def offline():
    return render_template("pwa/offline.html")
