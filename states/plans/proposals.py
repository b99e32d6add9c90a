"""At staging's end the review proposes its plan: each finding and each standard item a person
answered not met becomes a priced initiative (the template's price book), and every asset out
of warranty or past its lifecycle age is budgeted in the quarter it falls due.

What proposed an initiative is its source key (`finding:<check>`, `item:<standard>:<id>`,
`hardware`): while that initiative is open, a later review's finding of the same kind attaches
to it instead of proposing a second one (the database holds one open initiative per source).
Proposing again (a review rescheduled back through staging) adds nothing twice.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from states.calendar.business_days import local_date, zone
from states.lifecycle import audit
from states.lifecycle.audit import SYSTEM_ACTOR
from states.plans.fiscal import FiscalQuarter
from states.plans.initiatives import OPEN, Cost, Draft, cost_rows, new_initiative
from states.plans.money import CENT
from states.staging.evidence import Source, WarrantyAsset
from states.standards.answers import AnswerSource, questionnaire
from states.standards.schema import Answer
from states.store.models import EvidenceSet, Initiative, Review, ReviewFinding
from states.templates.price_book import PlanRule, PriceBook
from states.templates.schema import Template

HARDWARE = "hardware"
WARRANTY_CHECK = "warranty-lifecycle"
# a finding's priority, and how many quarters from now its initiative is placed
PRIORITY = {"red": "high", "amber": "medium"}
QUARTERS_AHEAD = {"high": 1, "medium": 2, "low": 3}


def propose(session: Session, review: Review, template: Template, now: datetime) -> list[int]:
    """Propose the review's plan in the caller's transaction; returns the initiatives it added."""
    client = review.client
    today = local_date(now, zone(client.timezone))
    book = template.plan
    current = FiscalQuarter.of(today, client.fiscal_year_start)
    held = {
        i.source_key: i
        for i in session.scalars(
            select(Initiative).where(
                Initiative.client_id == client.id,
                Initiative.status.in_([s.value for s in OPEN]),
                Initiative.source_key.is_not(None),
            )
        )
    }
    drafts: list[Draft] = []
    findings = session.scalars(select(ReviewFinding).where(ReviewFinding.review_id == review.id))
    for finding in sorted(findings, key=lambda f: f.key):
        if finding.check == WARRANTY_CHECK:
            continue  # the assets themselves are budgeted below
        rule = book.rule_for(f"finding:{finding.check}")
        drafts.append(_from_finding(finding, rule, book, current))
    for state in questionnaire(session, review):
        if state.source is AnswerSource.PERSON and state.answer is Answer.NOT_MET:
            rule = book.rule_for(f"item:{state.key}")
            title = rule.title or _short(f"{state.item.id}: {state.item.question}")
            why = rule.why or f"{state.item.question} Answered not met" + (
                f": {state.note}" if state.note else "."
            )
            priority = rule.priority or ("high" if state.item.severity == "red" else "medium")
            drafts.append(
                _draft(
                    rule,
                    book,
                    current,
                    title,
                    why,
                    state.item.category,
                    priority,
                    1,
                    items=(state.key,),
                    source_key=f"item:{state.key}",
                )  # fmt: skip
            )
    added = []
    for draft in drafts:
        if draft.source_key in held:
            _attach(session, held[draft.source_key], draft, review, now)
            continue
        added.append(_add(session, review, draft, now))
    hardware = _hardware(session, review, template, book, today, current, held.get(HARDWARE), now)
    _deferred_come_back(session, review, current, now)
    return added + hardware


def _deferred_come_back(
    session: Session, review: Review, current: FiscalQuarter, now: datetime
) -> None:
    """Initiatives the client deferred to a quarter that has come are proposed again."""
    due = current.start(review.client.fiscal_year_start)
    for initiative in session.scalars(
        select(Initiative).where(
            Initiative.client_id == review.client_id,
            Initiative.status == "deferred",
            Initiative.quarter_start <= due,
        )
    ):
        initiative.status, initiative.updated_at = "proposed", now
        audit.initiative_step(
            session, initiative, "deferred", "proposed", "propose_again", SYSTEM_ACTOR,
            f"its quarter came; proposed again by review {review.id}", now,
        )  # fmt: skip


def _from_finding(
    finding: ReviewFinding, rule: PlanRule, book: PriceBook, current: FiscalQuarter
) -> Draft:
    priority = rule.priority or PRIORITY.get(finding.severity, "medium")
    why = f"{finding.title}." + (f" {rule.why}" if rule.why else "")
    return _draft(
        rule, book, current, rule.title or _short(finding.title), why, finding.category, priority,
        max(1, len(finding.evidence)), findings=(finding.key,), source_key=f"finding:{finding.key}",
    )  # fmt: skip


def _draft(
    rule: PlanRule,
    book: PriceBook,
    current: FiscalQuarter,
    title: str,
    why: str,
    category: str,
    priority: str,
    units: int,
    findings: tuple[str, ...] = (),
    items: tuple[str, ...] = (),
    source_key: str | None = None,
) -> Draft:
    """An initiative priced by its rule: labor and a fixed amount once, in its quarter, and a
    monthly amount from it on."""
    quarter = current.next(QUARTERS_AHEAD[priority])
    price = rule.cost
    once = (price.hours + price.hours_per_unit * units) * book.labor_rate + price.amount
    monthly = price.monthly + price.monthly_per_unit * units
    costs = tuple(
        cost
        for cost, amount in (
            (Cost("one_time", _cents(once), quarter, label="labor and materials"), once),
            (Cost("recurring", _cents(monthly), quarter, label="per month"), monthly),
        )
        if amount > 0
    )
    return Draft(
        title=title, why=why[:2000], category=category, priority=priority,
        owner_role=rule.owner_role, quarter=quarter, costs=costs, findings=findings,
        items=items, source_key=source_key,
    )  # fmt: skip


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT)


def _add(session: Session, review: Review, draft: Draft, now: datetime) -> int:
    initiative = new_initiative(session, review.client, draft.checked(), review.id, now)
    session.flush()
    _note(session, initiative, "proposed", f"proposed by review {review.id}", now)
    return initiative.id


def _attach(
    session: Session, initiative: Initiative, draft: Draft, review: Review, now: datetime
) -> None:
    """A recurring finding or item: the open initiative takes it in, once."""
    findings = list(dict.fromkeys([*initiative.findings, *draft.findings]))
    items = list(dict.fromkeys([*initiative.items, *draft.items]))
    if (findings, items) != (initiative.findings, initiative.items):
        initiative.findings, initiative.items = findings, items
    _note(session, initiative, "recurred", f"raised again by review {review.id}", now)


def _note(session: Session, initiative: Initiative, what: str, comment: str, now: datetime) -> None:
    status = initiative.status
    audit.initiative_step(session, initiative, status, status, what, SYSTEM_ACTOR, comment, now)


def _hardware(
    session: Session,
    review: Review,
    template: Template,
    book: PriceBook,
    today: date,
    current: FiscalQuarter,
    held: Initiative | None,
    now: datetime,
) -> list[int]:
    """Every asset of the warranty export that falls due within the horizon (out of warranty,
    or at its lifecycle age), budgeted in the quarter it falls due at its type's cost."""
    start = review.client.fiscal_year_start
    years = template.thresholds.merged(review.client.thresholds).device_max_age_years
    last = current.next(4 * book.horizon_years - 1)
    listed = set(held.assets) if held else set()
    lines, assets = [], []
    for asset in _warranty(session, review.id):
        if asset.asset in listed or asset.asset in assets:
            continue
        due = _due(asset, years)
        quarter = max(FiscalQuarter.of(max(due, today), start), current)
        if quarter > last:
            continue
        cost = book.hardware_cost(asset.type)
        lines.append(Cost("one_time", _cents(cost), quarter, hardware=True, label=asset.asset))
        assets.append(asset.asset)
    if not lines:
        return []
    if held is not None:  # the open hardware initiative takes in the new assets
        held.assets = [*held.assets, *assets]
        held.costs.extend(cost_rows(lines, start))
        _note(session, held, "recurred", f"review {review.id} adds {len(assets)} assets", now)
        return []
    draft = Draft(
        title="Hardware lifecycle replacements",
        why=f"{len(assets)} assets are out of warranty or reach {years:g} years within "
        f"{book.horizon_years} years; each is budgeted in the quarter it falls due.",
        category="asset_lifecycle", priority="medium", owner_role="account_manager",
        quarter=min(line.first for line in lines), costs=tuple(lines), assets=tuple(assets),
        findings=(WARRANTY_CHECK,), source_key=HARDWARE,
    )  # fmt: skip
    return [_add(session, review, draft, now)]


def _due(asset: WarrantyAsset, years: float) -> date:
    """When an asset falls due: its warranty's end or its lifecycle age, whichever is first."""
    months = round(years * 12)
    year, month = divmod(asset.purchase_date.month - 1 + months, 12)
    aged = date(asset.purchase_date.year + year, month + 1, 1)
    return min(aged, asset.warranty_end) if asset.warranty_end else aged


def _warranty(session: Session, review_id: int) -> list[WarrantyAsset]:
    rows = session.scalar(
        select(EvidenceSet.rows).where(
            EvidenceSet.review_id == review_id, EvidenceSet.source == Source.WARRANTY.value
        )
    )
    assets = []
    for row in rows if isinstance(rows, list) else []:
        try:
            assets.append(WarrantyAsset.model_validate(row))
        except ValidationError:  # a row stored before it could be refused: left out
            continue
    return assets
