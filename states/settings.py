"""Settings from the environment (XBR_ prefix): where xbr keeps its data and which database."""

from __future__ import annotations

from pathlib import Path

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """XBR_HOME holds the SQLite database and local templates; XBR_DATABASE_URL overrides."""

    model_config = SettingsConfigDict(env_prefix="XBR_", extra="ignore")

    home: Path = Path("~/.xbr")
    database_url: str = ""

    @field_validator("home")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def url(self) -> str:
        """The SQLAlchemy URL: XBR_DATABASE_URL, else SQLite under XBR_HOME."""
        return normalize_url(self.database_url or f"sqlite:///{self.home / 'xbr.db'}")

    @property
    def template_dir(self) -> Path:
        """Where an MSP keeps its own templates (same name replaces a shipped one)."""
        return self.home / "templates"


def normalize_url(url: str) -> str:
    """Plain postgresql:// URLs use the psycopg 3 driver that xbr installs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
