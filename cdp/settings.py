"""Settings, every one read from the environment through one reader (``env``).

Defaults are the embedded ones, so that ``make run`` needs no server: a SQLite
file and a filesystem broker under ``var/``. Production sets DATABASE_URL
(PostgreSQL), CELERY_BROKER_URL (Redis or RabbitMQ), SECRET_KEY, DEBUG=false and
ALLOWED_HOSTS; see README.md, "Scaling out".
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

env = environ.Env()

BASE_DIR = Path(__file__).resolve().parent.parent
# Where the embedded defaults keep their files (SQLite database, broker queues).
VAR_DIR = Path(env.str("CDP_VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=False)

# A production secret has no default. Only a DEBUG instance (make run, the
# tests) may fall back to a throw-away key.
if "SECRET_KEY" in env or not DEBUG:
    try:
        SECRET_KEY = env.str("SECRET_KEY")
    except ImproperlyConfigured as error:
        raise ImproperlyConfigured("Set the SECRET_KEY environment variable (required when DEBUG is off).") from error
else:
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105 (DEBUG only)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

DJANGO_APPS = [
    "cdp.admin_site.CdpAdminConfig",  # django.contrib.admin, with the pages in a marketer's order
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
THIRD_PARTY_APPS = [
    "rest_framework",
    "django_celery_beat",
    "import_export",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]
LOCAL_APPS = [
    "profiles",
    "scores",
    "segments",
    "activations",
    "reporting",
    "partners",
    # Last: it reads every app's permissions to keep the roles (groups) in step after migrate.
    "access",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "cdp.urls"
WSGI_APPLICATION = "cdp.wsgi.application"

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
        },
    },
]

# Database: a SQLite file by default (the embedded default), PostgreSQL through
# psycopg 3 in production: DATABASE_URL=postgres://user:password@host:5432/name
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'cdp.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web server, the worker and beat share the file.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The cache holds what the web server and the workers share outside the database, such as an
# import's progress (its transaction is still open). The embedded default is a folder of files
# under VAR_DIR, shared by `make run`'s processes; production: CACHE_URL=redis://host:6379/1
CACHES = {"default": env.cache_url("CACHE_URL", default=f"filecache://{VAR_DIR / 'cache'}")}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Internationalisation: English and French, the project's strings translated.
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", _("English")), ("fr", _("French"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Paris")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_ROOT = VAR_DIR / "media"

# Celery: the embedded default is kombu's filesystem transport (no server);
# production sets CELERY_BROKER_URL=redis://... or amqp://...
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _folder in ("queue", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
    }
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# The partner API (partners/): API keys, scopes, a per-partner rate limit, errors as RFC 9457 problems.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["partners.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["partners.authentication.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": ["partners.authentication.PartnerRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["partners.parsers.StrictJSONParser"],
    "EXCEPTION_HANDLER": "partners.exceptions.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "partners.schema.PartnerAutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CDP partner API",
    "DESCRIPTION": (
        "Profiles, events, consents, shared segments, campaign results and GDPR requests for the platform's "
        "partners. Authenticate with `Authorization: Bearer <API key>`; errors are RFC 9457 problem details."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The documentation pages are public (the schema holds no data); the API itself needs a key.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Swagger UI and Redoc from the bundled assets (drf-spectacular-sidecar): no internet needed.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
}

# The platform's own settings.
# Region used to read phone numbers written without a country code ("06 12 34 56 78").
CDP_DEFAULT_PHONE_REGION = env.str("CDP_DEFAULT_PHONE_REGION", default="FR")
# Identifier kinds beyond the built-in ones (email, phone, crm_id, anonymous_id),
# for example "loyalty_card,shop_customer_id".
CDP_EXTRA_IDENTIFIER_KINDS = env.list("CDP_EXTRA_IDENTIFIER_KINDS", default=[])

# Currency of amounts that do not name one (ISO 4217).
CDP_DEFAULT_CURRENCY = env.str("CDP_DEFAULT_CURRENCY", default="EUR")

# Seconds before each new attempt at a failed delivery (then it is failed for good): 5 s, 5 min,
# 30 min, 2 h, 5 h, 10 h, 10 h, as the established webhook services do; jittered by ±20 %.
CDP_DELIVERY_RETRY_SCHEDULE = env.list(
    "CDP_DELIVERY_RETRY_SCHEDULE", cast=float, default=[5, 300, 1800, 7200, 18000, 36000, 36000]
)

# A campaign run whose share of failed deliveries passes this rate (once at least
# CDP_RUN_FAILURE_ALERT_MINIMUM were attempted) is flagged on the admin home and emailed to staff.
CDP_RUN_FAILURE_ALERT_RATE = env.float("CDP_RUN_FAILURE_ALERT_RATE", default=0.2)
CDP_RUN_FAILURE_ALERT_MINIMUM = env.int("CDP_RUN_FAILURE_ALERT_MINIMUM", default=20)

# The address people reach this platform at, for links in messages (unsubscribe): https://cdp.example.com
CDP_PUBLIC_URL = env.str("CDP_PUBLIC_URL", default="http://127.0.0.1:8000")

# Where the "CSV file to download" destinations write their files (one per campaign run).
CDP_EXPORT_DIR = Path(env.str("CDP_EXPORT_DIR", default=str(VAR_DIR / "exports")))

# A segment refresh still running after this many seconds is stopped and shown as failed.
CDP_SEGMENT_REFRESH_TIME_LIMIT = env.int("CDP_SEGMENT_REFRESH_TIME_LIMIT", default=1800)

# Hours during which the answer to a partner's POST with an Idempotency-Key is replayed to its retries.
CDP_PARTNER_IDEMPOTENCY_HOURS = env.int("CDP_PARTNER_IDEMPOTENCY_HOURS", default=24)

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="cdp@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
