"""Default settings. instance/config.py, then SHOPPER_* environment variables, override them.

Every setting is listed in the README's configuration table.
"""

# Database: None means SQLite in the instance folder. DATABASE_URL (or SHOPPER_DATABASE_URL) overrides.
DATABASE_URL = None
# Every connection is checked as it leaves the pool (a PostgreSQL restart or a killed backend costs no request).
SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
# SQLite: how long a write waits for another writer before the request answers 503 with Retry-After.
SQLITE_BUSY_TIMEOUT_MS = 5000

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

# Media (photos, logos, cached PDFs): "local" keeps them in MEDIA_ROOT (default: the instance folder's media/);
# "s3" in the S3-compatible bucket S3_BUCKET, at S3_ENDPOINT_URL (None: AWS itself) in S3_REGION, with credentials
# from boto3's usual places (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ~/.aws/credentials, an instance role).
MEDIA_STORAGE = "local"
S3_BUCKET = None
S3_ENDPOINT_URL = None
S3_REGION = None

# Compression (Flask-Compress) of text answers for browsers that ask for it: brotli, else gzip. Photos, PDFs and
# ZIPs are compressed already and never go through it; answers under 500 bytes are not worth it.
COMPRESS_MIMETYPES = [
    "text/html",
    "text/css",
    "text/javascript",
    "application/javascript",
    "application/json",
    "application/manifest+json",
    "image/svg+xml",
]
COMPRESS_ALGORITHM = ["br", "gzip"]
COMPRESS_ALGORITHM_STREAMING = ["br", "deflate"]
COMPRESS_MIN_SIZE = 500
# Brotli's level for answers made per request (shell files are compressed once per version at 11, pwa/files.py).
# Measured on the walk page (45 KB of HTML): 4 gives 10.5 KB in 0.6 ms of CPU, 5 gives 9.7 KB in 0.9 ms, 6 and 7
# hardly less, 9 takes 14 ms.
COMPRESS_BR_LEVEL = 5

# Photos each worker process decodes at once; a big one may hold ~0.5 GB meanwhile (see shopper/media/ingest.py).
# Another upload waits up to 10 s for a turn, then is answered 503 with Retry-After, and the phone sends it again.
IMAGE_DECODE_CONCURRENCY = 2

# Sign-in throttling: failed attempts within the window. A browser that signed in to the account before (a known
# device) is held only to its own failures, so nobody else can lock the owner out of it.
LOGIN_WINDOW_SECONDS = 15 * 60
LOGIN_MAX_FAILURES_PER_CLIENT = 10  # one account, from one address or one known browser
LOGIN_MAX_FAILURES_PER_IP = 30  # one address, whatever the accounts (offices share an address)
LOGIN_MAX_FAILURES_PER_ACCOUNT = 50  # one account, from browsers that never signed in to it, whatever the address
PASSWORD_MIN_LENGTH = 10

# Rate limits (Flask-Limiter's notation), per client address unless said otherwise. Each setting is one allowance
# shared by the pages it covers. Counted in Redis when REDIS_URL is set (shared by every app server), else in each
# worker's memory.
RATE_LIMIT_SIGN_IN = "60 per minute"  # the form itself; wrong passwords are throttled per account above
RATE_LIMIT_SIGN_UP = "10 per hour"
RATE_LIMIT_MAIL = "5 per hour"  # "forgot password" and "send the confirmation again", per address and per account
RATE_LIMIT_LINKS = "60 per hour"  # opening invitation, consultancy offer and password reset links
RATE_LIMIT_INVITING = "50 per hour"  # making invitations, offers and share links, per person
RATE_LIMIT_SHARED_REPORTS = "600 per minute"  # a shared report and its photos, through a share link
RATE_LIMIT_API = "1200 per minute"  # the phone's writes, per person: a phone back online replays its whole queue
RATE_LIMIT_REPORT_MAIL = "10 per hour"  # sending a report by email (up to 20 recipients each time), per person
RATELIMIT_HEADERS_ENABLED = False  # Retry-After goes on the 429 only, never on an answer that worked
RATELIMIT_STORAGE_URI = None  # None: REDIS_URL when set, else each worker's memory (security.LocalCounters)
RATELIMIT_STRATEGY = "fixed-window"  # the one security.LocalCounters counts

# Redis, when several app servers share the job queue and the rate limits (redis://host:6379/0).
REDIS_URL = None

# The job queue (report PDFs, the ZIP of reports, mail, reminders): "auto" is Redis when REDIS_URL is set, else a
# SQLite file in the instance folder; "sqlite", "redis" or "memory" (one process only: the test suite) force one.
JOBS_BACKEND = "auto"
JOBS_WORKERS = 2  # threads of `flask jobs run`: they share one render process, so PDFs are made one at a time
JOBS_NICE = 10  # `flask jobs run` lowers its CPU priority by this much: renders yield to the web server

# Invites, password reset links and email confirmation links
INVITE_LIFETIME_DAYS = 7
PASSWORD_RESET_HOURS = 2  # a link the person asked for by mail
PASSWORD_RESET_BY_OWNER_HOURS = 24  # a link an owner made for a member who gets no mail
EMAIL_CONFIRMATION_DAYS = 7

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

# Reports: paper size (A4 or letter), and the limits of the separate process that renders PDFs (in the job consumer,
# never in a web request). A share link works this many days unless its maker chooses otherwise.
REPORT_PAGE_SIZE = "A4"
REPORT_RENDER_TIMEOUT = 120
REPORT_RENDER_MEMORY_MB = 1024
REPORT_SHARE_DAYS = 30
# A report sent by email carries its PDF up to this size; a larger PDF is left out and the mail gives the link only.
REPORT_MAIL_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024

# Offline app: any new text here makes every phone fetch a fresh copy of the app shell (the version is otherwise a
# hash of the shell files and templates).
SHELL_VERSION_SALT = ""
