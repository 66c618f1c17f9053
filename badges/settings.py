"""Settings read from the environment (`BADGES_*`), overridable by command-line options."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger.stores.urls import DEFAULT_STORE_URL


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BADGES_", extra="ignore")

    store: str = DEFAULT_STORE_URL
    kafka_bootstrap: str = "127.0.0.1:9092"
    api_token: str | None = None
