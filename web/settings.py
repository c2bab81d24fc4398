"""Typed settings, read from environment variables only."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_SECRET = "dev-only-insecure-secret-change-me"  # noqa: S105 - refused in production
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(RuntimeError):
    pass


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    environment: str = "development"  # development | test | production
    database_url: str = f"sqlite+aiosqlite:///{PROJECT_ROOT / 'var' / 'yishiting.db'}"
    secret_key: str = DEFAULT_SECRET
    meili_url: str | None = None
    meili_master_key: str | None = None
    meili_index_prefix: str = "yishiting_"
    meili_timeout: float = 2.0
    smtp_url: str | None = None
    mail_from: str = "Yishiting <noreply@yishiting.local>"
    code_sender: str = "dev"  # dev (local outbox page) | smtp
    base_url: str = "http://127.0.0.1:8000"
    run_worker_in_process: bool = True
    rate_limits: bool = True
    secure_cookies: bool = False
    db_pool_size: int = 20  # the connections an app process keeps (PostgreSQL); no overflow beyond them
    freeze_heap: bool = False  # web.heap: short collector pauses for a long-running server process
    change_feed: bool = True  # web.change_feed: processes tell each other what they changed (PostgreSQL only)
    # web.host_cache: where the processes of a host share their area pages while the change feed listens:
    # "auto" (/dev/shm, one directory per database), "off", or a directory
    host_cache: str = "auto"
    log_level: str = "INFO"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def dev_tools(self) -> bool:
        """The development-only pages (local message outbox): never in production, and only while codes
        go to that local outbox rather than a real sender."""
        return not self.production and self.code_sender == "dev"

    def validate(self) -> Settings:
        if self.environment not in {"development", "test", "production"}:
            raise SettingsError(f"YISHITING_ENV must be development, test or production, not {self.environment!r}")
        if self.production:
            if self.secret_key == DEFAULT_SECRET or len(self.secret_key) < 32:
                raise SettingsError("Refusing to start in production with the default or a short SECRET_KEY "
                                    "(set SECRET_KEY to at least 32 random characters).")
            if self.code_sender == "dev":
                raise SettingsError("Refusing to start in production with CODE_SENDER=dev; use smtp.")
        if self.code_sender not in {"dev", "smtp"}:
            raise SettingsError("CODE_SENDER must be dev or smtp")
        if self.code_sender == "smtp" and not self.smtp_url:
            raise SettingsError("CODE_SENDER=smtp needs SMTP_URL")
        return self

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def _host_cache(value: str) -> str:
    """``HOST_CACHE``: "auto", a directory, or off (also "", false, no, 0, none)."""
    value = value.strip()
    return "off" if value.lower() in {"", "off", "false", "no", "0", "none"} else value


def from_env(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    environment = env.get("YISHITING_ENV", "development")
    defaults = Settings()
    return Settings(
        environment=environment,
        database_url=env.get("DATABASE_URL", defaults.database_url),
        secret_key=env.get("SECRET_KEY", defaults.secret_key),
        meili_url=env.get("MEILI_URL") or None,
        meili_master_key=env.get("MEILI_MASTER_KEY") or None,
        meili_index_prefix=env.get("MEILI_INDEX_PREFIX", defaults.meili_index_prefix),
        meili_timeout=float(env.get("MEILI_TIMEOUT", defaults.meili_timeout)),
        smtp_url=env.get("SMTP_URL") or None,
        mail_from=env.get("MAIL_FROM", defaults.mail_from),
        code_sender=env.get("CODE_SENDER", "smtp" if env.get("SMTP_URL") else "dev"),
        base_url=env.get("BASE_URL", defaults.base_url).rstrip("/"),
        run_worker_in_process=_bool(env.get("RUN_WORKER_IN_PROCESS", str(environment != "production"))),
        rate_limits=_bool(env.get("RATE_LIMITS", "true")),
        secure_cookies=_bool(env.get("SECURE_COOKIES", "true" if environment == "production" else "false")),
        db_pool_size=int(env.get("DB_POOL_SIZE", defaults.db_pool_size)),
        freeze_heap=_bool(env.get("FREEZE_HEAP", str(environment == "production"))),
        change_feed=_bool(env.get("CHANGE_FEED", "true")),
        host_cache=_host_cache(env.get("HOST_CACHE", defaults.host_cache)),
        log_level=env.get("LOG_LEVEL", defaults.log_level),
    ).validate()
