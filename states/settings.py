"""Settings from the environment (XBR_ prefix): where xbr keeps its data and which database."""

from __future__ import annotations

import re
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from pydantic import AliasChoices, Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

HEX_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")  # a color as #RRGGBB, e.g. #1F4E79


class Settings(BaseSettings):
    """XBR_HOME holds the SQLite database and local templates; XBR_DATABASE_URL overrides."""

    model_config = SettingsConfigDict(env_prefix="XBR_", extra="ignore", populate_by_name=True)

    home: Path = Path("~/.xbr")
    database_url: str = ""
    # notifications: Apprise channels by person and role, email for everyone else
    apprise_config: Path | None = None
    smtp_url: str = ""
    # where people reach the approval page; links in messages start with it
    public_url: str = ""
    web_host: str = "127.0.0.1"
    web_port: int = 8765
    secret_key: str = ""
    # the approval page under abuse: refused requests a minute from one address before it
    # answers 429, and seconds a client has to send a whole request
    web_refusals_per_minute: int = Field(default=30, ge=1)
    web_request_seconds: int = Field(default=20, ge=1)
    # processes `xbr web` answers from: a decision costs some tens of milliseconds of CPU, and
    # one process answers one at a time (Python's GIL); `xbr up` serves from one thread
    web_workers: int = Field(default=2, ge=1, le=32)
    # the web app: how long a sign-in lasts (hours), and sign-in with OpenID Connect (Microsoft
    # Entra ID: https://login.microsoftonline.com/<tenant>/v2.0, Google Workspace:
    # https://accounts.google.com) when an issuer and its client are set
    session_hours: int = Field(default=12, ge=1, le=24 * 30)
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_name: str = "your organization's account"  # the sign-in button's words
    # staging: where each client's exports are dropped, where tickets and reports are written
    evidence_dir: Path | None = None
    export_dir: Path | None = None
    psa_webhook_url: str = ""
    # the largest evidence file read (MB, rows), and how old an export's own dates may be
    # before staging began without it being marked stale (days)
    evidence_max_mb: int = Field(default=50, ge=1)
    evidence_max_rows: int = Field(default=200_000, ge=1)
    evidence_stale_days: int = Field(default=45, ge=1)
    # the Prefect server `xbr up` starts: how long it keeps the runs that ended (days), and
    # its own database, SQLite under XBR_HOME by default
    run_retention_days: int = Field(default=90, ge=1)
    # and its port: fixed, so that the run links in last week's emails still open
    prefect_port: int = Field(default=4200, ge=1, le=65535)
    # a new review's run waits suspended from the start, running no process until its first
    # decision: for installations that open hundreds of reviews at once (the first gate's
    # Resume form and checklist appear once the run has run)
    start_suspended: bool = False
    # the schedules `xbr up` serves: the sweeper every few minutes, the account calendar's
    # daily pass (cron in the MSP's time zone; empty: only `xbr calendar run`)
    sweep_minutes: int = Field(default=5, ge=1)
    calendar_cron: str = "0 6 * * 1-5"
    # the MSP's time zone: the calendar's schedule and the days of the lean metrics
    timezone: str = "UTC"
    # where the public holidays of clients without their own country come from (ISO 3166
    # country code, e.g. US, and subdivision, e.g. NY); empty: business days skip weekends only
    country: str = ""
    subdivision: str = ""
    # the organizer of the meeting invitations xbr sends, whom calendars send replies to:
    # XBR_ORGANIZER, else the from= address of XBR_SMTP_URL, else xbr@localhost
    organizer: str = Field(default="", validate_default=True)
    # the MSP's currency: every amount of the plans and budgets is in it (ISO 4217 code)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    # the MSP's brand on what clients receive (the PDF report, the deck, the Word summary):
    # its name (empty: "Your IT partner"), a PNG or JPEG logo (checked when a document is
    # made), and its colors as #RRGGBB: titles and bars in `brand_color`, highlights in the accent
    brand_name: str = Field(default="", max_length=100)
    brand_logo: Path | None = None
    brand_color: str = "#1F4E79"
    brand_accent: str = "#2F6FB3"
    prefect_database_url: str = Field(
        default="",
        validation_alias=AliasChoices(
            "PREFECT_SERVER_DATABASE_CONNECTION_URL", "PREFECT_API_DATABASE_CONNECTION_URL"
        ),
    )

    @field_validator("home", "apprise_config", "evidence_dir", "export_dir", "brand_logo")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value else value

    @field_validator("brand_color", "brand_accent")
    @classmethod
    def _hex_color(cls, value: str) -> str:
        if not HEX_COLOR.fullmatch(value.strip()):
            raise ValueError(f"{value[:20]!r} is not a color; give one as #RRGGBB, e.g. #1F4E79")
        return value.strip().upper()

    @model_validator(mode="after")
    def _known_place(self) -> Settings:
        # the holidays library is read only when a place is set
        if self.country or self.subdivision:
            from states.calendar.public_holidays import check_place
            from states.errors import InvalidInput

            try:
                country, subdivision = check_place(self.country, self.subdivision)
            except InvalidInput as unknown:  # XBR_COUNTRY=XX: one ValidationError, as others
                raise ValueError(str(unknown).replace("--country", "XBR_COUNTRY")) from None
            self.country, self.subdivision = country or "", subdivision or ""
        return self

    @property
    def holiday_place(self) -> tuple[str | None, str | None]:
        """The MSP's holidays, for clients without their own: (country, subdivision)."""
        return (self.country or None, self.subdivision or None)

    @field_validator("organizer")
    @classmethod
    def _organizer(cls, value: str, info: ValidationInfo) -> str:
        return value.strip() or sender_of(info.data.get("smtp_url", "")) or "xbr@localhost"

    @property
    def url(self) -> str:
        """The SQLAlchemy URL: XBR_DATABASE_URL, else SQLite under XBR_HOME."""
        return normalize_url(self.database_url or f"sqlite:///{self.home / 'xbr.db'}")

    @property
    def prefect_url(self) -> str:
        """The Prefect server's database (PREFECT_SERVER_DATABASE_CONNECTION_URL, or its older
        name PREFECT_API_DATABASE_CONNECTION_URL), else SQLite under XBR_HOME; with the async
        drivers Prefect's server needs."""
        url = self.prefect_database_url or f"sqlite:///{self.home / 'prefect' / 'prefect.db'}"
        for prefix, driver in [("postgresql+psycopg://", "postgresql+asyncpg://"),
                               ("postgresql://", "postgresql+asyncpg://"),
                               ("postgres://", "postgresql+asyncpg://"),
                               ("sqlite:///", "sqlite+aiosqlite:///")]:  # fmt: skip
            if url.startswith(prefix):
                return driver + url[len(prefix) :]
        return url

    @property
    def apprise_path(self) -> Path:
        """The Apprise configuration: XBR_APPRISE_CONFIG, else apprise.yaml under XBR_HOME."""
        return self.apprise_config or self.home / "apprise.yaml"

    @property
    def page_url(self) -> str:
        """The approval page's base URL: XBR_PUBLIC_URL, else the local `xbr web` address."""
        return (self.public_url or f"http://{self.web_host}:{self.web_port}").rstrip("/")

    @property
    def evidence_root(self) -> Path:
        """Client evidence folders: XBR_EVIDENCE_DIR, else evidence/ under XBR_HOME."""
        return self.evidence_dir or self.home / "evidence"

    @property
    def exports(self) -> Path:
        """Ticket exports and reports: XBR_EXPORT_DIR, else exports/ under XBR_HOME."""
        return self.export_dir or self.home / "exports"

    @property
    def template_dir(self) -> Path:
        """Where an MSP keeps its own templates (same name replaces a shipped one)."""
        return self.home / "templates"

    @property
    def standard_dir(self) -> Path:
        """Where an MSP keeps its own standards (same name replaces a shipped one)."""
        return self.home / "standards"


def sender_of(smtp_url: str) -> str:
    """The address in an email URL's from= (without a display name), or ""."""
    values = parse_qs(urlsplit(smtp_url.strip()).query).get("from", [])
    return parseaddr(values[0])[1] if values else ""


def normalize_url(url: str) -> str:
    """Plain postgresql:// URLs use the psycopg 3 driver that xbr installs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
