"""A template's price book: how the review's findings and unmet standard items become priced
initiatives, and what hardware costs to replace.

A rule matches what it prices by `when`: `finding:<check>` (a check's finding, e.g.
`finding:endpoint-missing`), `item:<standard>:<id>` (a standard's item answered not met),
`item:<standard>:*`, or the fallbacks `finding:*` and `item:*`; the most specific one wins. Its
cost is labor (hours, and hours per device or person the finding names, at the labor rate), a
fixed amount, and a monthly amount (fixed, and per device or person).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Money = Decimal  # amounts in the MSP's currency; YAML numbers are read as exact decimals
WHEN = re.compile(
    r"^(finding:([a-z0-9-]+|\*)|item:(\*|[a-z0-9][a-z0-9-]{0,63}:(\*|[A-Za-z0-9.()\-]+)))$"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleCost(_Strict):
    """What an initiative of this rule costs; `per unit` is per device or person the finding
    names (one for a standard's item)."""

    hours: Money = Field(default=Decimal(0), ge=0, le=10_000)
    hours_per_unit: Money = Field(default=Decimal(0), ge=0, le=1_000)
    amount: Money = Field(default=Decimal(0), ge=0, le=10_000_000)
    monthly: Money = Field(default=Decimal(0), ge=0, le=1_000_000)
    monthly_per_unit: Money = Field(default=Decimal(0), ge=0, le=10_000)


class PlanRule(_Strict):
    """One kind of initiative the review proposes, and its price."""

    when: str
    title: str = Field(default="", max_length=200)  # "": the finding's title, or the item's
    why: str = Field(default="", max_length=2000)
    priority: Literal["high", "medium", "low"] | None = None  # None: high when red
    owner_role: str = "vcio"
    cost: RuleCost = RuleCost()

    @field_validator("when")
    @classmethod
    def _known_shape(cls, value: str) -> str:
        if not WHEN.match(value):
            raise ValueError(
                f"{value[:80]!r} is not a rule's match; write finding:<check>, "
                "item:<standard>:<id>, item:<standard>:*, finding:* or item:*"
            )
        return value


# What a template proposes when it names no rules of its own (prices in the MSP's currency).
DEFAULT_RULES = [
    PlanRule(when="finding:endpoint-missing", title="EDR rollout to every managed device",
             why="Devices without endpoint protection are the easiest way in for ransomware.",
             owner_role="support_engineer",
             cost=RuleCost(hours_per_unit=Decimal("1.5"), monthly_per_unit=Decimal(6))),
    PlanRule(when="finding:patch-compliance", title="Patch remediation",
             why="Unpatched devices carry known, exploited vulnerabilities.",
             owner_role="support_engineer", cost=RuleCost(hours_per_unit=Decimal("0.5"))),
    PlanRule(when="finding:definitions-stale", title="Antivirus definition repair",
             owner_role="support_engineer", cost=RuleCost(hours_per_unit=Decimal("0.25"))),
    PlanRule(when="finding:backup-failed", title="Backup remediation and restore test",
             why="A backup that fails or was never restored is no backup.",
             owner_role="support_engineer", cost=RuleCost(hours=Decimal(4))),
    PlanRule(when="finding:phishing-clicks", title="Security awareness training",
             why="People who click phishing links learn to spot them with short monthly training.",
             cost=RuleCost(hours=Decimal(2), monthly_per_unit=Decimal(3))),
    PlanRule(when="finding:darkweb-new", title="Credential reset and MFA for exposed accounts",
             owner_role="security_engineer", cost=RuleCost(hours_per_unit=Decimal("0.5"))),
    PlanRule(when="finding:secure-score", title="Microsoft 365 security hardening",
             owner_role="security_engineer", cost=RuleCost(hours=Decimal(8))),
    PlanRule(when="finding:privileged-change", title="Privileged access review",
             owner_role="security_engineer", cost=RuleCost(hours=Decimal(2))),
    PlanRule(when="finding:network-new-devices", title="Network inventory and segmentation",
             cost=RuleCost(hours=Decimal(4))),
    PlanRule(when="finding:sla-attainment", title="Service improvement plan",
             owner_role="account_manager", cost=RuleCost(hours=Decimal(2))),
    PlanRule(when="finding:*", cost=RuleCost(hours=Decimal(2))),
    PlanRule(when="item:*", cost=RuleCost(hours=Decimal(4))),
]  # fmt: skip


class PriceBook(_Strict):
    """The labor rate, the rules, the cost of hardware by type, and the budget's horizon."""

    labor_rate: Money = Field(default=Decimal(150), ge=0, le=100_000)
    rules: list[PlanRule] = Field(default_factory=lambda: list(DEFAULT_RULES), max_length=500)
    # replacement cost by the `type` column of the warranty export; `default` for the rest
    hardware: dict[str, Money] = Field(
        default_factory=lambda: {
            "default": Decimal(1200),
            "laptop": Decimal(1400),
            "desktop": Decimal(1100),
            "server": Decimal(9000),
            "firewall": Decimal(2500),
            "switch": Decimal(1500),
        }  # fmt: skip
    )
    horizon_years: int = Field(default=3, ge=1, le=10)  # hardware falling due within it

    @field_validator("hardware")
    @classmethod
    def _has_default(cls, value: dict[str, Money]) -> dict[str, Money]:
        if "default" not in value:
            raise ValueError("names no `default` cost for hardware of other types")
        if any(amount < 0 for amount in value.values()):
            raise ValueError("a hardware cost is negative")
        return {k.lower(): v for k, v in value.items()}

    def rule_for(self, what: str) -> PlanRule:
        """The most specific rule for `finding:<check>` or `item:<standard>:<id>`."""
        kind, _, rest = what.partition(":")
        standard = rest.split(":", 1)[0]
        wanted = [what, f"{kind}:{standard}:*", f"{kind}:*"] if kind == "item" else [
            what, f"{kind}:*"
        ]  # fmt: skip
        by_when = {rule.when: rule for rule in self.rules}
        for key in wanted:
            if key in by_when:
                return by_when[key]
        return PlanRule(when=f"{kind}:*")

    def hardware_cost(self, kind: str) -> Money:
        """What replacing one asset of this type costs."""
        return self.hardware.get(kind.strip().lower(), self.hardware["default"])
