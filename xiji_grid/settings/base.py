"""Settings shared by every use, read from the environment (django-environ).

Every value that differs between a laptop and production is an environment variable with a working
default for a fresh clone; ``production.py`` removes the defaults of the secrets.
"""
from pathlib import Path

import environ
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(environ.Env().str("XIJI_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("SECRET_KEY", default="dev-only-not-secret-xiji-grid-embedded-default-key-0000")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "grids",
    "cases",
    "reps",
    "xiji_grid",  # the project's management commands (seed_xiji)
    "xiji_grid.dashboard",
]

MIDDLEWARE = [
    "xiji_grid.requestlog.RequestLogMiddleware",  # one JSON line per request, request id (xiji_grid/requestlog.py)
    "django.middleware.security.SecurityMiddleware",
    "xiji_grid.middleware.RejectNulMiddleware",  # ?q=%00 and the kind: 400, never a database error
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "xiji_grid.middleware.ChosenLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "xiji_grid.middleware.EngineWatchMiddleware",  # alerts when the deadline engine stops (cases.heartbeat)
    "cases.idempotency.IdempotencyMiddleware",  # repeats of keyed POSTs answer the first result (issue 16)
    "xiji_grid.middleware.ReplicaReadsMiddleware",  # statistics reads from the replica, if any (issue 17)
]

ROOT_URLCONF = "xiji_grid.urls"
WSGI_APPLICATION = "xiji_grid.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: an SQLite file under var/ by default; PostgreSQL in production (DATABASE_URL).
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one file: writers queue instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# A read replica for statistics and exports (issue 17, grids.replica): reads of the dashboard, its exports
# and the statistics API go there; everything else stays on "default".
if env.str("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = env.db("DATABASE_REPLICA_URL")
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["grids.replica.ReplicaRouter"]
REPLICA_READ_URL_NAMES = frozenset({"dashboard", "dashboard-village", "dashboard-export", "stats-rates",
                                    "stats-overdue", "station-stats", "deputy-stats"})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Time: stored in UTC, shown and reckoned in Asia/Shanghai (DESIGN §5).
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]  # the pages' CSS/JS and vendored ECharts (static/vendor/)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Attachments (cases.attachments) go to the default storage: MEDIA_ROOT on this machine, or any S3-compatible
# store (MinIO, a cloud's object storage) through django-storages when a bucket is named.
ATTACHMENT_S3_BUCKET = env("ATTACHMENT_S3_BUCKET", default="")
if ATTACHMENT_S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": ATTACHMENT_S3_BUCKET,
            "endpoint_url": env("ATTACHMENT_S3_ENDPOINT_URL", default=None),  # e.g. http://minio:9000
            "access_key": env("ATTACHMENT_S3_ACCESS_KEY", default=None),
            "secret_key": env("ATTACHMENT_S3_SECRET_KEY", default=None),
            "region_name": env("ATTACHMENT_S3_REGION", default=None),
            "default_acl": None,  # private objects: served only through the scoped view
            "file_overwrite": False,
            "querystring_auth": True,
        },
    }

LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"  # → the start page of the user's roles

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="xiji-grid@localhost")

# Statistics (DESIGN §6; cases.selectors). Weights of the composite score: response, resolution,
# satisfaction rate (points out of their sum). "Basically satisfied" counts STATS_SATISFACTION_WEIGHT_BASIC.
STATS_SATISFACTION_WEIGHT_BASIC = env.float("STATS_SATISFACTION_WEIGHT_BASIC", default=0.9)
STATS_WEIGHTS = tuple(env.list("STATS_WEIGHTS", cast=float, default=[10, 45, 45]))
STATS_MIN_VALID_CALLBACKS = env.int("STATS_MIN_VALID_CALLBACKS", default=5)  # to be ranked
STATS_ASSESSMENT_MONTH_FIRST_DAY = env.int("STATS_ASSESSMENT_MONTH_FIRST_DAY", default=19)  # 19th → 18th
STATS_SNAPSHOT_MARGIN_SECONDS = env.int("STATS_SNAPSHOT_MARGIN_SECONDS", default=900)
STATS_NIGHTLY_WINDOW_DAYS = env.int("STATS_NIGHTLY_WINDOW_DAYS", default=35)  # days recomputed nightly

# The command centre's desk (issue 16).
# Extensions (延期): the new resolve deadline at most this many days after the current one, and never more
# than the complex (疑难复杂) policy's resolve window added (cases.services.latest_extension_until).
EXTENSION_MAX_DAYS = env.int("EXTENSION_MAX_DAYS", default=30)
# Idempotency keys (Idempotency-Key header on API POSTs, a hidden token in forms): how long a first answer
# is kept for its repeats, in hours (cases.idempotency).
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24)
# Attachments (cases.attachments): largest upload in bytes, longest side of a thumbnail in pixels.
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
ATTACHMENT_THUMBNAIL_PX = env.int("ATTACHMENT_THUMBNAIL_PX", default=320)
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "media/"  # never served directly: attachments go through their scoped view

# Prometheus endpoint /metrics (xiji_grid/metrics_view.py): the bearer token a scraper sends; empty: admins only.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
API_JSON_MAX_DEPTH = env.int("API_JSON_MAX_DEPTH", default=32)  # nesting of objects/arrays in an API body

# Heartbeat of the deadline engine (cases.heartbeat): alert dispatchers and admins when no sweep has finished
# for SWEEP_STALE_AFTER_SECONDS, or a due case waits more than SWEEP_DUE_GRACE_SECONDS past its check time.
# The web process looks at most every ENGINE_WATCH_INTERVAL_SECONDS (shared through the cache).
SWEEP_STALE_AFTER_SECONDS = env.int("SWEEP_STALE_AFTER_SECONDS", default=300)
SWEEP_DUE_GRACE_SECONDS = env.int("SWEEP_DUE_GRACE_SECONDS", default=120)
ENGINE_WATCH_INTERVAL_SECONDS = env.int("ENGINE_WATCH_INTERVAL_SECONDS", default=60)
SWEEP_RUN_KEEP_DAYS = env.int("SWEEP_RUN_KEEP_DAYS", default=7)

# Notification channels (issue 14, cases.channels): Apprise URLs encrypted with Fernet keys (url-safe base64,
# 32 bytes: `python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`); the
# first encrypts, all decrypt. Empty: a key derived from SECRET_KEY (fine for a laptop; set keys in production).
NOTIFY_CHANNEL_KEYS = env.list("NOTIFY_CHANNEL_KEYS", default=[])
# Which Apprise services may be configured (schemas): chat bots, SMTP e-mail, and JSON/form webhooks (an
# intranet SMS platform). Add e.g. "twilio" or "sns" for a commercial SMS gateway.
NOTIFY_ALLOWED_SCHEMAS = env.list("NOTIFY_ALLOWED_SCHEMAS", default=[
    "wecombot", "dingtalk", "feishu", "lark", "mailto", "mailtos", "json", "jsons", "form", "forms"])
# Tries after the first failed one wait these many seconds (30 s, 2 min, 10 min: four tries in all).
NOTIFY_RETRY_BACKOFF_SECONDS = env.list("NOTIFY_RETRY_BACKOFF_SECONDS", cast=int, default=[30, 120, 600])
NOTIFY_SEND_TIMEOUT_SECONDS = env.float("NOTIFY_SEND_TIMEOUT_SECONDS", default=10)  # connect and read, each
# Digests: reminders and misses of one kind for one person within the window go out as one message.
NOTIFY_DIGEST_WINDOW_SECONDS = env.int("NOTIFY_DIGEST_WINDOW_SECONDS", default=600)
NOTIFY_DIGEST_KINDS = env.list("NOTIFY_DIGEST_KINDS", default=["visit_reminder", "reception_reminder", "visit_missed"])
# The supervisors' morning digest (Asia/Shanghai "HH:MM"); breaches of these urgencies go out at once, 7×24.
NOTIFY_MORNING_DIGEST_TIME = env("NOTIFY_MORNING_DIGEST_TIME", default="07:30")
NOTIFY_IMMEDIATE_URGENCIES = env.list("NOTIFY_IMMEDIATE_URGENCIES", default=["emergency", "utilities"])
# A retry or digest due within this many seconds is scheduled by countdown; later ones are left to beat.
NOTIFY_FOLLOW_UP_MAX_SECONDS = env.int("NOTIFY_FOLLOW_UP_MAX_SECONDS", default=900)
# Vendor hosts replaced by another base URL, e.g. an egress relay on an intranet:
# NOTIFY_VENDOR_BASE_URLS='{"dingtalk": "https://relay.example.gov.cn", "wecombot": "https://relay…"}'.
# Keys: dingtalk, wecombot, feishu, lark (cases.channels.sending); path and query stay the vendor's.
NOTIFY_VENDOR_BASE_URLS = env.json("NOTIFY_VENDOR_BASE_URLS", default={})

# Maps (issue 14): the tile layer of the pages' maps, and the most cases one GeoJSON answer carries.
# MAP_TILES: "tianditu" (needs MAP_TIANDITU_KEY; CGCS2000 ≈ WGS-84), "amap" (GCJ-02), "none" (points over a
# plain background), or a URL template of an intranet tile server ({z}/{x}/{y}) with MAP_TILES_CRS its system.
MAP_TILES = env("MAP_TILES", default="amap")
MAP_TILES_CRS = env("MAP_TILES_CRS", default="wgs84")  # only for a URL template
MAP_TIANDITU_KEY = env("MAP_TIANDITU_KEY", default="")
MAP_TILES_ATTRIBUTION = env("MAP_TILES_ATTRIBUTION", default="")
MAP_MAX_FEATURES = env.int("MAP_MAX_FEATURES", default=5000)

# Celery (xiji_grid/celery.py reads every CELERY_* name below).
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")


def _redis_cache_url(explicit: str, broker_url: str) -> str | None:
    """The Redis URL of the shared cache: ``explicit`` (``REDIS_CACHE_URL``) when set, else ``broker_url``
    (``CELERY_BROKER_URL``) when it is a ``redis://``, ``rediss://`` or ``redis+socket://`` URL, else None."""
    if explicit.strip():
        return explicit.strip()
    if broker_url.startswith(("redis://", "rediss://")):
        return broker_url
    if broker_url.startswith("redis+socket://"):  # kombu's spelling of a unix socket; redis-py says unix://
        return "unix://" + broker_url[len("redis+socket://"):]
    return None


# The cache is shared by every process (gunicorn workers, Celery workers, commands): it holds the engine
# watch's slot and, with Redis, the failed-login counters (grids.throttle). Redis when a Redis URL is known;
# otherwise a file cache under var/cache, which every process of one host shares (README command 1 runs web,
# worker and beat as separate processes: a per-process memory cache would count and watch per process).
_CACHE_URL = _redis_cache_url(env.str("REDIS_CACHE_URL", default=""), CELERY_BROKER_URL)
if _CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _CACHE_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="xiji-grid"),  # apart from Celery's keys
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
# Failed-login throttle (grids.throttle): where the counters live — "auto" (Redis cache if configured, else a
# database row per address and username), "cache" or "database". The rate is LOGIN_FAILURES_RATE below.
LOGIN_THROTTLE_STORE = env.str("LOGIN_THROTTLE_STORE", default="auto")
AUTHENTICATION_BACKENDS = ["grids.auth.ThrottledModelBackend"]
CELERY_BROKER_FOLDER = Path(env("CELERY_BROKER_FOLDER", default=str(VAR_DIR / "broker")))
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_FOLDER / "queue"),
        "data_folder_out": str(CELERY_BROKER_FOLDER / "queue"),
        "processed_folder": str(CELERY_BROKER_FOLDER / "processed"),
        "control_folder": str(CELERY_BROKER_FOLDER / "control"),
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=f"file://{CELERY_BROKER_FOLDER / 'results'}")
else:
    CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL)
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # workers log through LOGGING below: JSON lines, masked, with request ids
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Queues (issue 17): the deadline sweep, notification delivery and bulk imports each have their own, so a
# flood of deliveries or a long import never waits in front of a sweep. A worker started without ``-Q``
# consumes all of them (the embedded default, Procfile); production runs a worker per queue (README,
# "Production"). Tasks not routed below go to the default queue ``celery``.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = {name: {"routing_key": name} for name in ("celery", "sweep", "notifications", "imports")}
CELERY_TASK_ROUTES = {
    "cases.sweep_deadlines": {"queue": "sweep"},
    "cases.deliver_notifications": {"queue": "notifications"},
    "cases.process_due_deliveries": {"queue": "notifications"},
    "cases.send_morning_digests": {"queue": "notifications"},
    "cases.import_*": {"queue": "imports"},
}
# Beat entries: each carries ``expires`` so that runs missed while workers were down do not pile up.
CELERY_BEAT_SCHEDULE = {
    "sweep-deadlines": {
        "task": "cases.sweep_deadlines",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Notification delivery (issue 14): retries, window digests and stale claims every minute; the morning
    # digest at NOTIFY_MORNING_DIGEST_TIME (crontab hours are Asia/Shanghai wall time).
    "process-due-deliveries": {
        "task": "cases.process_due_deliveries",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "morning-digest": {
        "task": "cases.send_morning_digests",
        "schedule": crontab(minute=int(NOTIFY_MORNING_DIGEST_TIME.split(":")[1]),
                            hour=int(NOTIFY_MORNING_DIGEST_TIME.split(":")[0])),
        "options": {"expires": 3 * 3600},
    },
    # Statistics snapshots (DESIGN §6, cases.selectors): today's rows hourly, a trailing window nightly.
    "stats-refresh-today": {  # every hour at :07
        "task": "cases.refresh_today_stats",
        "schedule": crontab(minute=7),
        "options": {"expires": 50 * 60},
    },
    "stats-nightly-snapshot": {  # daily 00:15, after the day closed
        "task": "cases.snapshot_daily_stats",
        "schedule": crontab(minute=15, hour=0),
        "options": {"expires": 6 * 3600},
    },
    # Weekly village visits (DESIGN §7); crontab hours are CELERY_TIMEZONE (Asia/Shanghai) wall time.
    "plan-next-week-visits": {  # Friday 18:00: next ISO week's visits; a late run is harmless until Monday
        "task": "grids.plan_next_week",
        "schedule": crontab(minute=0, hour=18, day_of_week="fri"),
        "options": {"expires": 24 * 3600},
    },
    "mark-missed-visits": {  # daily 00:30: planned visits of earlier days, unrecorded → missed
        "task": "grids.mark_missed_visits",
        "schedule": crontab(minute=30, hour=0),
        "options": {"expires": 12 * 3600},
    },
    "send-visit-reminders": {  # daily 18:00: remind cadres of tomorrow's visits (pointless after 23:00)
        "task": "grids.send_visit_reminders",
        "schedule": crontab(minute=0, hour=18),
        "options": {"expires": 5 * 3600},
    },
    "purge-idempotency-keys": {  # daily 03:40: expired idempotency keys and their stored answers
        "task": "cases.purge_idempotency_keys",
        "schedule": crontab(minute=40, hour=3),
        "options": {"expires": 12 * 3600},
    },
    # Liaison stations (DESIGN §8): planned receptions for the coming RECEPTION_PLAN_WEEKS weeks, daily and
    # idempotent; deputies on duty reminded the day before (once per reception and deputy).
    "plan-receptions": {  # daily 01:20
        "task": "reps.plan_receptions",
        "schedule": crontab(minute=20, hour=1),
        "options": {"expires": 12 * 3600},
    },
    # Upstream feedback deliveries whose task was lost (worker or broker down): enqueued again.
    "upstream-requeue-feedback": {
        "task": "cases.requeue_feedback",
        "schedule": 300.0,
        "options": {"expires": 240},
    },
    "remind-receptions": {  # daily 17:00, the day before
        "task": "reps.remind_receptions",
        "schedule": crontab(minute=0, hour=17),
        "options": {"expires": 5 * 3600},
    },
    # Hotspots (高频难点, issue 11): the rolling window's clusters, nightly; a late run is pointless after 6 h.
    "find-hotspots": {  # daily 02:10
        "task": "cases.find_hotspots",
        "schedule": crontab(minute=10, hour=2),
        "options": {"expires": 6 * 3600},
    },
}
# Upstream 12345 feedback (issue 13; cases.interop.feedback): attempts per step, exponential back-off
# base × 2^(n−1) seconds capped at the maximum, and the time-out of one POST (seconds).
UPSTREAM_DELIVERY_ATTEMPTS = env.int("UPSTREAM_DELIVERY_ATTEMPTS", default=8)
UPSTREAM_RETRY_BASE_SECONDS = env.float("UPSTREAM_RETRY_BASE_SECONDS", default=30)
UPSTREAM_RETRY_MAX_SECONDS = env.float("UPSTREAM_RETRY_MAX_SECONDS", default=3600)
UPSTREAM_WEBHOOK_TIMEOUT_SECONDS = env.float("UPSTREAM_WEBHOOK_TIMEOUT_SECONDS", default=10)
UPSTREAM_FEEDBACK_QUEUE = env("UPSTREAM_FEEDBACK_QUEUE", default="celery")  # Celery queue of the deliveries
# Open311 GeoReport v2 server (cases.interop.open311): the jurisdiction_id clients may send, and how far (km)
# from a village's point a new request's lat/long may lie to be placed in that village.
OPEN311_JURISDICTION_ID = env("OPEN311_JURISDICTION_ID", default="xiji.tongzhou.beijing")
OPEN311_NEAREST_VILLAGE_KM = env.float("OPEN311_NEAREST_VILLAGE_KM", default=3.0)
# Weeks of regular liaison-station receptions planned ahead (4 ≈ a month).
RECEPTION_PLAN_WEEKS = env.int("RECEPTION_PLAN_WEEKS", default=4)
# Days before and after now an extra reception may start; also the planned ones /receptions/ lists.
RECEPTION_WINDOW_PAST_DAYS = env.int("RECEPTION_WINDOW_PAST_DAYS", default=14)
RECEPTION_WINDOW_AHEAD_DAYS = env.int("RECEPTION_WINDOW_AHEAD_DAYS", default=42)
# Local (Asia/Shanghai) hours of a reception day, used for the visits' calendar feed ("HH:MM").
VISIT_START_TIME = env("VISIT_START_TIME", default="09:00")
VISIT_END_TIME = env("VISIT_END_TIME", default="11:30")

# REST API (issue 5): token or session login, scoped viewsets, page-number pages of at most 200.
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",  # first: unauthenticated answers 401
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # JSON too deep (API_JSON_MAX_DEPTH) or holding NUL answers 400 (grids.api.parsers).
    "DEFAULT_PARSER_CLASSES": ["grids.api.parsers.StrictJSONParser", "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
    "DEFAULT_PAGINATION_CLASS": "grids.api.base.Pagination",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "EXCEPTION_HANDLER": "cases.api.errors.exception_handler",
    # Login attempts per client address and username, every way in (grids.throttle): web, admin, API token.
    "DEFAULT_THROTTLE_RATES": {"login_failures": env("LOGIN_FAILURES_RATE", default="5/min")},
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),  # proxies in front of us: X-Forwarded-For to trust
    "URL_FORMAT_OVERRIDE": "format",  # ?format=csv|xlsx on the statistics endpoints
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Xiji Grid API (西集网格)",
    "DESCRIPTION": (
        "Cases (诉求) of Xiji town's hotline + grid command centre, their lifecycle, the grid registry and the "
        "statistics. Log in with `POST /api/v1/auth/token/` and send `Authorization: Token <token>`. Every "
        "list is limited to your scope (DESIGN §1); an object outside it answers 404."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",  # served from our own static files: works offline, no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Enum components first (drf-spectacular's default hook), then the 400 and 404 answers that come from
    # outside the views (grids.api.base.document_outside_answers).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "grids.api.base.document_outside_answers",
    ],
    "ENUM_NAME_OVERRIDES": {
        "CaseKindEnum": "cases.choices.CaseKind",
        "AttachmentKindEnum": "cases.choices.AttachmentKind",
        "SourceEnum": "cases.choices.Source",
        "UrgencyEnum": "cases.choices.Urgency",
        "StatusEnum": "cases.choices.Status",
        "DeadlineSourceEnum": "cases.choices.DeadlineSource",
        "SatisfactionEnum": "cases.choices.Satisfaction",
        "ActionEnum": "cases.choices.Action",
        "NotificationKindEnum": "cases.choices.NotificationKind",
        "VillageKindEnum": "grids.choices.VillageKind",
        "CadreLevelEnum": "grids.choices.CadreLevel",
        "RoleEnum": "grids.choices.Role",
    },
}

# Text intelligence (issue 11, cases/text/). The category model is trained by `manage.py train_classifier`
# (bin/run does it on first start) into TEXT_CLASSIFIER_PATH; it is not committed.
TEXT_CLASSIFIER_PATH = Path(env("TEXT_CLASSIFIER_PATH", default=str(VAR_DIR / "text" / "category_model.joblib")))
TEXT_CLASSIFIER_SEED = env.int("TEXT_CLASSIFIER_SEED", default=20200)
TEXT_DATA_DIR = BASE_DIR / "seeds"
# Duplicate suggestion (重复诉求): cases received within this many days before the case are compared.
DUPLICATE_WINDOW_DAYS = env.int("DUPLICATE_WINDOW_DAYS", default=30)
# Text similarity (TF-IDF cosine of word and character n-grams, 0–1) from which two cases of the same place
# and category are suggested; for the same caller a lower bar suffices.
DUPLICATE_TEXT_THRESHOLD = env.float("DUPLICATE_TEXT_THRESHOLD", default=0.5)
DUPLICATE_SAME_CALLER_THRESHOLD = env.float("DUPLICATE_SAME_CALLER_THRESHOLD", default=0.15)
# Hotspots (高频难点): the rolling window, the smallest cluster, and the text similarity that joins a topic.
HOTSPOT_WINDOW_DAYS = env.int("HOTSPOT_WINDOW_DAYS", default=30)
HOTSPOT_MIN_CASES = env.int("HOTSPOT_MIN_CASES", default=3)
HOTSPOT_TOPIC_SIMILARITY = env.float("HOTSPOT_TOPIC_SIMILARITY", default=0.35)


# Everything is printed once, by the root's console handler: the "django" logger loses the console handler
# of Django's default logging (which printed each django.* record a second time with DEBUG on) and keeps
# only the mail to ADMINS for errors. A 4xx on django.request is its one line, without a traceback.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
        "client_errors_without_traceback": {"()": "xiji_grid.logfilters.ClientErrorsWithoutTraceback"},
        # No channel secret or phone number in any log line (cases.channels.redaction).
        "redact_secrets": {"()": "cases.channels.redaction.RedactingFilter"},
        "request_id": {"()": "xiji_grid.requestlog.RequestIdFilter"},
        # Phone and ID-card numbers, labelled names: masked with the importer's rule (DESIGN §10).
        "mask_personal_data": {"()": "xiji_grid.logfilters.MaskPersonalData"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        # One JSON object per line (python-json-logger): time, level, logger, message, request_id and the
        # record's extra fields (method, path, status, duration_ms, task …). LOG_FORMAT=plain for the old lines.
        "json": {"()": "pythonjsonlogger.json.JsonFormatter",
                 "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                 "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"}},
        "django.server": {"()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}",
                          "style": "{"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": env("LOG_FORMAT", default="json"),
                    "filters": ["request_id", "redact_secrets", "mask_personal_data"]},
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server"},
        "mail_admins": {"class": "django.utils.log.AdminEmailHandler", "level": "ERROR",
                        "filters": ["require_debug_false"]},
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django": {"handlers": ["mail_admins"], "level": "INFO", "propagate": True},
        "django.request": {"filters": ["client_errors_without_traceback"]},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},  # runserver's lines
        "django.db.backends": {"level": "WARNING"},
        # Apprise logs webhook URLs with their tokens at DEBUG, urllib3 each request line with its query:
        # their records are cleaned where they are made, before any handler (ours or a test's) sees them.
        "apprise": {"level": "INFO", "filters": ["redact_secrets"]},
        "urllib3.connectionpool": {"level": "WARNING", "filters": ["redact_secrets"]},
    },
}
