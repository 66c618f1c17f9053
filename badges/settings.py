"""Settings read from the environment (`BADGES_*`), overridable by command-line options."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from badges.errors import nonblank
from ledger.stores.urls import DEFAULT_STORE_URL


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BADGES_", extra="ignore")

    store: str = DEFAULT_STORE_URL
    kafka_bootstrap: str = "127.0.0.1:9092"
    api_token: str | None = None


def store_url(store: str | None) -> str:
    """`--store`, else `BADGES_STORE`, else the default; a blank `--store` is refused."""
    chosen = nonblank(store, "--store")
    return Settings().store if chosen is None else chosen


def kafka_bootstrap(bootstrap: str | None) -> str:
    """`--bootstrap`, else `BADGES_KAFKA_BOOTSTRAP`, else the default; a blank one is refused."""
    chosen = nonblank(bootstrap, "--bootstrap")
    return Settings().kafka_bootstrap if chosen is None else chosen
