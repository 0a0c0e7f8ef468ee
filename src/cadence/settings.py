"""Settings, read from the environment (``CADENCE_*``) and an optional ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cadence.core.leads import validate_timezone
from cadence.errors import ValidationError

DEFAULT_DATABASE_URL = "sqlite:///var/cadence.db"


class Settings(BaseSettings):
    """Everything cadence reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="CADENCE_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL of the cadence database; SQLite at ./var/cadence.db by default.",
    )
    templates_dir: Path = Field(default=Path("templates"), description="Cadences, rules and message templates.")
    default_timezone: str = Field(default="UTC", description="Time zone of a lead whose owner has none either.")
    lease_seconds: int = Field(default=300, ge=1, le=3600, description="How long a claimed step stays claimed.")

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            return validate_timezone(value)
        except ValidationError as exc:
            raise ValueError(str(exc)) from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
