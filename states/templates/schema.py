"""Review templates: the pydantic schema and the board defaults from the BTR process.

A template is data (YAML): the review type, cadence, budget, the meeting-relative schedule, and
per phase the RACI, WIP limit, status-age warning, verification and tasks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from states.calendar.business_days import Anchor
from states.lifecycle.machine import OPEN_PHASES, Phase
from states.staging.assessment import Thresholds
from states.staging.evidence import Source
from states.templates.price_book import PriceBook


class Role(StrEnum):
    """The roles people hold at an MSP (and the client's contact)."""

    VCIO = "vcio"
    ACCOUNT_MANAGER = "account_manager"
    SALES_ASSISTANT = "sales_assistant"
    OPS_MANAGER = "ops_manager"
    TEAM_LEAD = "team_lead"
    SUPPORT_ENGINEER = "support_engineer"
    INTERN = "intern"
    SECURITY_ENGINEER = "security_engineer"
    EXEC_ASSISTANT = "exec_assistant"
    CEO = "ceo"
    CLIENT_CONTACT = "client_contact"


class Cadence(StrEnum):
    """How often a client meets for this kind of review."""

    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMIANNUAL = "semiannual"
    ANNUAL = "annual"
    NONE = "none"


class TaskKind(StrEnum):
    """Manual work, a report to upload, or a check that automation can run."""

    MANUAL = "manual"
    UPLOAD = "upload"
    CHECK = "check"


Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Due(_Strict):
    """A due date: `business_days` from an anchor date (negative is before it)."""

    anchor: Anchor
    business_days: int = 0


class TaskSpec(_Strict):
    """One step of the checklist."""

    key: Slug
    title: str = Field(min_length=1)
    role: Role
    backup_roles: list[Role] = []  # also allowed to do it, and assigned when nobody has `role`
    required: bool = True
    kind: TaskKind = TaskKind.MANUAL
    due: Due | None = None
    ref: str | None = None  # the step's number in the source document
    verifies: list[Slug] = []  # second set of eyes: done by someone who did none of these
    evidence: list[Source] = []  # a check closes itself once staging has assessed these
    details: str = ""

    @property
    def roles(self) -> list[Role]:
        """Everyone who may do the task: the role first, then the backups."""
        return [self.role, *self.backup_roles]


class Raci(_Strict):
    """Responsible, accountable (exactly one role), consulted and informed."""

    responsible: list[Role] = Field(min_length=1)
    accountable: Role
    consulted: list[Role] = []
    informed: list[Role] = []


class PhaseSpec(_Strict):
    """What a phase needs: who, how many at once, how old is too old, and the tasks."""

    raci: Raci
    approval: bool = True  # False: the review moves on by itself once the required tasks are closed
    wip_limit: int | None = Field(default=None, ge=1)
    wip_minimum: int | None = Field(default=None, ge=1)
    age_warning_days: int | None = Field(default=None, ge=1)
    verifies: list[Slug] = []  # four-eyes: the approver did none of these tasks
    tasks: list[TaskSpec] = []

    @property
    def passes_through(self) -> bool:
        """A phase with neither tasks nor approval is crossed at once."""
        return not self.approval and not self.tasks


class Schedule(_Strict):
    """The meeting-relative dates, in business days (BTR defaults)."""

    lead_weeks_min: int = Field(default=4, ge=0)
    lead_weeks_max: int = Field(default=8, ge=0)
    prep_meeting_business_days_before: int = Field(default=2, ge=0)
    staging_done_business_days_before_prep: int = Field(default=5, ge=0)
    post_meeting_business_days_after: int = Field(default=1, ge=0)
    # the internal meetings' length in hours (0: no invitation to them)
    prep_meeting_hours: float = Field(default=2, ge=0, le=12)
    post_meeting_hours: float = Field(default=1, ge=0, le=12)
    staging_business_days: int = Field(default=10, ge=0)  # staging starts this long before done
    due_hour: int = Field(default=17, ge=0, le=23)
    day_start_hour: int = Field(default=8, ge=0, le=23)


def _raci(r: list[str], a: str, c: Sequence[str] = (), i: Sequence[str] = ()) -> dict[str, Any]:
    return {"responsible": list(r), "accountable": a, "consulted": list(c), "informed": list(i)}


# The BTR board (003): WIP limits, status-age warnings and the RACI chart, as phase defaults.
BOARD_DEFAULTS: dict[Phase, dict[str, Any]] = {
    Phase.NEEDED: {
        "age_warning_days": 30,
        "raci": _raci(["account_manager"], "ops_manager", ["ceo", "team_lead"], ["exec_assistant"]),
    },
    Phase.SCHEDULING: {
        "wip_limit": 10,
        "age_warning_days": 14,
        "raci": _raci(["team_lead", "exec_assistant"], "ops_manager", ["ceo"], ["account_manager"]),
    },
    Phase.SCHEDULED: {
        "wip_minimum": 5,
        "raci": _raci(["team_lead"], "ops_manager", [], ["account_manager"]),
    },
    Phase.STAGING: {
        "wip_limit": 4,
        "age_warning_days": 14,
        "raci": _raci(["support_engineer", "account_manager"], "ops_manager", [], ["ceo"]),
    },
    Phase.PREP: {
        "wip_limit": 2,
        "age_warning_days": 14,
        "raci": _raci(["ops_manager", "account_manager"], "ceo", ["team_lead"], []),
    },
    Phase.DELIVERY: {
        "wip_limit": 2,
        "age_warning_days": 14,
        "raci": _raci(["ops_manager", "team_lead"], "account_manager", ["ceo"], ["exec_assistant"]),
    },
    Phase.FOLLOW_UP: {
        "wip_limit": 2,
        "age_warning_days": 7,
        "raci": _raci(
            ["exec_assistant", "ops_manager"],
            "account_manager",
            ["ceo"],
            ["team_lead", "support_engineer", "client_contact"],
        ),
    },
    Phase.QA_REVIEW: {
        "wip_limit": 2,
        "age_warning_days": 7,
        "raci": _raci(["ops_manager"], "ceo"),
    },
}


class Template(_Strict):
    """A kind of review: its schedule and, per open phase, what must happen and who decides."""

    name: Slug
    title: str = Field(min_length=1)
    review_type: Slug
    description: str = ""
    source: str = ""  # the document the template was built from
    cadence: Cadence = Cadence.QUARTERLY
    budget_hours: float = Field(default=12, ge=0)
    schedule: Schedule = Schedule()
    thresholds: Thresholds = Thresholds()  # when staging's checks raise findings
    standards: list[Slug] = []  # what its reviews assess the client against, by name
    plan: PriceBook = PriceBook()  # how staging's findings become priced initiatives
    phases: dict[Phase, PhaseSpec]

    @model_validator(mode="before")
    @classmethod
    def _fill_board_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("phases", {}), dict):
            return data
        given = data.get("phases") or {}
        phases = {}
        for phase in OPEN_PHASES:
            spec = given.get(phase.value)
            phases[phase.value] = (
                {**BOARD_DEFAULTS[phase], **spec}
                if isinstance(spec, dict)
                else BOARD_DEFAULTS[phase]
            )
        # unknown phase names stay, so that validation names them
        phases.update({k: v for k, v in given.items() if k not in phases})
        return {**data, "phases": phases}

    @model_validator(mode="after")
    def _check_keys(self) -> Template:
        # Messages start with the field path: parse_template shows them as they are.
        closed = [p for p in self.phases if p not in OPEN_PHASES]
        if closed:
            raise ValueError(f"phases.{closed[0]}: takes no tasks, it ends the review")
        order = list(OPEN_PHASES)
        seen: dict[str, Phase] = {}
        for phase in OPEN_PHASES:
            spec = self.phases[phase]
            for i, task in enumerate(spec.tasks):
                where = f"phases.{phase}.tasks[{i}]"
                if task.key in seen:
                    raise ValueError(f"{where}.key: task key {task.key!r} is used twice")
                for key in task.verifies:
                    if key not in seen:
                        raise ValueError(
                            f"{where}.verifies: {key!r} is not an earlier task of the template"
                        )
                if not set(task.roles) & set(spec.raci.responsible):
                    raise ValueError(
                        f"{where}.role: {task.role} is not responsible in {phase}; "
                        f"add it to phases.{phase}.raci.responsible"
                    )
                seen[task.key] = phase
            for key in spec.verifies:
                if key not in seen or order.index(seen[key]) > order.index(phase):
                    raise ValueError(
                        f"phases.{phase}.verifies: {key!r} is not a task of {phase} or before it"
                    )
        staff = {r.value for r in Role} - {Role.CLIENT_CONTACT.value}
        for i, rule in enumerate(self.plan.rules):
            if rule.owner_role not in staff:
                raise ValueError(
                    f"plan.rules[{i}].owner_role: {rule.owner_role[:40]!r} is not a staff role"
                )
        return self

    def tasks(self) -> Iterator[tuple[Phase, TaskSpec]]:
        """Every task in lifecycle order, with its phase."""
        for phase in OPEN_PHASES:
            for task in self.phases[phase].tasks:
                yield phase, task

    def phase(self, phase: str) -> PhaseSpec:
        """The spec of an open phase."""
        return self.phases[Phase(phase)]
