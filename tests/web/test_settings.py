from __future__ import annotations

import pytest

from web.settings import DEFAULT_SECRET, SettingsError, from_env


def test_development_defaults_are_embedded_and_safe() -> None:
    settings = from_env({})
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.meili_url is None and settings.code_sender == "dev" and settings.run_worker_in_process


def test_production_refuses_the_default_secret() -> None:
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        from_env({"YISHITING_ENV": "production", "SMTP_URL": "smtp://127.0.0.1:25"})
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        from_env({"YISHITING_ENV": "production", "SECRET_KEY": DEFAULT_SECRET, "SMTP_URL": "smtp://h:25"})


def test_production_refuses_the_development_code_sender() -> None:
    with pytest.raises(SettingsError, match="CODE_SENDER"):
        from_env({"YISHITING_ENV": "production", "SECRET_KEY": "x" * 40, "CODE_SENDER": "dev"})


def test_production_settings() -> None:
    settings = from_env({"YISHITING_ENV": "production", "SECRET_KEY": "x" * 40, "SMTP_URL": "smtp://mail:25",
                         "DATABASE_URL": "postgresql+asyncpg://app@db/yishiting", "MEILI_URL": "http://meili:7700"})
    assert settings.production and settings.secure_cookies and not settings.run_worker_in_process
    assert settings.freeze_heap and not settings.dev_tools
    assert not from_env({}).freeze_heap
    assert not from_env({"YISHITING_ENV": "production", "SECRET_KEY": "x" * 40, "SMTP_URL": "smtp://mail:25",
                         "FREEZE_HEAP": "false"}).freeze_heap


def test_unknown_environment_is_refused() -> None:
    with pytest.raises(SettingsError):
        from_env({"YISHITING_ENV": "staging"})


def test_host_cache_is_auto_a_directory_or_off() -> None:
    assert from_env({}).host_cache == "auto"
    assert from_env({"HOST_CACHE": "/run/yishiting/pages"}).host_cache == "/run/yishiting/pages"
    for off in ("off", "OFF", "false", "no", "0", "none", " "):
        assert from_env({"HOST_CACHE": off}).host_cache == "off", off
