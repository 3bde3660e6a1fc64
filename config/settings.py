"""MIM Desk settings: everything comes from the environment, with working defaults for one machine.

The defaults (SQLite, a filesystem broker, email to files under ``var/``) let ``make run`` start the
whole product with no server running; production sets ``DATABASE_URL``, ``CELERY_BROKER_URL`` and
friends. A half-configured integration is an error at start-up.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from config import keyfile

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("MIM_VAR_DIR", default=str(BASE_DIR / "var")))

VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()
env.smart_cast = False


def env_bool(name: str, default: bool) -> bool:
    """Refuse anything but an explicit true/false, so a typo never silently flips a switch."""
    raw = env.str(name, default="").strip().lower()
    if raw == "":
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_secret(name: str, default: str = "") -> str:
    """Read NAME, or the file named by NAME_FILE (Docker/Kubernetes secrets)."""
    path = env.str(f"{name}_FILE", default="")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path}: {exc.strerror}") from None
    return env.str(name, default=default)


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_secret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        # Never a key written in the code: anyone who read it could sign a super_admin token.
        raise ImproperlyConfigured(
            "SECRET_KEY is required (or SECRET_KEY_FILE naming a file that holds it): set a long"
            " random secret. `make run` generates one into var/ for local use."
        )
    # DEBUG on one machine: the same random key that `make run` generates, kept in var/.
    SECRET_KEY = keyfile.ensure(VAR_DIR / "secret_key")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_celery_beat",
    "incidents",
    "warroom",
    "comms",
    "pir",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # request.htmx: the war room's panels answer an htmx request with their partial only.
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "incidents.web.context_processors.roles",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'mimdesk.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the web server, the worker and beat share one SQLite file.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            # Take the write lock when a transaction starts: a deferred transaction that reads
            # first and writes later fails with "database is locked" instead of waiting.
            "transaction_mode": "IMMEDIATE",
        }
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache_url("CACHE_URL", default=f"filecache://{VAR_DIR / 'cache'}")}
# Two instances sharing one cache (a Redis for staging and production, or two checkouts on one
# machine) must never read each other's system properties or throttle counts: the key prefix
# names the database. A `?key_prefix=` in CACHE_URL wins.
_db = DATABASES["default"]
_db_identity = "|".join(str(_db.get(k) or "") for k in ("ENGINE", "HOST", "PORT", "NAME"))
CACHES["default"].setdefault(
    "KEY_PREFIX",
    f"{Path(str(_db['NAME'])).name[:40]}-{hashlib.sha256(_db_identity.encode()).hexdigest()[:12]}",
)

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
GUARDIAN_RAISE_403 = True
ANONYMOUS_USER_NAME = None

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Email -------------------------------------------------------------------------------------
# EMAIL_BACKEND takes a short name ("smtp", "ses", "file", "console") or a dotted path.
_EMAIL_BACKENDS = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "ses": "anymail.backends.amazon_ses.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
}
_email_backend = env.str("EMAIL_BACKEND", default="file")
EMAIL_BACKEND = _EMAIL_BACKENDS.get(_email_backend, _email_backend)
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
MIM_SENDER_EMAIL = env.str("MIM_SENDER_EMAIL", default="major-incidents@localhost")
DEFAULT_FROM_EMAIL = MIM_SENDER_EMAIL

# --- Integrations (off when unset) --------------------------------------------------------------
AWS_REGION = env.str("AWS_REGION", default="")
AWS_ENDPOINT_URL = env.str("AWS_ENDPOINT_URL", default="")
MIM_SNS_TOPIC_ARN = env.str("MIM_SNS_TOPIC_ARN", default="")
if MIM_SNS_TOPIC_ARN and not AWS_REGION:
    raise ImproperlyConfigured("MIM_SNS_TOPIC_ARN set without AWS_REGION")
# --- Email through Amazon SES (comms/channels/email.py, aws.py) ---
if EMAIL_BACKEND.startswith("anymail.backends.amazon_ses") and not AWS_REGION:
    raise ImproperlyConfigured("EMAIL_BACKEND=ses set without AWS_REGION")
# anymail's SES backend for any Django send_mail; the comms channel passes the same parameters.
ANYMAIL = {
    "AMAZON_SES_CLIENT_PARAMS": {
        "region_name": AWS_REGION or None,
        **({"endpoint_url": AWS_ENDPOINT_URL} if AWS_ENDPOINT_URL else {}),
    },
}
# Sends per second across all workers; 0 = the account's MaxSendRate (SES GetAccount).
MIM_SES_SEND_RATE = env.float("MIM_SES_SEND_RATE", default=0.0)
if MIM_SES_SEND_RATE < 0:
    raise ImproperlyConfigured("MIM_SES_SEND_RATE must be 0 (the account's rate) or positive")
SLACK_BOT_TOKEN = env_secret("SLACK_BOT_TOKEN")
SLACK_API_URL = env.str(
    "SLACK_API_URL", default="https://slack.com/api/" if SLACK_BOT_TOKEN else ""
)
TEAMS_WEBHOOK_URL = env_secret("TEAMS_WEBHOOK_URL")
# The Slack app's signing secret: `/mim` slash commands (POST /chat/slack/commands/) are verified
# with it; unset, the endpoint is off (404 "not configured") and says so once in the log.
SLACK_SIGNING_SECRET = env_secret("SLACK_SIGNING_SECRET")
SLACK_CHANNEL_TEMPLATE = env.str("SLACK_CHANNEL_TEMPLATE", default="incident-{date}-{slug}")
STATUSPAGE_API_URL = env.str("STATUSPAGE_API_URL", default="https://api.statuspage.io/v1/")
STATUSPAGE_API_KEY = env_secret("STATUSPAGE_API_KEY")
STATUSPAGE_PAGE_ID = env.str("STATUSPAGE_PAGE_ID", default="")
if bool(STATUSPAGE_API_KEY) != bool(STATUSPAGE_PAGE_ID):
    raise ImproperlyConfigured("STATUSPAGE_API_KEY and STATUSPAGE_PAGE_ID are set together")
# The Statuspage components an MI sets, by the name of the business-service CI they stand for,
# as JSON: {"Checkout": "ftgks51sfs2d"}. A CI not named here leaves the page's components alone.
try:
    STATUSPAGE_COMPONENTS = json.loads(env.str("STATUSPAGE_COMPONENTS", default="") or "{}")
except ValueError as exc:
    raise ImproperlyConfigured(f"STATUSPAGE_COMPONENTS is not JSON: {exc}") from None
if not isinstance(STATUSPAGE_COMPONENTS, dict) or not all(
    isinstance(v, str) for v in STATUSPAGE_COMPONENTS.values()
):
    raise ImproperlyConfigured("STATUSPAGE_COMPONENTS maps CI names to component ids (strings)")
# Generic signed webhooks: each stakeholder group names its URL; this key signs them all.
MIM_WEBHOOK_SECRET = env_secret("MIM_WEBHOOK_SECRET")
# The optional drafting model (an OpenAI-compatible chat-completions endpoint).
COPILOT_API_URL = env.str("COPILOT_API_URL", default="")
COPILOT_MODEL = env.str("COPILOT_MODEL", default="")
COPILOT_API_KEY = env_secret("COPILOT_API_KEY")
COPILOT_TIMEOUT = env.float("COPILOT_TIMEOUT", default=10.0)
if COPILOT_API_URL and not COPILOT_MODEL:
    raise ImproperlyConfigured("COPILOT_API_URL set without COPILOT_MODEL")
# Jira issues for PIR action items (comms/channels/jira.py): REST API v2, off while JIRA_URL is
# unset. A token alone is a Data Center personal access token (Bearer); with JIRA_EMAIL it is a
# Jira Cloud API token (basic auth, email:token).
JIRA_URL = env.str("JIRA_URL", default="")
JIRA_API_TOKEN = env_secret("JIRA_API_TOKEN")
JIRA_EMAIL = env.str("JIRA_EMAIL", default="")
JIRA_PROJECT_KEY = env.str("JIRA_PROJECT_KEY", default="")
JIRA_ISSUE_TYPE = env.str("JIRA_ISSUE_TYPE", default="Task")
if JIRA_URL and not (JIRA_API_TOKEN and JIRA_PROJECT_KEY):
    raise ImproperlyConfigured("JIRA_URL set without JIRA_API_TOKEN and JIRA_PROJECT_KEY")
# Paging (comms/channels/pagerduty.py, opsgenie.py): on declaration and each escalation step,
# off while the key is unset. PagerDuty's Events API v2 takes a routing (integration) key;
# Opsgenie's Alert API a GenieKey (the EU instance is https://api.eu.opsgenie.com).
PAGERDUTY_ROUTING_KEY = env_secret("PAGERDUTY_ROUTING_KEY")
PAGERDUTY_EVENTS_URL = env.str(
    "PAGERDUTY_EVENTS_URL", default="https://events.pagerduty.com/v2/enqueue"
)
OPSGENIE_API_KEY = env_secret("OPSGENIE_API_KEY")
OPSGENIE_API_URL = env.str("OPSGENIE_API_URL", default="https://api.opsgenie.com")
# Mail in (comms.tasks.poll_mailbox): imaps://user:password@host[:993]/FOLDER, or imap://… on
# a trusted network (STARTTLS when the server offers it); unset, the poller is off.
MIM_IMAP_URL = env_secret("MIM_IMAP_URL")
# At most this many messages per poll: a backlog drains over a few ticks, none of them long.
MIM_IMAP_BATCH = env.int("MIM_IMAP_BATCH", default=500)
# Upstream providers' status pages (comms.tasks.watch_upstream_status): the read timeout.
MIM_UPSTREAM_TIMEOUT = env.float("MIM_UPSTREAM_TIMEOUT", default=10.0)
# Where links in messages point (the war room, the status page): the public URL of this site.
MIM_BASE_URL = env.str("MIM_BASE_URL", default="http://localhost:8000")
# The outbox (comms/services/outbox.py): retries with exponential backoff and jitter.
COMMS_MAX_ATTEMPTS = env.int("COMMS_MAX_ATTEMPTS", default=10)
COMMS_RETRY_BASE_SECONDS = env.float("COMMS_RETRY_BASE_SECONDS", default=30.0)
COMMS_RETRY_MAX_SECONDS = env.float("COMMS_RETRY_MAX_SECONDS", default=3600.0)
# A row `sending` for longer than this lost its worker (longer than any channel's timeout).
COMMS_SENDING_LEASE_SECONDS = env.int("COMMS_SENDING_LEASE_SECONDS", default=600)

# --- JWT -----------------------------------------------------------------------------------------
JWT_SIGNING_KEY = env_secret("JWT_SIGNING_KEY") or SECRET_KEY
if len(JWT_SIGNING_KEY.encode()) < 32 and not DEBUG:
    # HS256 wants a key at least as long as its hash (RFC 7518, 3.2); a short one can be guessed.
    raise ImproperlyConfigured(
        "JWT_SIGNING_KEY (SECRET_KEY when it is unset) must be at least 32 bytes long"
    )
JWT_JWKS_URL = env.str("JWT_JWKS_URL", default="")
# The algorithm is fixed by configuration, never taken from the token header.
JWT_ALGORITHM = "RS256" if JWT_JWKS_URL else "HS256"
JWT_AUDIENCE = env.str("JWT_AUDIENCE", default="")
JWT_ISSUER = env.str("JWT_ISSUER", default="")
if JWT_JWKS_URL:
    # Without both, a token the IdP issued for any other application would be accepted here.
    _missing = [n for n, v in (("JWT_AUDIENCE", JWT_AUDIENCE), ("JWT_ISSUER", JWT_ISSUER)) if not v]
    if _missing:
        raise ImproperlyConfigured(f"JWT_JWKS_URL is set: {' and '.join(_missing)} required")
    if not JWT_JWKS_URL.startswith("https://") and not (
        DEBUG and JWT_JWKS_URL.startswith("http://")
    ):
        # Whoever can alter the key set in transit can sign any token.
        raise ImproperlyConfigured("JWT_JWKS_URL must be an https:// URL (http:// only with DEBUG)")
JWT_ROLES_CLAIM = env.str("JWT_ROLES_CLAIM", default="roles")
JWT_USERNAME_CLAIM = env.str("JWT_USERNAME_CLAIM", default="sub")
JWT_ACCESS_TOKEN_LIFETIME = timedelta(minutes=env.int("JWT_ACCESS_TOKEN_MINUTES", default=60))
JWT_REFRESH_TOKEN_LIFETIME = timedelta(hours=env.int("JWT_REFRESH_TOKEN_HOURS", default=24))
JWT_LEEWAY_SECONDS = env.int("JWT_LEEWAY_SECONDS", default=30)
# The IdP's key set: trusted for at most JWT_JWKS_LIFESPAN seconds after it was fetched (a key the
# IdP drops stops working within that time), refreshed in the background from half of it on;
# one fetch waits at most JWT_JWKS_TIMEOUT seconds, and the IdP is asked at most once every
# JWT_JWKS_COOLDOWN seconds (per process), however many unknown key ids or failures come in.
JWT_JWKS_LIFESPAN = env.int("JWT_JWKS_LIFESPAN", default=300)
JWT_JWKS_TIMEOUT = env.float("JWT_JWKS_TIMEOUT", default=3.0)
JWT_JWKS_COOLDOWN = env.int("JWT_JWKS_COOLDOWN", default=10)
if not 0 < JWT_JWKS_TIMEOUT <= 30 or not 0 < JWT_JWKS_COOLDOWN < JWT_JWKS_LIFESPAN / 2:
    raise ImproperlyConfigured(
        "JWT_JWKS_TIMEOUT must be in (0, 30] and JWT_JWKS_COOLDOWN in (0, JWT_JWKS_LIFESPAN / 2)"
    )

# --- REST API ------------------------------------------------------------------------------------
_THROTTLE_ENV = {
    "token_user": "TOKEN_THROTTLE_PER_USER",
    "token_address": "TOKEN_THROTTLE_PER_ADDRESS",
}
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "incidents.api.auth.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["incidents.api.permissions.ModelPermissions"],
    "DEFAULT_PAGINATION_CLASS": "incidents.api.pagination.Pagination",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["incidents.api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "incidents.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "incidents.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Password guessing at /api/auth/token/: attempts per username and per client address.
    "DEFAULT_THROTTLE_RATES": {
        "token_user": env.str(_THROTTLE_ENV["token_user"], default="10/minute"),
        "token_address": env.str(_THROTTLE_ENV["token_address"], default="30/minute"),
    },
    # Behind a proxy: how many of them append to X-Forwarded-For (0 = none, REMOTE_ADDR counts).
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}
for _scope, _rate in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].items():
    # DRF reads the rate on the first request; a typo would be a 500 there, not an error here.
    if not re.fullmatch(r"[1-9]\d*/(s|sec|second|m|min|minute|h|hour|d|day)", _rate):
        raise ImproperlyConfigured(
            f"{_THROTTLE_ENV[_scope]}={_rate!r}: write N/second, N/minute, N/hour or N/day"
        )
SPECTACULAR_SETTINGS = {
    "TITLE": "MIM Desk API",
    "DESCRIPTION": "Major incident management: incidents, CMDB impact, problems, changes.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "incidents.api.schema.forbid_unknown_request_fields",
    ],
    "ENUM_NAME_OVERRIDES": {
        "LevelEnum": "incidents.models.Impact",
        "MajorIncidentStatusEnum": "incidents.models.MIStatus",
        "CandidateStatusEnum": "incidents.models.CandidateStatus",
        "WarRoomLevelEnum": "warroom.models.Level",
        "ActionItemStatusEnum": "warroom.models.ActionStatus",
        "StakeholderUpdateTypeEnum": "comms.services.updates.WRITABLE_TYPES",
        "UpdateDraftTypeEnum": "comms.models.plan.DRAFT_TYPES",
        "MaintenanceStatusEnum": "comms.models.MaintenanceStatus",
    },
}

# --- Celery --------------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
# Two queues (DESIGN, "Periodic tasks"): the tasks beat runs go to `periodic`, everything else to
# `events`; `make run` gives each queue a worker of its own, so however many per-event messages
# wait, a sweep starts on time. A periodic task added later gets its route here; a test checks
# that every beat row's task is routed to `periodic`.
CELERY_TASK_DEFAULT_QUEUE = "events"
# Both declared, so a worker started without -Q consumes both.
CELERY_TASK_QUEUES = (Queue("events"), Queue("periodic"))
CELERY_TASK_ROUTES = {
    name: {"queue": "periodic"}
    for name in (
        "incidents.tasks.auto_declare",
        "incidents.tasks.evaluate_escalations",
        "incidents.tasks.reconcile",
        "warroom.tasks.check_checkpoints",
        "comms.tasks.send_due_updates",
        "comms.tasks.deliver_pending",
        "comms.tasks.poll_mailbox",
        "comms.tasks.watch_upstream_status",
        "pir.tasks.schedule_due_reviews",
        "pir.tasks.send_monthly_report",
    )
}
# Every task is stopped if it runs away: SoftTimeLimitExceeded first (its transaction rolls back,
# what it owes stays recorded for the next run), the pool kills it at the hard limit. The
# prefork pool enforces both; the threads and solo pools enforce neither.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
if CELERY_TASK_SOFT_TIME_LIMIT >= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured("CELERY_TASK_SOFT_TIME_LIMIT must be below CELERY_TASK_TIME_LIMIT")
CELERY_TASK_ACKS_LATE = True
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's transport, writing each message atomically (config/broker.py says why).
    CELERY_BROKER_TRANSPORT = "config.broker:Transport"
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        # kombu writes its exchange tables (the workers' control/pidbox fanout) to ./control
        # unless told otherwise: keep them with the rest of the broker, out of the checkout.
        "control_folder": str(_broker_dir / "control"),
        # The worker sleeps this long whenever its prefetch is full or the folder is empty
        # (kombu's default, 1 s, capped a worker at ~2 tasks/s); each poll is one listdir.
        "polling_interval": 0.1,
    }
    # This transport deletes a message when it is read, so acks-late protects nothing here and
    # a larger prefetch loses nothing more: the database records what a lost message owed.
    CELERY_WORKER_PREFETCH_MULTIPLIER = 4
else:
    # One message reserved per process: with acks-late, a reserved message waits unacknowledged
    # behind at most one running task, so it is unacknowledged for at most two hard limits.
    CELERY_WORKER_PREFETCH_MULTIPLIER = 1
    # Redis (and SQS) redeliver a message not acknowledged within the visibility timeout: a
    # worker killed mid-task loses nothing, its message comes back. It must exceed the longest
    # a message can stay unacknowledged (two hard limits, above), or a slow task would be
    # handed to a second worker while the first still runs it; much longer only delays the
    # redelivery (the default is an hour).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3 * CELERY_TASK_TIME_LIMIT}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_TASK_IGNORE_RESULT = CELERY_RESULT_BACKEND is None
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
DJANGO_CELERY_BEAT_TZ_AWARE = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"refusal": {"()": "config.logging_filters.RefusalWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "django.request": {"filters": ["refusal"]},
    },
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if env_bool("SECURE_COOKIES", False):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

if AWS_ENDPOINT_URL and not AWS_REGION:
    raise ImproperlyConfigured("AWS_ENDPOINT_URL set without AWS_REGION")
