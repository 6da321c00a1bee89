"""Configuration from the environment only.

With nothing set, the application runs on the *embedded default*: SQLite, a filesystem
Celery broker and a mail sink, all under ``instance/``. ``DATABASE_URL``,
``CELERY_BROKER_URL``, ``MAIL_SERVER``… switch each piece to a real service.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def instance_path() -> Path:
    return Path(os.environ.get("GRANTS_INSTANCE_PATH", ROOT / "instance")).resolve()


def database_url(instance: Path) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{instance / 'grants.sqlite'}"
    # Heroku-style URLs name the driver-less dialect; we ship psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def secret_key(instance: Path) -> str:
    """``SECRET_KEY`` from the environment, else one generated once into ``instance/``."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def celery_config(instance: Path) -> dict:
    broker = os.environ.get("CELERY_BROKER_URL")
    conf: dict = {
        # At-least-once delivery (DESIGN §9): ack after the task ran, requeue when the
        # worker process dies, one message at a time per process.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_ignore_result": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "timezone": "Europe/Paris",
        "enable_utc": True,
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
        "task_default_queue": os.environ.get("CELERY_QUEUE", "grants"),
    }
    if broker:
        conf["broker_url"] = broker
        if broker.startswith(("redis://", "rediss://")):
            # Well above the longest task: a task that outlives it runs twice.
            conf["broker_transport_options"] = {
                "visibility_timeout": _int("CELERY_VISIBILITY_TIMEOUT", 4 * 3600),
            }
    else:
        folder = instance / "broker"
        for sub in ("queue", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        conf["broker_url"] = "filesystem://localhost/"
        conf["broker_transport_options"] = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "store_processed": False,
            # The filesystem is polled: 0.2 s keeps pings and tasks snappy at little cost.
            "polling_interval": 0.2,
            # Exchange bindings (worker pings, broadcasts) shared by the web app and the
            # worker under instance/, not in kombu's default ``control/`` of the current folder.
            "control_folder": str(folder / "control"),
        }
    conf["beat_schedule_filename"] = str(instance / "celerybeat-schedule")
    return conf


def build_config() -> dict:
    instance = instance_path()
    instance.mkdir(parents=True, exist_ok=True)
    production = _bool("GRANTS_PRODUCTION", False)
    mail_server = os.environ.get("MAIL_SERVER")
    return {
        "SECRET_KEY": secret_key(instance),
        "INSTANCE_PATH": str(instance),
        "SQLALCHEMY_DATABASE_URI": database_url(instance),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "CELERY": celery_config(instance),
        # Uploads and request bodies (DESIGN §9). The request limit stays a little above
        # the file limit so that an oversized file gets a French message, not a bare 413.
        "MAX_CONTENT_LENGTH": _int(
            "MAX_CONTENT_LENGTH", _int("UPLOAD_MAX_BYTES", 10 * 1024 * 1024) + 2 * 1024 * 1024
        ),
        "UPLOAD_MAX_BYTES": _int("UPLOAD_MAX_BYTES", 10 * 1024 * 1024),
        # File storage: local disk outside static/ by default, S3-compatible by configuration
        # (credentials from the environment only).
        "STORAGE_BACKEND": os.environ.get("STORAGE_BACKEND", "local"),
        "STORAGE_PATH": os.environ.get("STORAGE_PATH", str(instance / "uploads")),
        "S3_BUCKET": os.environ.get("S3_BUCKET"),
        "S3_ENDPOINT_URL": os.environ.get("S3_ENDPOINT_URL"),
        "S3_REGION": os.environ.get("S3_REGION"),
        "S3_ACCESS_KEY_ID": os.environ.get("S3_ACCESS_KEY_ID"),
        "S3_SECRET_ACCESS_KEY": os.environ.get("S3_SECRET_ACCESS_KEY"),
        # Sessions and cookies.
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", True),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "grants_session",
        "REMEMBER_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", True),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_NAME": "grants_remember",
        "REMEMBER_DAYS": _int("REMEMBER_DAYS", 14),
        "SESSION_IDLE_MINUTES": _int("SESSION_IDLE_MINUTES", 60),
        "SESSION_ABSOLUTE_HOURS": _int("SESSION_ABSOLUTE_HOURS", 12),
        "HTTPS": _bool("HTTPS", production),
        # Tokens in e-mails.
        "CONFIRM_MAX_AGE": _int("CONFIRM_MAX_AGE", 48 * 3600),
        "RESET_MAX_AGE": _int("RESET_MAX_AGE", 3600),
        "INVITATION_DAYS": _int("INVITATION_DAYS", 14),
        # Rate limits: memory on the embedded default, Redis in production.
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_ENABLED": _bool("RATELIMIT_ENABLED", True),
        "RATELIMIT_HEADERS_ENABLED": True,
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "5 per minute;30 per hour"),
        "RESET_RATE_LIMIT": os.environ.get("RESET_RATE_LIMIT", "3 per minute;10 per hour"),
        # Mail: a sink under instance/mail unless an SMTP server is configured.
        "MAIL_BACKEND": os.environ.get("MAIL_BACKEND", "smtp" if mail_server else "file"),
        "MAIL_SINK_PATH": os.environ.get("MAIL_SINK_PATH", str(instance / "mail")),
        "MAIL_SERVER": mail_server or "localhost",
        "MAIL_PORT": _int("MAIL_PORT", 25),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME"),
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD"),
        "MAIL_USE_TLS": _bool("MAIL_USE_TLS", False),
        "MAIL_USE_SSL": _bool("MAIL_USE_SSL", False),
        "MAIL_DEFAULT_SENDER": os.environ.get(
            "MAIL_DEFAULT_SENDER", "ESS Bordeaux Métropole <ess-subventions@localhost>"
        ),
        "SERVER_NAME": os.environ.get("SERVER_NAME"),
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000"),
        "PREFERRED_URL_SCHEME": "https" if _bool("HTTPS", production) else "http",
        # Funder (attribuant) of the default configuration.
        "FUNDER_NAME": os.environ.get("FUNDER_NAME", "Bordeaux Métropole"),
        "FUNDER_SIRET": os.environ.get("FUNDER_SIRET", "24330031600011"),
        "FUNDER_SERVICE": os.environ.get("FUNDER_SERVICE", "Service économie sociale et solidaire"),
        # SIRET of the instructing service (SCDL idServiceInstructeur); the funder's if unset
        "FUNDER_SERVICE_SIRET": os.environ.get("FUNDER_SERVICE_SIRET"),
        # Mail ledger timings (seconds): a claim older than this belongs to a dead worker; a
        # pending row older than this lost its task; the first retry waits this long.
        "MAIL_STALE_CLAIM_SECONDS": _float("MAIL_STALE_CLAIM_SECONDS", 600.0),
        "MAIL_LOST_PENDING_SECONDS": _float("MAIL_LOST_PENDING_SECONDS", 120.0),
        "MAIL_RETRY_BASE_SECONDS": _float("MAIL_RETRY_BASE_SECONDS", 5.0),
        "BABEL_DEFAULT_LOCALE": "fr",
        "BABEL_DEFAULT_TIMEZONE": "Europe/Paris",
        "WTF_CSRF_TIME_LIMIT": 8 * 3600,
        "HEALTH_PING_TIMEOUT": float(os.environ.get("HEALTH_PING_TIMEOUT", "1.0")),
    }
