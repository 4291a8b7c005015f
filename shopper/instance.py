"""Configuration loading and the instance folder (config.py, the SQLite file, media, the generated secret key)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask

from shopper.database import normalize_database_url
from shopper.security import LOCAL_COUNTERS_URI

SECRET_KEY_FILE = "secret_key"


def load_config(app: Flask, test_config: dict | None) -> None:
    """Defaults, then instance/config.py, then SHOPPER_* environment variables, then test_config."""
    app.config.from_object("shopper.config")
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("SHOPPER")
    for name in ("DATABASE_URL", "SECRET_KEY", "REDIS_URL"):
        if os.environ.get(name):
            app.config[name] = os.environ[name]
    if test_config:
        app.config.update(test_config)

    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    app.config.setdefault("MEDIA_ROOT", str(instance / "media"))
    url = app.config.get("DATABASE_URL") or f"sqlite:///{instance / 'shopper.sqlite3'}"
    app.config["SQLALCHEMY_DATABASE_URI"] = normalize_database_url(url)
    if not app.config.get("RATELIMIT_STORAGE_URI"):
        app.config["RATELIMIT_STORAGE_URI"] = app.config.get("REDIS_URL") or LOCAL_COUNTERS_URI
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = read_or_create_secret_key(instance / SECRET_KEY_FILE)


def read_or_create_secret_key(path: Path) -> str:
    """A key generated once per installation, readable only by its owner, so sessions survive restarts."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker won the race
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key
