"""The one settings file. Every knob is an environment variable, listed in README.md.

Zero configuration gives a working console: SQLite in the project folder, Celery tasks run
in-process, the offline AI provider. Production sets DEBUG=0, SECRET_KEY, ALLOWED_HOSTS,
DATABASE_URL and REDIS_URL.
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_choice, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", True)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "accounts_security",
    "crm",
    "llm",
    "outbound",
    "nudges",
    "tickets",
    "notifications",
    "assistant",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "accounts_security.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "crm.middleware.ConsoleLoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"

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
                "crm.context_processors.console",
            ],
        },
    },
]

ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

# Database: a SQLite file by default; postgres://... uses psycopg 3.
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite serves one writer at a time; wait for the lock instead of failing at once. WAL lets
    # readers run beside the writer, and synchronous=NORMAL drops the per-commit fsync that made a
    # cached AI call cost ~3 ms instead of ~0.6 ms (bench/llm_gateway).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=20,
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        # Take the write lock at BEGIN, so two writers queue instead of failing with "database is locked".
        transaction_mode="IMMEDIATE",
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("DB_POOL", True):
    # psycopg's pool, one per process: under ASGI each request runs in a fresh thread, and
    # persistent per-thread connections piled up idle (27 for one uvicorn process, issue 10).
    # Pooled connections go back to the pool at the end of each request, so a process holds at
    # most DB_POOL_MAX_SIZE. Django refuses persistent connections beside a pool: CONN_MAX_AGE 0.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env_int("DB_POOL_MIN_SIZE", 2, minimum=0),
        "max_size": env_int("DB_POOL_MAX_SIZE", 10, minimum=1),
        # A request waits this long for a free connection, then fails (PoolTimeout) instead of hanging.
        "timeout": env_float("DB_POOL_TIMEOUT_SECONDS", 10.0),
    }
    if DATABASES["default"]["OPTIONS"]["pool"]["min_size"] > DATABASES["default"]["OPTIONS"]["pool"]["max_size"]:
        raise ImproperlyConfigured("DB_POOL_MIN_SIZE must not be larger than DB_POOL_MAX_SIZE")
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sign-in goes through the lockout (docs/security.md): both the console login and POST /api/token/.
AUTHENTICATION_BACKENDS = ["accounts_security.backends.ThrottledModelBackend"]
# Failed sign-ins within the window lock the username (or the address) for the lockout time.
# 5 per username stops guessing while forgiving typos; 20 per address lets an office behind one
# NAT mistype without locking everyone, yet a guesser spraying usernames is stopped.
LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 5, minimum=1)
LOGIN_MAX_FAILURES_PER_ADDRESS = env_int("LOGIN_MAX_FAILURES_PER_ADDRESS", 20, minimum=1)
LOGIN_FAILURE_WINDOW_MINUTES = env_int("LOGIN_FAILURE_WINDOW_MINUTES", 15, minimum=1)
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1)
# API tokens stop working this many days after they are issued (POST /api/token/ issues a new one).
API_TOKEN_LIFETIME_DAYS = env_int("API_TOKEN_LIFETIME_DAYS", 30, minimum=1)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Security: production values whenever DEBUG is off, so `check --deploy` is clean.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Scripts only from our own origin: htmx and every front-end file are served from /static/, and
# templates carry no inline <script> or on*= handlers. Inline styles stay allowed (style cannot run
# code; Django admin and Swagger UI set style attributes). Empty turns the header off.
CONTENT_SECURITY_POLICY = env_str(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'",
)

# Email: console backend by default; SMTP when EMAIL_HOST is set.
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "support@nexttouch.example")

# Cache: Redis when configured, so all processes share it; local memory otherwise.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://")):
    raise ImproperlyConfigured(f"REDIS_URL must start with redis:// or rediss://, got {REDIS_URL!r}")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Celery: Redis broker when REDIS_URL is set; otherwise tasks run in-process (eager).
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None  # state lives in rows that pages poll
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A model call must finish well inside the soft limit: LLM_TIMEOUT_SECONDS defaults to 60.
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300, minimum=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT * 2}
# Static beat schedule; each feature adds its entries here.
CELERY_BEAT_SCHEDULE: dict = {
    # --- nudges (issue 5) ---
    "nudges-scan": {
        "task": "nudges.tasks.scan_nudges_task",
        "schedule": timedelta(minutes=env_int("NUDGES_SCAN_INTERVAL_MINUTES", 60, minimum=1)),
    },
    "nudges-rebuild-signals": {
        "task": "nudges.tasks.rebuild_signals_task",
        "schedule": timedelta(hours=env_int("NUDGES_SIGNALS_REBUILD_HOURS", 24, minimum=1)),
    },
    # --- tickets (issue 4) ---
    "tickets-refresh-scores": {
        "task": "tickets.tasks.refresh_open_tickets_task",
        # Ages scores, flags SLA breaches, resurfaces due follow-ups (TICKETS_AGING_MINUTES, below).
        "schedule": timedelta(minutes=env_int("TICKETS_AGING_MINUTES", 5, minimum=1)),
    },
    # --- outbound (issue 9) ---
    "outbound-recover": {
        "task": "outbound.tasks.recover_deliveries_task",
        # Releases held messages whose quiet hours ended; requeues or marks uncertain lost sends.
        "schedule": timedelta(minutes=1),
    },
    # --- llm (issue 3) ---
    "llm-collect-batches": {
        "task": "llm.tasks.collect_batches_task",
        "schedule": timedelta(minutes=env_int("LLM_BATCH_COLLECT_MINUTES", 2, minimum=1)),
    },
    "llm-purge-cache": {"task": "llm.tasks.purge_expired_cache_task", "schedule": crontab(hour=3, minute=17)},
    "llm-prune-ledger": {"task": "llm.tasks.prune_ledger_task", "schedule": crontab(hour=3, minute=37)},
}

# REST API
REST_FRAMEWORK = {
    # The token class first: DRF answers anonymous calls with the first class's WWW-Authenticate
    # challenge, so they get 401 + `WWW-Authenticate: Token` (session auth has none: 403).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts_security.tokens.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # crm/drf.py: bounded datetime filters, JSON bodies without NUL or deep nesting (docs/api.md).
    "DEFAULT_FILTER_BACKENDS": ["crm.drf.SafeFilterBackend"],
    # JSON bodies only, as the schema says: a form body gets 415. The file uploads name their own
    # parsers (multipart); docs/api.md lists them.
    "DEFAULT_PARSER_CLASSES": ["crm.drf.SafeJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "crm.pagination.NewestFirstCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {},
    # crm.errors.ServiceError (and Django's ValidationError, IntegrityError, ProtectedError) become a
    # 400/409 naming the field, so viewsets do not wrap every service call in try/except.
    "EXCEPTION_HANDLER": "crm.errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "NextTouch API",
    "DESCRIPTION": "The NextTouch CRM: customer graph, support inbox, deal nudges, notifications.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from our own static files: deployments may be offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "GET_LIB_DOC_EXCLUDES": "crm.drf.schema_doc_excludes",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "crm.drf.document_error_responses",
        "crm.drf.decimal_bodies_take_numbers",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"))},
}

# --- crm -------------------------------------------------------------------------------
# Page size for account timelines and console lists.
CONSOLE_PAGE_SIZE = env_int("CONSOLE_PAGE_SIZE", 25, minimum=1)
# File imports (crm/imports.py): largest file accepted, and how many rejected rows a run keeps for
# its CSV download (the count is always exact; past this the rows themselves are dropped).
CRM_IMPORT_MAX_BYTES = env_int("CRM_IMPORT_MAX_BYTES", 20 * 1024 * 1024, minimum=1)
CRM_IMPORT_MAX_REJECTED_ROWS = env_int("CRM_IMPORT_MAX_REJECTED_ROWS", 10_000, minimum=0)

# --- llm (issue 3) -----------------------------------------------------------------------
# Full reference: docs/llm.md. Unset LLM_PROVIDER means anthropic when ANTHROPIC_API_KEY is set,
# otherwise the offline provider (deterministic writers, no network).
from llm import config as _llm_config  # noqa: E402  (pure parsers, no models)

ANTHROPIC_API_KEY = env_str("ANTHROPIC_API_KEY")
LLM_BASE_URL = env_str("LLM_BASE_URL")  # openai-compatible server, e.g. http://10.0.0.5:8000/v1
LLM_API_KEY = env_str("LLM_API_KEY")  # bearer token for LLM_BASE_URL, if it wants one
LLM_PROVIDER = env_choice("LLM_PROVIDER", "anthropic" if ANTHROPIC_API_KEY else "offline", _llm_config.PROVIDERS)
LLM_MODEL = env_str("LLM_MODEL", _llm_config.default_model(LLM_PROVIDER))
# Bedrock (LLM_PROVIDER=bedrock): credentials are boto's own (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
# AWS_SESSION_TOKEN, AWS_PROFILE, an instance role; or AWS_BEARER_TOKEN_BEDROCK), read by botocore,
# never copied here. The region: LLM_BEDROCK_REGION, else AWS_REGION / AWS_DEFAULT_REGION, else
# the AWS_PROFILE's configured region. LLM_BEDROCK_BASE_URL: a VPC endpoint (default
# https://bedrock-runtime.<region>.amazonaws.com). LLM_MODEL: the Bedrock model or inference profile id.
LLM_BEDROCK_REGION = env_str("LLM_BEDROCK_REGION") or env_str("AWS_REGION") or env_str("AWS_DEFAULT_REGION")
if LLM_PROVIDER == "bedrock" and not LLM_BEDROCK_REGION and env_str("AWS_PROFILE"):
    LLM_BEDROCK_REGION = _llm_config.profile_region(env_str("AWS_PROFILE"))
LLM_BEDROCK_BASE_URL = env_str("LLM_BEDROCK_BASE_URL")
# Per-feature model override: "tickets.draft=claude-haiku-4-5,assistant.chat=claude-opus-4-5".
LLM_MODELS = _llm_config.parse_feature_map(env_str("LLM_MODELS"), name="LLM_MODELS")
_llm_config.check_provider(
    provider=LLM_PROVIDER,
    anthropic_key=ANTHROPIC_API_KEY,
    base_url=LLM_BASE_URL,
    model=LLM_MODEL,
    aws_region=LLM_BEDROCK_REGION,
)
# One HTTP attempt may take LLM_TIMEOUT_SECONDS; the whole ask() with retries and retry-after
# waits stops by LLM_DEADLINE_SECONDS, below Celery's soft limit (240 s) so a task is never cut.
LLM_TIMEOUT_SECONDS = env_float("LLM_TIMEOUT_SECONDS", 60.0)
LLM_CONNECT_TIMEOUT_SECONDS = env_float("LLM_CONNECT_TIMEOUT_SECONDS", 10.0)
LLM_DEADLINE_SECONDS = env_float("LLM_DEADLINE_SECONDS", 200.0)
_llm_config.check_timeouts(
    timeout=LLM_TIMEOUT_SECONDS, deadline=LLM_DEADLINE_SECONDS, soft_limit=CELERY_TASK_SOFT_TIME_LIMIT
)
# Retries on temporary errors happen in the gateway only (the SDK's own retries are off).
LLM_MAX_RETRIES = env_int("LLM_MAX_RETRIES", 2, minimum=0)
# A 429's retry-after longer than this ends in the offline fallback instead of a wait.
LLM_RETRY_AFTER_MAX_SECONDS = env_float("LLM_RETRY_AFTER_MAX_SECONDS", 30.0)
# Input budget: all input values together are trimmed to this many characters (~4 chars/token,
# so 60,000 chars is ~15k tokens: a long email thread fits, a pasted log file does not).
LLM_MAX_INPUT_CHARS = env_int("LLM_MAX_INPUT_CHARS", 60_000, minimum=1_000)
# Output guardrail: text replies are cut (at a sentence end) beyond this many characters.
LLM_MAX_OUTPUT_CHARS = env_int("LLM_MAX_OUTPUT_CHARS", 8_000, minimum=100)
# Daily budgets per feature ("*" is the default for features not named):
# "tickets.draft=200000tok,nudges.nudge=5usd,*=2mtok". Empty: no budget.
LLM_BUDGETS = _llm_config.parse_budgets(env_str("LLM_BUDGETS"))
# Prices in USD per million tokens, input/output[/cache read[/cache write]], merged over built-in
# list prices for Claude families: "my-local-model=0/0,claude-haiku=1/5/0.1/1.25".
LLM_PRICES = _llm_config.parse_prices(env_str("LLM_PRICES"))
# Reply cache (database, shared by all workers): default TTL and per-feature TTLs, in seconds.
LLM_CACHE_TTL = env_int("LLM_CACHE_TTL", 3600, minimum=0)
LLM_CACHE_TTLS = _llm_config.parse_ttls(env_str("LLM_CACHE_TTLS"))
# openai-compatible structured output: "json_object" (widely supported) or "json_schema" (vLLM,
# llama.cpp, recent servers); the schema is also stated in the system prompt either way.
LLM_JSON_MODE = env_choice("LLM_JSON_MODE", "json_object", ("json_object", "json_schema"))
# ask_many(): at least this many uncached items go through the Anthropic Message Batches API
# (half price, results within 24 h); fewer run synchronously.
LLM_BATCH_MIN_ITEMS = env_int("LLM_BATCH_MIN_ITEMS", 20, minimum=1)
LLM_BATCH_COLLECT_MINUTES = env_int("LLM_BATCH_COLLECT_MINUTES", 2, minimum=1)
# Usage-ledger rows older than this many days are deleted nightly (0 keeps them forever). Budgets
# only read today's rows; the usage page cannot show spend from before the retention window.
LLM_LEDGER_RETENTION_DAYS = env_int("LLM_LEDGER_RETENTION_DAYS", 400, minimum=0)

# --- nudges (issue 5) --------------------------------------------------------------------
# The seed's rule: a deal idle at least this many days (stages may set their own) ...
NUDGES_MIN_IDLE_DAYS = env_int("NUDGES_MIN_IDLE_DAYS", 7, minimum=0)
# ... and urgency = idle days x amount in EUR above this is stale.
NUDGES_MIN_URGENCY = env_float("NUDGES_MIN_URGENCY", 250.0)
# Ghosted: silent for more than k x the contact's own median reply time, and at least this long.
NUDGES_GHOST_FACTOR = env_float("NUDGES_GHOST_FACTOR", 3.0)
NUDGES_GHOST_MIN_HOURS = env_int("NUDGES_GHOST_MIN_HOURS", 48, minimum=0)
NUDGES_NEXT_STEP_GRACE_DAYS = env_int("NUDGES_NEXT_STEP_GRACE_DAYS", 0, minimum=0)
NUDGES_STALLED_IN_STAGE_DAYS = env_int("NUDGES_STALLED_IN_STAGE_DAYS", 30, minimum=1)
NUDGES_SINGLE_THREADED_MIN_AMOUNT = env_int("NUDGES_SINGLE_THREADED_MIN_AMOUNT", 10000, minimum=0)
# Scans fan out this many deal ids per task (one task per deal would flood the broker).
NUDGES_SCAN_CHUNK_SIZE = env_int("NUDGES_SCAN_CHUNK_SIZE", 500, minimum=1)
NUDGES_SCAN_INTERVAL_MINUTES = env_int("NUDGES_SCAN_INTERVAL_MINUTES", 60, minimum=1)
# The seed used a ~60-token completion; a nudge is one or two sentences.
NUDGES_MAX_TOKENS = env_int("NUDGES_MAX_TOKENS", 80, minimum=16)
# Stream: how often it looks for new nudges (the 200 ms first-event target), heartbeat comments
# that keep proxies from closing an idle connection, and the longest a connection stays open
# before the browser reconnects with Last-Event-ID.
NUDGES_STREAM_POLL_SECONDS = env_float("NUDGES_STREAM_POLL_SECONDS", 0.1)
NUDGES_STREAM_HEARTBEAT_SECONDS = env_float("NUDGES_STREAM_HEARTBEAT_SECONDS", 15.0)
NUDGES_STREAM_MAX_SECONDS = env_float("NUDGES_STREAM_MAX_SECONDS", 300.0)
NUDGES_EXPORT_PATH = env_str("NUDGES_EXPORT_PATH", "out/nudges.json")
# Addresses on these domains are "our side" in imported email threads (besides team members).
NUDGES_OUR_EMAIL_DOMAINS = env_list("NUDGES_OUR_EMAIL_DOMAINS")
# Largest import upload accepted in the console and the API.
NUDGES_IMPORT_MAX_BYTES = env_int("NUDGES_IMPORT_MAX_BYTES", 20 * 1024 * 1024, minimum=1)

# --- action plans (issue 12) -------------------------------------------------------------
# The seed's cache TTL for recommendations, minutes (a plan older than this is regenerated).
PLANS_CACHE_TTL_MINUTES = env_int("PLANS_CACHE_TTL_MINUTES", 60, minimum=0)
# A learning extracted from feedback waits for a manager's approval (1) or goes straight into the
# company context as in the seed's command line (0).
PLANS_LEARNING_APPROVAL = env_bool("PLANS_LEARNING_APPROVAL", True)
# Tokens for one plan: a full plan with P0 content fits well within this.
PLANS_MAX_TOKENS = env_int("PLANS_MAX_TOKENS", 3000, minimum=256)
# "Deal moved forward" window of the manager statistics (stage change or reply after the action).
PLANS_FORWARD_DAYS = env_int("PLANS_FORWARD_DAYS", 14, minimum=1)
# Deals whose plans a learning preview regenerates (the last N deals planned by the team).
PLANS_PREVIEW_DEALS = env_int("PLANS_PREVIEW_DEALS", 5, minimum=1)
# PostgreSQL: resolving a deal for a plan (a cache hit's one query) runs as a prepared statement.
# Turn off behind a connection pooler that cannot keep prepared statements.
PLANS_PREPARED = env_bool("PLANS_PREPARED", True)
# "Plan my pipeline" with a worker pool: a run's deals are split into this many slices (lanes), each
# planned by its own task, so a run uses as many worker processes (celery -c). 1: one task in turn.
# Runs carried out in-process (no Redis, or `sales_action recommend-all`) always use one lane.
PLANS_RUN_LANES = env_int("PLANS_RUN_LANES", 2, minimum=1)

# --- tickets (issue 4) -------------------------------------------------------------------
# Smart inbox scoring: environment defaults for weight set version 1 (managers add newer versions
# in Settings > Inbox scoring). See docs/inbox.md for the formula.
SCORING_CHURN_WEIGHT = env_float("SCORING_CHURN_WEIGHT", 3.0)
SCORING_VALUE_WEIGHT = env_float("SCORING_VALUE_WEIGHT", 2.0)  # per 1,000 of lifetime value
SCORING_URGENCY_WEIGHT = env_float("SCORING_URGENCY_WEIGHT", 1.5)
# Age: SCORING_AGE_WEIGHT x share of the response target already used, capped at SCORING_AGE_CAP shares.
SCORING_AGE_WEIGHT = env_float("SCORING_AGE_WEIGHT", 1.0)
SCORING_AGE_CAP = env_float("SCORING_AGE_CAP", 2.0)
SCORING_EASY_BONUS = env_float("SCORING_EASY_BONUS", 1.0)
SCORING_COMPLEX_PENALTY = env_float("SCORING_COMPLEX_PENALTY", -1.5)
SCORING_SENTIMENT_BOOST = env_float("SCORING_SENTIMENT_BOOST", 2.0)
SCORING_SENTIMENT_THRESHOLD = env_float("SCORING_SENTIMENT_THRESHOLD", 0.3)  # sentiment 0 (angry) .. 1 (happy)
TOPIC_ALERT_BOOST = env_float("TOPIC_ALERT_BOOST", 5.0)


def _minutes_by_priority(name: str, default: str) -> dict[str, int]:
    """ "urgent=60,high=240,normal=480,low=1440" -> {"urgent": 60, ...}; every priority must be given."""
    raw = env_str(name, default)
    out: dict[str, int] = {}
    for part in raw.split(","):
        key, sep, value = part.partition("=")
        if not sep or not value.strip().isdigit() or int(value) < 1:
            raise ImproperlyConfigured(f"{name} must look like {default!r}, got {raw!r}")
        out[key.strip()] = int(value)
    if set(out) != {"urgent", "high", "normal", "low"}:
        raise ImproperlyConfigured(f"{name} must give minutes for urgent, high, normal and low, got {raw!r}")
    return out


# SLA response targets in minutes per priority: the first reply, and each reply after a customer message.
TICKETS_SLA_FIRST_RESPONSE = _minutes_by_priority(
    "TICKETS_SLA_FIRST_RESPONSE", "urgent=60,high=240,normal=480,low=1440"
)
TICKETS_SLA_NEXT_RESPONSE = _minutes_by_priority("TICKETS_SLA_NEXT_RESPONSE", "urgent=120,high=480,normal=960,low=2880")
# Triage values are applied automatically only at or above this confidence (agent edits always win).
TICKETS_TRIAGE_MIN_CONFIDENCE = env_float("TICKETS_TRIAGE_MIN_CONFIDENCE", 0.6)
# Auto-escalation: churn risk at least X, sentiment below Y, lifetime value at least Z.
TICKETS_ESCALATE_ENABLED = env_bool("TICKETS_ESCALATE_ENABLED", True)
TICKETS_ESCALATE_MIN_CHURN = env_float("TICKETS_ESCALATE_MIN_CHURN", 0.7)
TICKETS_ESCALATE_MAX_SENTIMENT = env_float("TICKETS_ESCALATE_MAX_SENTIMENT", 0.3)
TICKETS_ESCALATE_MIN_LTV = env_float("TICKETS_ESCALATE_MIN_LTV", 1000.0)
# Customers with churn risk at least this get "extra care" drafts (as VIPs do).
TICKETS_HIGH_CHURN = env_float("TICKETS_HIGH_CHURN", 0.7)
# Inbound messages from an unknown sender: create a person account + contact (1) or reject (0).
TICKETS_INBOUND_CREATE_CONTACTS = env_bool("TICKETS_INBOUND_CREATE_CONTACTS", True)
# SMS, chat and phone replies go to this webhook, signed with HMAC-SHA256 of the body.
TICKETS_OUTBOUND_WEBHOOK_URL = env_str("TICKETS_OUTBOUND_WEBHOOK_URL")
TICKETS_OUTBOUND_WEBHOOK_SECRET = env_str("TICKETS_OUTBOUND_WEBHOOK_SECRET")
TICKETS_OUTBOUND_TIMEOUT_SECONDS = env_float("TICKETS_OUTBOUND_TIMEOUT_SECONDS", 10.0)
TICKETS_SEND_MAX_ATTEMPTS = env_int("TICKETS_SEND_MAX_ATTEMPTS", 5, minimum=1)
# The same reply body to the same ticket within this many minutes is refused unless the agent or
# API client says resend (two tabs, a retry without an Idempotency-Key); 0 turns the check off.
TICKETS_REPLY_DUPLICATE_WINDOW_MINUTES = env_int("TICKETS_REPLY_DUPLICATE_WINDOW_MINUTES", 10, minimum=0)
TICKETS_EMAIL_SIGNATURE = env_str("TICKETS_EMAIL_SIGNATURE", "The NextTouch support team")
# The inbox list refreshes itself this often (seconds); the draft panel polls every 2 s while pending.
TICKETS_INBOX_REFRESH_SECONDS = env_int("TICKETS_INBOX_REFRESH_SECONDS", 30, minimum=5)
TICKETS_PAGE_SIZE = env_int("TICKETS_PAGE_SIZE", 50, minimum=1)
# PostgreSQL: the inbox's alert page runs as a prepared statement (its plan reused per connection).
# Turn off behind a connection pooler that cannot keep prepared statements.
TICKETS_INBOX_PREPARED = env_bool("TICKETS_INBOX_PREPARED", True)
# Age scores, SLA breaches and due follow-ups are refreshed by Celery beat this often (minutes).
TICKETS_AGING_MINUTES = env_int("TICKETS_AGING_MINUTES", 5, minimum=1)
# ticket_match_idx is a covering index (INCLUDE) on PostgreSQL; SQLite builds it as a plain index
# on id, which is harmless, so its warning about ignoring the INCLUDE columns is silenced.
SILENCED_SYSTEM_CHECKS = [*globals().get("SILENCED_SYSTEM_CHECKS", []), "models.W040"]
# API schema: the inbox's channel and priority enums are named apart from crm's own Channel.
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {}).update(
    {
        "TicketChannelEnum": "tickets.models.Channel",
        "TicketPriorityEnum": "tickets.models.Priority",
        "TicketStatusEnum": "tickets.models.Ticket.Status",
        "DeliveryStatusEnum": "outbound.models.Delivery.Status",
        "DeliveryChannelEnum": "outbound.models.Channel",
        "TicketDraftStatusEnum": "tickets.models.Draft.Status",
        "PlanChannelEnum": "nudges.plan_models.PlanChannel",
        "PlanPriorityEnum": "nudges.plan_models.Priority",
    }
)


# --- outbound: the only code that sends to a customer (docs/outbound.md) --------------------------
# Webhook for every channel but email, signed with HMAC-SHA256 of the body. Empty: the older
# TICKETS_OUTBOUND_WEBHOOK_* names above are used (kept working as fallbacks).
OUTBOUND_WEBHOOK_URL = env_str("OUTBOUND_WEBHOOK_URL")
OUTBOUND_WEBHOOK_SECRET = env_str("OUTBOUND_WEBHOOK_SECRET")
OUTBOUND_TIMEOUT_SECONDS = env_float("OUTBOUND_TIMEOUT_SECONDS", 0.0)  # 0: TICKETS_OUTBOUND_TIMEOUT_SECONDS
OUTBOUND_MAX_ATTEMPTS = env_int("OUTBOUND_MAX_ATTEMPTS", 0, minimum=0)  # 0: TICKETS_SEND_MAX_ATTEMPTS
# Quiet hours in the contact's local time, [start, end) wrapping midnight; equal hours turn them off.
# Replies to a customer's own message are never held.
OUTBOUND_QUIET_HOURS_START = env_int("OUTBOUND_QUIET_HOURS_START", 21, minimum=0)
OUTBOUND_QUIET_HOURS_END = env_int("OUTBOUND_QUIET_HOURS_END", 8, minimum=0)
if OUTBOUND_QUIET_HOURS_START > 23 or OUTBOUND_QUIET_HOURS_END > 23:
    raise ImproperlyConfigured("OUTBOUND_QUIET_HOURS_START and _END are hours, 0 to 23")
# A contact with no time zone of their own gets this one (IANA name).
OUTBOUND_DEFAULT_TIME_ZONE = env_str("OUTBOUND_DEFAULT_TIME_ZONE", TIME_ZONE)
# A row "sending" for longer than this lost its worker (transports time out long before):
# the recovery pass requeues it if nothing left, else marks it "uncertain" for a person.
OUTBOUND_SENDING_LEASE_SECONDS = env_int("OUTBOUND_SENDING_LEASE_SECONDS", 600, minimum=30)

# --- notifications -----------------------------------------------------------------------
# Largest file a customer-notification import accepts (the five files each).
NOTIFICATIONS_IMPORT_MAX_BYTES = env_int("NOTIFICATIONS_IMPORT_MAX_BYTES", 200 * 1024 * 1024, minimum=1)


# --- assistant (the sales co-pilot) -----------------------------------------------------------
# Seconds a tool result is reused (seed 3: 5 minutes for records, 10 for the playbook).
ASSISTANT_TOOL_TTLS = {
    "lookup_client": env_int("ASSISTANT_RECORDS_TTL_SECONDS", 300, minimum=0),
    "account_records": env_int("ASSISTANT_RECORDS_TTL_SECONDS", 300, minimum=0),
    "search_playbook": env_int("ASSISTANT_PLAYBOOK_TTL_SECONDS", 600, minimum=0),
}
# Answers the checker rejects are rewritten with its feedback at most this often (seed 3: 3).
ASSISTANT_MAX_RETRIES = env_int("ASSISTANT_MAX_RETRIES", 3, minimum=0)
ASSISTANT_MAX_QUESTION_CHARS = env_int("ASSISTANT_MAX_QUESTION_CHARS", 2000, minimum=100)
ASSISTANT_PLAYBOOK_MAX_BYTES = env_int("ASSISTANT_PLAYBOOK_MAX_BYTES", 20 * 1024 * 1024, minimum=1024)
# "auto": a playbook that fits ASSISTANT_PLAYBOOK_WHOLE_MAX_CHARS goes to the model whole (prompt
# cached) beside the retrieved passages; "whole" always; "retrieve" only the retrieved passages.
ASSISTANT_PLAYBOOK_MODE = env_choice("ASSISTANT_PLAYBOOK_MODE", "auto", ("auto", "whole", "retrieve"))
ASSISTANT_PLAYBOOK_WHOLE_MAX_CHARS = env_int("ASSISTANT_PLAYBOOK_WHOLE_MAX_CHARS", 60_000, minimum=0)
# "auto": semantic search joins the lexical one when requirements-semantic.txt is installed; "off": never.
ASSISTANT_SEMANTIC = env_choice("ASSISTANT_SEMANTIC", "auto", ("auto", "off"))
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {
        "PlaybookKindEnum": "assistant.models.PlaybookDocument.Kind",
        "AssistantRoleEnum": "assistant.models.Message.Role",
        "AssistantStatusEnum": "assistant.models.Message.Status",
    }
)
