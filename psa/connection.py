"""The installation's PSA connection: which PSA, where, its credentials and how xbr's work maps
onto it (board, statuses, priorities). Kept in psa.json under XBR_HOME, readable by its owner
only; the credentials are never printed (`shown()` masks them).
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from states.errors import InvalidInput, XbrError

FILE = "psa.json"
Kind = Literal["connectwise", "autotask", "halo"]
NAMES: dict[str, str] = {"connectwise": "ConnectWise", "autotask": "Autotask", "halo": "HaloPSA"}
# the statuses of the BTR board of a lean BTR process, by the review's phase
BTR_STATUSES = {
    "needed": "BTR Needed",
    "scheduling": "Scheduling",
    "scheduled": "Scheduled",
    "staging": "Stage",
    "prep": "Prep",
    "delivery": "Deliver",
    "follow_up": "Follow up",
    "qa_review": "Completed",
    "closed": "Closed",
    "cancelled": "Closed",
}
PHASES = tuple(BTR_STATUSES)
# requests a second xbr sends, by PSA: ConnectWise throttles above ~1,000 a minute; Autotask
# allows 10,000 an hour for every integration of the tenant together
RATES = {"connectwise": 15.0, "autotask": 2.0, "halo": 5.0}
PRIORITIES = {
    "connectwise": {"red": "Priority 2 - Quick Response", "amber": "Priority 3 - Normal Response"},
    "autotask": {"red": "High", "amber": "Medium"},
}


class Connection(BaseModel):
    """One PSA, as `xbr psa connect` set it up."""

    kind: Kind
    url: str = Field(min_length=1, max_length=500)
    # ConnectWise: company id, API member's public and private key, the integration's clientId
    company_id: str = ""
    public_key: str = ""
    private_key: SecretStr = SecretStr("")
    client_id: str = ""
    # Autotask: the API user, its secret and the integration's tracking identifier
    username: str = ""
    secret: SecretStr = SecretStr("")
    integration_code: SecretStr = SecretStr("")
    # HaloPSA: OAuth2 client credentials (client_id above) and the tenant of a hosted Halo
    client_secret: SecretStr = SecretStr("")
    tenant: str = ""
    # where the review's tickets go (ConnectWise board, Autotask queue, Halo team) and where the
    # follow-up tickets go ("": the reviews' board)
    board: str = Field(default="BTR", min_length=1, max_length=100)
    ticket_board: str = Field(default="", max_length=100)
    statuses: dict[str, str] = Field(default_factory=lambda: dict(BTR_STATUSES))
    source: str = Field(default="BTR", max_length=100)
    # the follow-up tickets' priority by the finding's severity (red, amber); none: the PSA's
    priorities: dict[str, str] = Field(default_factory=dict)
    # Autotask's opportunities need an owner (a resource id)
    opportunity_owner: str = ""
    rate: float = Field(default=0, ge=0, le=1000)
    connected_at: datetime | None = None

    @field_validator("statuses")
    @classmethod
    def _phases(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(PHASES))
        if unknown:
            raise ValueError(f"unknown phase {unknown[0]}; phases are {', '.join(PHASES)}")
        return {**BTR_STATUSES, **value}

    @model_validator(mode="after")
    def _usual_priorities(self) -> Connection:
        # the priorities a new tenant has; Halo's are ids of its own (--priority red=1)
        self.priorities = {**PRIORITIES.get(self.kind, {}), **self.priorities}
        return self

    @property
    def closed_status(self) -> str:
        """The status that closes a ticket: the one a closed review's ticket takes."""
        return self.statuses["closed"]

    @property
    def name(self) -> str:
        """The PSA's name for people: ConnectWise, Autotask, HaloPSA."""
        return NAMES[self.kind]

    @property
    def requests_per_second(self) -> float:
        """The pace xbr keeps: --rate, else the PSA's usual limit."""
        return self.rate or RATES[self.kind]

    def shown(self) -> dict[str, Any]:
        """The connection as `xbr psa show` prints it: every secret masked."""
        data = self.model_dump(mode="json", exclude={"connected_at"})
        for key, value in data.items():
            if isinstance(getattr(self, key), SecretStr):
                data[key] = "set" if value else ""
        data["connected_at"] = self.connected_at.isoformat() if self.connected_at else None
        return data


def load(home: Path) -> Connection | None:
    """The connection in home/psa.json; None when no PSA is connected."""
    path = home / FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise XbrError(f"cannot read {path} ({error.strerror}); fix its permissions") from None
    try:
        raw = json.loads(text)
        for key in ("private_key", "secret", "integration_code", "client_secret"):
            raw[key] = SecretStr(raw.get(key, ""))
        return Connection.model_validate(raw)
    except (ValueError, TypeError, ValidationError) as error:
        raise XbrError(
            f"{path} is not a PSA connection ({_first(error)}); run `xbr psa connect` again"
        ) from None


def save(home: Path, connection: Connection) -> Path:
    """Write the connection to home/psa.json (owner only), replacing the old one atomically."""
    data = connection.model_dump(mode="json")
    for key in data:
        if isinstance(getattr(connection, key), SecretStr):
            data[key] = getattr(connection, key).get_secret_value()
    home.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=".psa-", suffix=".tmp", dir=home)
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2)
            out.flush()
            os.fsync(out.fileno())
        os.replace(name, home / FILE)
    except OSError as error:
        Path(name).unlink(missing_ok=True)
        raise XbrError(f"cannot write {home / FILE} ({error.strerror}); fix XBR_HOME") from None
    return home / FILE


def parse_pairs(pairs: list[str], option: str, keys: tuple[str, ...]) -> dict[str, str]:
    """KEY=VALUE options (--status needed="BTR Needed"), each key one of `keys`."""
    found = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key.strip() not in keys or not value.strip() or len(value) > 100:
            raise InvalidInput(
                f"{option} {pair!r}: give KEY=VALUE, KEY one of {', '.join(keys)}, e.g. "
                f'{option} {keys[0]}="{BTR_STATUSES.get(keys[0], "High")}"'
            )
        found[key.strip()] = value.strip()
    return found


def _first(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(error).splitlines()[0][:200]
