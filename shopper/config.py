"""Default settings. instance/config.py, then SHOPPER_* environment variables, override them.

Every setting is listed in the README's configuration table.
"""

# Database: None means SQLite in the instance folder. DATABASE_URL (or SHOPPER_DATABASE_URL) overrides.
DATABASE_URL = None
SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}

# Sessions and cookies. Set SESSION_COOKIE_SECURE = True when served over HTTPS (it should be, for phones).
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = False
REMEMBER_COOKIE_HTTPONLY = True
REMEMBER_COOKIE_SAMESITE = "Lax"
REMEMBER_COOKIE_SECURE = False
REMEMBER_COOKIE_DURATION = 60 * 60 * 24 * 30
PERMANENT_SESSION_LIFETIME = 60 * 60 * 24 * 14

# Forms
WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session: an auditor may keep a form open for hours

# Requests: a photo may be up to 20 MB, plus the form around it.
MAX_CONTENT_LENGTH = 25 * 1024 * 1024
MAX_FORM_MEMORY_SIZE = 2 * 1024 * 1024

# Photos each worker process decodes at once; a big one may hold ~0.5 GB meanwhile (see shopper/media/ingest.py).
# Another upload waits up to 10 s for a turn, then is answered 503 with Retry-After, and the phone sends it again.
IMAGE_DECODE_CONCURRENCY = 2

# Sign-in throttling: failed attempts within the window, per account and per client address.
LOGIN_WINDOW_SECONDS = 15 * 60
LOGIN_MAX_FAILURES_PER_ACCOUNT = 10
LOGIN_MAX_FAILURES_PER_IP = 30
PASSWORD_MIN_LENGTH = 10

# Invites
INVITE_LIFETIME_DAYS = 7

# Outgoing mail: off unless MAIL_SERVER is set.
MAIL_SERVER = None
MAIL_PORT = 587
MAIL_USERNAME = None
MAIL_PASSWORD = None
MAIL_USE_TLS = True
MAIL_FROM = "Shopper <shopper@localhost>"
MAIL_TIMEOUT = 10

# Behind a reverse proxy that sets X-Forwarded-For/-Proto: how many proxies to trust (0 = none).
PROXY_COUNT = 0

# Reports: paper size (A4 or letter), and the limits of the separate process that renders PDFs. Keep the timeout
# below gunicorn's --timeout (30 s). A share link works this many days unless its maker chooses otherwise.
REPORT_PAGE_SIZE = "A4"
REPORT_RENDER_TIMEOUT = 25
REPORT_RENDER_MEMORY_MB = 1024
REPORT_SHARE_DAYS = 30

# Offline app: any new text here makes every phone fetch a fresh copy of the app shell (the version is otherwise a
# hash of the shell files and templates).
SHELL_VERSION_SALT = ""
