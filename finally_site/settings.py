"""FinAlly settings: every knob comes from the environment (or `.env`), with safe local defaults."""

import ipaddress
import os
import re
import secrets
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent

# A real environment variable always wins over `.env`.
load_dotenv(BASE_DIR / ".env", override=False)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    return value in {"1", "true", "yes", "on"}


def env_number(name: str, default: float, *, minimum: float, maximum: float = 86_400, kind: type = float) -> float:
    """A numeric setting, refused at start with a clear message rather than a hot loop or a crash later."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or value != value or not minimum <= value <= maximum:
        noun = "a whole number" if kind is int else "a number"
        raise ImproperlyConfigured(f"{name} must be {noun} from {minimum:g} to {maximum:g}, not {raw!r}.")
    return value


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _local_secret_key(path: Path) -> str:
    """Keep one random key per checkout so sessions survive restarts without a committed secret."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(50)
        path.write_text(key)
        path.chmod(0o600)
        return key


DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or _local_secret_key(BASE_DIR / "db" / ".secret_key")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    # Before django.contrib.staticfiles: its `collectstatic` (which records a fingerprint) replaces Django's.
    "core",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",  # wraps the template loaders so "workstation.html#panel" renders one partial
    "ninja",  # serves its Swagger UI from local static files instead of a CDN
    "market",
    "webhooks",
    "portfolio",
    "alerts",
    "assistant",
    "accounts",
    "workstation",
]
if sys.argv[1:2] == ["runserver"]:
    # First, so that `runserver` is the ASGI (daphne) dev server and streams flush. Only then: importing daphne
    # installs Twisted's reactor, a quarter of a second of every other start-up (make run serves with uvicorn).
    INSTALLED_APPS.insert(0, "daphne")

MIDDLEWARE = [
    # Outermost: each request's id (X-Request-ID, in and out) is on every log line written while it is served.
    "core.logs.request_id_middleware",
    # Django's own stack on every path, the JSON API included: Host validation (CommonMiddleware via
    # request.get_host()), security headers and CSRF are never skipped for speed. The core.fastpath
    # versions run the same hooks inline on the event loop instead of a thread hop each.
    "core.fastpath.SecurityMiddleware",
    # Outermost but one, so error responses from the middleware below carry the policy too.
    "core.csp.ContentSecurityPolicyMiddleware",
    "core.fastpath.GZipMiddleware",
    "finally_site.middleware.api_error_middleware",
    # Sessions, users and messages serve pages only; the API skips them (core.fastpath.PagesOnly).
    "core.fastpath.SessionMiddleware",
    "core.fastpath.CommonMiddleware",
    # Async-capable static file serving (WhiteNoise's middleware is sync-only under ASGI); after
    # CommonMiddleware, so a static file is not served to a Host outside DJANGO_ALLOWED_HOSTS either.
    "servestatic.middleware.ServeStaticMiddleware",
    "core.fastpath.CsrfViewMiddleware",
    # The API's CSRF guard: every POST under /api/ must be JSON (see the module for why that suffices).
    "finally_site.middleware.api_json_only_middleware",
    "core.fastpath.AuthenticationMiddleware",
    # request.book: the implicit user's (ACCOUNTS=off) or the signed-in account's, else a 401 or the login page.
    "accounts.middleware.account_middleware",
    "core.fastpath.MessageMiddleware",
    "core.fastpath.XFrameOptionsMiddleware",
    "core.fastpath.HtmxMiddleware",
]

ROOT_URLCONF = "finally_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.accounts",
            ],
            # Builtins, so templates need no {% load %}; on Django 6 the partials tags become built in.
            "builtins": ["django.templatetags.static", "template_partials.templatetags.partials", "core.formatting"],
        },
    },
]

ASGI_APPLICATION = "finally_site.asgi.application"

# --- Databases -------------------------------------------------------------------------------

DEFAULT_SQLITE_PATH = BASE_DIR / "db" / "finally.db"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{DEFAULT_SQLITE_PATH}",
        conn_max_age=0,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # BEGIN IMMEDIATE: a trade takes the write lock up front, so read-check-write never
        # hits SQLite's lock-upgrade "database is locked" and concurrent orders serialize.
        "transaction_mode": "IMMEDIATE",
        "timeout": 10,
        # wal_autocheckpoint: the price worker folds the write-ahead log back into the database about once a
        # second (core.db.checkpoint); a connection that commits only checkpoints itself as a backstop, once the
        # log passes 10,000 pages (40 MB) with the worker stopped or far behind. SQLite's default, 1,000 pages,
        # made every ~75th order pay a checkpoint and its two fsyncs: the order path's p99 (bench/README.md).
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000; "
            "PRAGMA wal_autocheckpoint=10000;"
        ),
    }
    _sqlite_file = Path(DATABASES["default"]["NAME"]).resolve()
    # DATABASE_URL=sqlite:////tmp/other/finally.db must work when /tmp/other does not exist yet.
    _sqlite_file.parent.mkdir(parents=True, exist_ok=True)
    # Each instance's price store sits beside its own database file, named after it.
    _default_price_store = _sqlite_file.with_name(f"{_sqlite_file.stem}-prices.db")
else:
    # No file to sit beside: one store per database, named after it, in db/ (PRICE_STORE_PATH overrides).
    _db = DATABASES["default"]
    _instance = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{_db['NAME']}@{_db.get('HOST') or 'local'}_{_db.get('PORT') or ''}")
    _default_price_store = BASE_DIR / "db" / f"prices-{_instance.strip('_')}.db"



def pooled_postgres(database: dict) -> dict:
    """Under ASGI a request may run on any thread, so no persistent per-thread connections (CONN_MAX_AGE 0):
    psycopg's pool instead, one per process, checked at every checkout (CONN_HEALTH_CHECKS) so that the
    connections a database restart broke are replaced instead of failing the next request."""
    database["CONN_HEALTH_CHECKS"] = True
    database.setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env_number("DATABASE_POOL_SIZE", 20, minimum=2, kind=int),
        "timeout": 5,  # a request waits at most this for a connection, then gets a 503
        # A failed reconnection is retried with growing delays; give each series up after 2 s so that once
        # the database is back the next request connects at once instead of waiting out a long delay.
        "reconnect_timeout": 2,
        "max_idle": 60,  # connections above min_size idle this long are closed
    }
    # No parallel query plans: every query here is a short indexed read or write, and a parallel plan's worker
    # start-up (~10 ms) is more than the query. The planner chose one for the worker's matching read at 10,000
    # resting orders and made it 6x slower than at 100,000 (bench/README.md, issue 22).
    options = database["OPTIONS"].get("options", "")
    database["OPTIONS"]["options"] = f"{options} -c max_parallel_workers_per_gather=0".strip()
    return database


if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    pooled_postgres(DATABASES["default"])

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Async views run their writes on one long-lived thread per process (core.db.write), and their cached reads'
# misses on long-lived reader threads (core.db.read). In-process tests turn it off so reads and writes join the
# test's transaction; end-to-end tests keep it on.
DB_THREADS = env_bool("DB_THREADS", True)

# --- Market data -------------------------------------------------------------------------------

# The embedded price store is its own SQLite file, so price ticks never wait behind the trades' write
# lock. It follows the instance: two instances with different DATABASE_URLs never share one (their ticks
# would mix on both streams), and the price worker's lock on it refuses a second writer.
PRICE_STORE_PATH = os.environ.get("PRICE_STORE_PATH") or str(_default_price_store)
# Scale-out: with REDIS_URL set the price store and the tick fan-out are Redis (market/redis_store.py), shared
# by one worker and every web process; REDIS_PREFIX keeps two instances on one Redis apart.
REDIS_URL = os.environ.get("REDIS_URL", "").strip()
REDIS_PREFIX = os.environ.get("REDIS_PREFIX", "").strip() or "finally"
MARKET_TICK_SECONDS = env_number("MARKET_TICK_SECONDS", 0.5, minimum=0.05)
PRICE_HISTORY_SECONDS = env_number("PRICE_HISTORY_SECONDS", 30 * 60, minimum=60, maximum=7 * 86_400)
# Minute bars (market.bars) are kept this many days: 100 tickers a day is 144,000 rows.
PRICE_BARS_DAYS = env_number("PRICE_BARS_DAYS", 30, minimum=1, maximum=3650, kind=int)
MASSIVE_API_KEY = os.environ.get("MASSIVE_API_KEY", "").strip()
# The free tier allows 5 calls a minute (15 s); paid plans 2-5 s.
MASSIVE_POLL_SECONDS = env_number("MASSIVE_POLL_SECONDS", 15.0, minimum=0.1)
# The plan's calls a minute (free: 5): what the polls leave of them backfills a newly watched ticker's minute bars.
MASSIVE_CALLS_PER_MINUTE = env_number("MASSIVE_CALLS_PER_MINUTE", 5, minimum=1, maximum=100_000, kind=int)
# Only tests point this elsewhere (a local stub of the snapshot endpoint).
MASSIVE_BASE_URL = os.environ.get("MASSIVE_BASE_URL", "https://api.massive.com")
SIMULATOR_SEED = env_number("SIMULATOR_SEED", None, minimum=0, maximum=2**63, kind=int)

# --- Limits on what a client can grow (issue 19) ----------------------------------------------

# Most tickers on one user's watchlist: each is priced, streamed and shown to the assistant on every tick.
WATCHLIST_MAX_TICKERS = env_number("WATCHLIST_MAX_TICKERS", 100, minimum=1, maximum=10_000, kind=int)
# Most watchlist tickers the assistant is told about in a turn (held positions are always all told).
ASSISTANT_CONTEXT_WATCHLIST = env_number("ASSISTANT_CONTEXT_WATCHLIST", 30, minimum=0, maximum=10_000, kind=int)
# Most resting orders (limit, stop, stop-limit) one book may hold: each is a row the matcher's index carries and the
# open-orders panel lists (issue 22).
ORDERS_OPEN_MAX = env_number("ORDERS_OPEN_MAX", 200, minimum=1, maximum=100_000, kind=int)

# --- Accounts (issue 21) ------------------------------------------------------------------------

# off (the default): no login, one implicit user, as on a laptop. on: Django's own auth; every page but the login
# page needs a signed-in user and every /api/ call a session or a bearer token (accounts/middleware.py).
ACCOUNTS = os.environ.get("ACCOUNTS", "off").strip().lower() in ("on", "true", "1", "yes")
# closed (the default): accounts are made by an admin (the admin site, `manage.py adduser`). open: a sign-up page.
ACCOUNTS_SIGNUP = os.environ.get("ACCOUNTS_SIGNUP", "closed").strip().lower() == "open"
# Sign-up forms one address may send per day (ACCOUNTS_SIGNUP=open), whatever became of them: every account is a
# book the worker snapshots, and each form tells whether a name is taken.
SIGNUPS_PER_ADDRESS = env_number("SIGNUPS_PER_ADDRESS", 10, minimum=1, maximum=100_000, kind=int)
# Failed sign-ins (the login page and POST /api/auth/token alike) counted over this window; past either limit
# every attempt for that account, or from that address, is refused until the window has moved on.
LOGIN_FAILURE_WINDOW_SECONDS = env_number("LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60, minimum=1)
LOGIN_FAILURES_PER_ACCOUNT = env_number("LOGIN_FAILURES_PER_ACCOUNT", 5, minimum=1, maximum=10_000, kind=int)
LOGIN_FAILURES_PER_ADDRESS = env_number("LOGIN_FAILURES_PER_ADDRESS", 50, minimum=1, maximum=100_000, kind=int)
# Most API tokens one account may hold at once.
API_TOKENS_PER_ACCOUNT = env_number("API_TOKENS_PER_ACCOUNT", 20, minimum=1, maximum=1000, kind=int)
# Assistant turns one account may start per minute: one account cannot spend the deployment's model budget.
ASSISTANT_TURNS_PER_MINUTE = env_number("ASSISTANT_TURNS_PER_MINUTE", 10, minimum=1, maximum=10_000, kind=int)
# How often the price worker deletes ended sessions and old sign-in counts.
ACCOUNTS_HOUSEKEEPING_SECONDS = env_number("ACCOUNTS_HOUSEKEEPING_SECONDS", 3600, minimum=1)
# Most tickers the worker prices for the whole deployment (the union of every watchlist and holding).
PRICED_TICKERS_MAX = env_number("PRICED_TICKERS_MAX", 1000, minimum=1, maximum=100_000, kind=int)
# Proxies (addresses or networks) whose X-Forwarded-For names the client, for the per-address throttle: behind
# nginx every request comes from the proxy, which would otherwise make one address of everyone.
TRUSTED_PROXIES = [ipaddress.ip_network(network, strict=False) for network in env_list("TRUSTED_PROXIES", "")]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "workstation"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_HTTPONLY = True
# Served over HTTPS (behind a proxy that ends TLS): the session and CSRF cookies are sent over HTTPS only, and the
# proxy's X-Forwarded-Proto tells Django the request was secure (its CSRF origin check compares schemes).
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", False)
if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Django's own backend, reading an account's book with the account (one query, not two, on every request).
AUTHENTICATION_BACKENDS = ["accounts.backends.AccountBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Portfolio -------------------------------------------------------------------------------

PORTFOLIO_SNAPSHOT_INTERVAL_SECONDS = env_number("PORTFOLIO_SNAPSHOT_INTERVAL_SECONDS", 60.0, minimum=1)
# How often the price worker checkpoints the SQLite database's write-ahead log (core.db.checkpoint).
DATABASE_CHECKPOINT_SECONDS = 1.0

# --- Assistant -------------------------------------------------------------------------------

OPENROUTER_API_KEY = os.environ.get("OPENROUTER_API_KEY", "")
LLM_MOCK = env_bool("LLM_MOCK", False)
LLM_MODEL = os.environ.get("LLM_MODEL", "openrouter/openai/gpt-oss-120b")
LLM_API_BASE = os.environ.get("LLM_API_BASE", "").strip()
# The longest a chat message waits for the model before the panel says it did not answer.
LLM_TIMEOUT_SECONDS = env_number("LLM_TIMEOUT_SECONDS", 30.0, minimum=1)

# --- HTTP limits -------------------------------------------------------------------------------

# What one client can make a web process hold. The body limit is refused at the ASGI edge (core/fastpath.py)
# before any of the body is read: a declared Content-Length over it at once, a chunked body as it passes it. No
# request of ours (orders, chat, the admin's forms) is anywhere near 64 KB. Django's own name for it is the one
# everything reads, so the edge, request.body and the API's 413 can never disagree.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_number("MAX_REQUEST_BODY_BYTES", 64 * 1024, minimum=4096, maximum=2**30, kind=int)
# The request line and headers together (core/http_server.py); cookies of other local apps share localhost's jar.
MAX_REQUEST_HEADER_BYTES = env_number("MAX_REQUEST_HEADER_BYTES", 32 * 1024, minimum=4096, maximum=2**20, kind=int)
# Open price streams (both formats) per web process; past it a new one gets a 503 with Retry-After (market/sse.py).
MAX_STREAMS_PER_PROCESS = env_number("MAX_STREAMS_PER_PROCESS", 5000, minimum=1, maximum=10**6, kind=int)
# File descriptors `manage.py serve` keeps for everything but streams (the database, the price store, other
# clients' requests): the stream cap is clamped to the open-file limit less this (core/management/commands/serve.py).
OPEN_FILES_RESERVE = env_number("OPEN_FILES_RESERVE", 256, minimum=16, maximum=10**6, kind=int)
# The longest a client may take to send a request's line and headers; past it a 408 (core/http_server.py).
REQUEST_HEAD_TIMEOUT_SECONDS = env_number("REQUEST_HEAD_TIMEOUT_SECONDS", 10.0, minimum=0.1, maximum=3600)

# --- The API's contract (issue 19, item 8) -------------------------------------------------------

# A passing condition (no live prices yet, prices delayed, the database or price store restarting) answers 503
# with this Retry-After, in whole seconds: a few ticks of the worker.
API_RETRY_AFTER_SECONDS = int(env_number("API_RETRY_AFTER_SECONDS", 2, minimum=1, maximum=3600, kind=int))

# --- Price alerts (issue 24) -----------------------------------------------------------------

# Active alerts one book may have at once (each is a range the worker reads every tick).
ALERTS_MAX_ACTIVE = env_number("ALERTS_MAX_ACTIVE", 50, minimum=1, maximum=10_000, kind=int)

# --- Webhooks (issue 24) ----------------------------------------------------------------------

# A webhook URL whose host is or resolves to a loopback, private or link-local address is refused (SSRF), unless
# this is set (a receiver on the same machine or network, as in development and the tests).
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", False)
# The longest one delivery try waits for the receiver (to connect, to send, to read), and how many tries in all.
WEBHOOK_TIMEOUT_SECONDS = env_number("WEBHOOK_TIMEOUT_SECONDS", 5.0, minimum=0.1, maximum=60)
WEBHOOK_MAX_ATTEMPTS = env_number("WEBHOOK_MAX_ATTEMPTS", 8, minimum=1, maximum=50, kind=int)
# Deliveries the worker sends at once (each a thread): a receiver that hangs holds one of them.
WEBHOOK_DELIVERY_THREADS = env_number("WEBHOOK_DELIVERY_THREADS", 4, minimum=1, maximum=64, kind=int)
# Deliveries delivered or failed are kept this long (the Hooks page and the admin list them), then pruned.
WEBHOOK_KEEP_DAYS = env_number("WEBHOOK_KEEP_DAYS", 30, minimum=1, maximum=3650, kind=int)

# --- Operations (issue 24): metrics ------------------------------------------------------------

# Prometheus metrics (core/metrics.py): /metrics on each web process, the worker's on a port of its own.
METRICS = env_bool("METRICS", False)
# Who may read them without a token: socket peers in these networks (never X-Forwarded-For). Loopback only.
METRICS_ALLOW = [ipaddress.ip_network(n, strict=False) for n in env_list("METRICS_ALLOW", "127.0.0.0/8,::1/128")]
# With a token, `Authorization: Bearer <METRICS_TOKEN>` may read them from anywhere (a scraper on another host).
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "").strip()
# The price worker's /metrics. In a container, METRICS_WORKER_HOST=0.0.0.0 lets the scraper in (the allow-list or
# the token still decides who reads).
METRICS_WORKER_HOST = os.environ.get("METRICS_WORKER_HOST", "127.0.0.1").strip()
METRICS_WORKER_PORT = env_number("METRICS_WORKER_PORT", 9108, minimum=1, maximum=65535, kind=int)
if METRICS:
    # Outermost but the request id: every answer is counted, the middleware's own refusals (CSRF, Host, a 401) too.
    MIDDLEWARE.insert(1, "core.metrics.request_metrics_middleware")

# Error tracking (core/error_tracking.py): Sentry when a DSN is set, scrubbed of keys, tokens and the user.
SENTRY_DSN = os.environ.get("SENTRY_DSN", "").strip()
SENTRY_ENVIRONMENT = os.environ.get("SENTRY_ENVIRONMENT", "production").strip() or "production"
# The assistant's chat requests are sent with their text only when this says so (it is what users typed).
SENTRY_SEND_CHAT = env_bool("SENTRY_SEND_CHAT", False)

# --- i18n, static ------------------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
SERVESTATIC_USE_FINDERS = True
# Hashed, compressed names with far-future caching; `make run` and the test session run collectstatic first.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "servestatic.storage.CompressedManifestStaticFilesStorage"},
}

# --- Content-Security-Policy (core/csp.py) -------------------------------------------------------

# Same-origin scripts and styles only: no inline script, no style attribute, no eval (htmx's allowEval is off).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

# --- Logging ---------------------------------------------------------------------------------

# plain: a line a person reads; json: one JSON object per line, with the request's id (core/logs.py).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain").strip().lower() or "plain"
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "core.logs.JSONFormatter"},
    },
    "filters": {
        "without_traceback": {"()": "core.logfilters.WithoutTraceback"},
        "request_id": {"()": "core.logs.RequestIdFilter"},
    },
    "handlers": {
        "stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": LOG_FORMAT,
                   "filters": ["request_id"]},
    },
    "root": {"handlers": ["stdout"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # LiteLLM logs every call at INFO through a handler of its own (each line twice); ours say enough.
        "LiteLLM": {"level": "WARNING"},
        # An HTTP client's INFO line names every URL it calls, and a URL may carry a key (Massive's, a webhook's).
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # A forged Host is answered 400 and said in one line: scanners send them all day.
        "django.security.DisallowedHost": {"level": "WARNING", "filters": ["without_traceback"]},
    },
}
