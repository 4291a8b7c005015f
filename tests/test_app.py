import os
import stat

from shopper import create_app
from shopper.instance import read_or_create_secret_key
from tests.conftest import make_app


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_is_503_when_the_database_does_not_answer(tmp_path):
    broken = make_app(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'missing-dir' / 'db.sqlite3'}")
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"


def test_every_response_carries_the_security_headers(client):
    for path in ("/", "/login", "/does-not-exist", "/healthz"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"


def test_session_cookie_is_httponly_and_lax(client, make):
    user = make.user()
    response = client.post("/login", data={"email": user.email, "password": "correct horse battery staple"})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_secure_cookies_and_hsts_when_configured_for_https(tmp_path, app):
    secure = make_app(tmp_path, SESSION_COOKIE_SECURE=True, DATABASE_URL=app.config["DATABASE_URL"])
    response = secure.test_client().get("/login")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_error_pages_look_like_the_app_and_json_for_the_api(client):
    page = client.get("/no/such/page")
    assert page.status_code == 404
    assert b"Back to Shopper" in page.data and b"<main" in page.data
    api = client.get("/api/nothing")
    assert api.status_code == 404 and api.get_json()["status"] == 404


def test_request_size_limit_gives_413(tmp_path, app):
    small = make_app(tmp_path, MAX_CONTENT_LENGTH=1024, DATABASE_URL=app.config["DATABASE_URL"])
    response = small.test_client().post("/login", data={"email": "x" * 5000})
    assert response.status_code == 413
    assert b"too large" in response.data


def test_secret_key_is_generated_once_with_owner_only_permissions(tmp_path):
    path = tmp_path / "secret_key"
    key = read_or_create_secret_key(path)
    assert len(key) == 64
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert read_or_create_secret_key(path) == key


def test_instance_config_and_environment_override_defaults(tmp_path, monkeypatch, app):
    (tmp_path / "config.py").write_text("INVITE_LIFETIME_DAYS = 3\nPASSWORD_MIN_LENGTH = 12\n")
    monkeypatch.setenv("SHOPPER_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("SHOPPER_PASSWORD_MIN_LENGTH", "14")
    monkeypatch.setenv("DATABASE_URL", app.config["DATABASE_URL"])
    monkeypatch.delenv("SECRET_KEY", raising=False)
    configured = create_app()
    assert configured.config["INVITE_LIFETIME_DAYS"] == 3
    assert configured.config["PASSWORD_MIN_LENGTH"] == 14  # the environment wins over instance/config.py
    assert (tmp_path / "secret_key").exists()
    assert configured.config["SECRET_KEY"] == (tmp_path / "secret_key").read_text().strip()


def test_postgres_urls_use_psycopg3():
    from shopper.database import normalize_database_url

    assert normalize_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_database_url("sqlite:///x") == "sqlite:///x"
