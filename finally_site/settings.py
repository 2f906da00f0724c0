"""FinAlly settings: every knob comes from the environment (or `.env`), with safe local defaults."""

import os
import secrets
from pathlib import Path

import dj_database_url
from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent

# A real environment variable always wins over `.env`.
load_dotenv(BASE_DIR / ".env", override=False)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    return value in {"1", "true", "yes", "on"}


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


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
    # First, so that `runserver` is the ASGI (daphne) dev server and streams flush.
    "daphne",
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
    "portfolio",
    "assistant",
    "workstation",
]

MIDDLEWARE = [
    # Django's own stack on every path, the JSON API included: Host validation (CommonMiddleware via
    # request.get_host()), security headers and CSRF are never skipped for speed (bench/README.md).
    "django.middleware.security.SecurityMiddleware",
    # Outermost but one, so error responses from the middleware below carry the policy too.
    "core.csp.ContentSecurityPolicyMiddleware",
    "core.compression.NonStreamingGZipMiddleware",
    # Async-capable static file serving (WhiteNoise's middleware is sync-only under ASGI).
    "servestatic.middleware.ServeStaticMiddleware",
    "finally_site.middleware.api_error_middleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
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
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;",
    }
    DATA_DIR = Path(DATABASES["default"]["NAME"]).resolve().parent
else:
    DATA_DIR = BASE_DIR / "db"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Async views run their writes on one long-lived thread per process (core.db.write). In-process
# tests turn it off so writes join the test's transaction; end-to-end tests keep it on.
DB_WRITER_THREAD = env_bool("DB_WRITER_THREAD", True)

# --- Market data -------------------------------------------------------------------------------

# The embedded price store is its own SQLite file beside the database, so price ticks never wait
# behind the trades' write lock. Two instances with different DATABASE_URLs get different stores.
PRICE_STORE_PATH = os.environ.get("PRICE_STORE_PATH") or str(DATA_DIR / "prices.db")
MARKET_TICK_SECONDS = env_float("MARKET_TICK_SECONDS", 0.5)
PRICE_HISTORY_SECONDS = env_float("PRICE_HISTORY_SECONDS", 30 * 60)
MASSIVE_API_KEY = os.environ.get("MASSIVE_API_KEY", "").strip()
MASSIVE_POLL_SECONDS = env_float("MASSIVE_POLL_SECONDS", 15.0)
# Only tests point this elsewhere (a local stub of the snapshot endpoint).
MASSIVE_BASE_URL = os.environ.get("MASSIVE_BASE_URL", "https://api.massive.com")
SIMULATOR_SEED = int(os.environ["SIMULATOR_SEED"]) if os.environ.get("SIMULATOR_SEED") else None

# --- Portfolio -------------------------------------------------------------------------------

PORTFOLIO_SNAPSHOT_INTERVAL_SECONDS = env_float("PORTFOLIO_SNAPSHOT_INTERVAL_SECONDS", 60.0)

# --- Assistant -------------------------------------------------------------------------------

OPENROUTER_API_KEY = os.environ.get("OPENROUTER_API_KEY", "")
LLM_MOCK = env_bool("LLM_MOCK", False)
LLM_MODEL = os.environ.get("LLM_MODEL", "openrouter/openai/gpt-oss-120b")
LLM_API_BASE = os.environ.get("LLM_API_BASE", "")

# --- HTTP limits -------------------------------------------------------------------------------

# No JSON request of ours is anywhere near this; larger bodies get a 413 before parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024

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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "plain"},
    },
    "root": {"handlers": ["stdout"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
    },
}
