"""Review templates: the shipped catalog against its source documents, defaults, and errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from states.errors import InvalidInput, NotFound
from states.lifecycle.machine import Phase
from states.templates.catalog import (
    load_catalog,
    load_template_file,
    parse_template,
    pick,
    shipped_template_files,
)
from states.templates.schema import Role, TaskKind, TaskSpec, Template

SHIPPED = ["ad-hoc", "bsrr", "btr", "monthly-checkin", "qbr", "trs", "xbr-sop"]

# The (x)BR SOP (seed 000), by hand: step -> (phase it belongs in, words of its action step).
SOP_STEPS: dict[str, tuple[str, str]] = {
    "1": ("needed", "xbr ticket"),
    "2": ("scheduling", "agenda and feedback request"),
    "3": ("staging", "patch status"),
    "4": ("staging", "dns security report"),
    "5": ("staging", "av report"),
    "6": ("staging", "warranty report"),
    "7": ("staging", "dark web report"),
    "8": ("staging", "ess report"),
    "9": ("staging", "phishing campaign report"),
    "10": ("staging", "fresh network scan"),
    "11": ("staging", "network scan reports"),
    "12": ("staging", "key security groups"),
    "13": ("staging", "lci assets, users"),
    "14": ("scheduling", "schedule the xbr with the client"),
    "15": ("staging", "patch report"),
    "16": ("staging", "dns security report"),
    "17": ("staging", "anti-virus software report"),
    "18": ("staging", "huntress software report"),
    "19": ("staging", "lifecycle insights warranty report"),
    "20": ("staging", "bsn report"),
    "21": ("staging", "network scan security report"),
    "22": ("staging", "network scan powerpoint"),
    "23": ("staging", "financial"),
    "24": ("prep", "verify lci tabs"),
    "25": ("prep", "verify reports"),
    "26": ("staging", "lci ticket volume report"),
    "27": ("delivery", "deliver the (x)br"),
    "28": ("follow_up", "tickets for the deliverables"),
    "29": ("delivery", "follow-up questions"),
    "30": ("follow_up", "follow up on the (x)br deliverables"),
    "31": ("follow_up", "schedule future (x)brs"),
}
SOP_CHECK_STEPS = {"3", "4", "5", "6", "7", "8", "9", "11", "12"}
SOP_UPLOAD_STEPS = {"15", "16", "17", "18", "19", "21", "22", "23"}  # "Upload ..." in the SOP
SOP_FOLLOW_UP_QUESTIONS = [
    "What can we do better or different?",
    "When should we meet again?",
    "Who do you know that would benefit from this type of meeting?",
    "Would you give me a Google Review?",
]

# The BTR ticket template (seed 003), by hand: every numbered task, the second 37 as "37b".
BTR_REFS = [
    "1", "2",
    "11", "12", "13", "14", "15", "16", "17", "18",
    "21", "22", "23", "24", "25", "26", "29",
    "31", "32", "33", "34", "35", "36", "37", "37b", "38", "39",
    "41", "42",
    "51", "52", "53", "54", "55", "56", "59",
    "61",
]  # fmt: skip
BTR_STAGE_BY_TENS = {
    0: "needed",
    1: "scheduling",
    2: "staging",
    3: "prep",
    4: "delivery",
    5: "follow_up",
    6: "qa_review",
}

# The BTR board (seed 003), by hand: phase -> (WIP limit, status-age warning in days).
BOARD = {
    "needed": (None, 30),
    "scheduling": (10, 14),
    "scheduled": (None, None),
    "staging": (4, 14),
    "prep": (2, 14),
    "delivery": (2, 14),
    "follow_up": (2, 7),
    "qa_review": (2, 7),
}


def by_ref(template: Template) -> dict[str, tuple[str, TaskSpec]]:
    """Each task of `template` under its source reference, with its phase."""
    return {task.ref: (phase.value, task) for phase, task in template.tasks() if task.ref}


def text_of(task: TaskSpec) -> str:
    """A task's title and details, lower-cased, for matching the source's words."""
    return f"{task.title} {task.details}".lower()


def board_of(template: Template) -> dict[str, tuple[int | None, int | None]]:
    """Each phase's WIP limit and status-age warning."""
    return {p.value: (s.wip_limit, s.age_warning_days) for p, s in template.phases.items()}


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_template_loads(name: str) -> None:
    """Each catalog file validates, is named after its file, and has all open phases."""
    [path] = [p for p in shipped_template_files() if p.stem == name]
    template = load_template_file(path)
    assert template.name == name
    assert [p.value for p in template.phases] == list(BOARD)
    assert len(list(template.tasks())) > 0


def test_catalog_holds_the_shipped_templates(catalog: dict[str, Template]) -> None:
    """load_catalog returns every shipped template by name."""
    assert sorted(catalog) == SHIPPED


def test_xbr_sop_has_one_task_per_action_step(catalog: dict[str, Template]) -> None:
    """The 31 action steps of the SOP are 31 tasks, refs 1..31, each in its phase."""
    tasks = list(catalog["xbr-sop"].tasks())
    assert len(tasks) == 31
    steps = by_ref(catalog["xbr-sop"])
    assert sorted(steps, key=int) == [str(n) for n in range(1, 32)]
    placed = {ref: phase for ref, (phase, _) in steps.items()}
    assert placed == {ref: phase for ref, (phase, _) in SOP_STEPS.items()}


@pytest.mark.parametrize(("ref", "words"), [(ref, w) for ref, (_, w) in SOP_STEPS.items()])
def test_xbr_sop_task_says_what_the_step_says(
    catalog: dict[str, Template], ref: str, words: str
) -> None:
    """Each SOP step's task carries the step's words in its title or details."""
    _, task = by_ref(catalog["xbr-sop"])[ref]
    assert words in text_of(task)


def test_xbr_sop_checks_are_staged(catalog: dict[str, Template]) -> None:
    """The SOP's check steps are check tasks in staging."""
    steps = by_ref(catalog["xbr-sop"])
    for ref in SOP_CHECK_STEPS:
        phase, task = steps[ref]
        assert (ref, phase, task.kind) == (ref, "staging", TaskKind.CHECK)


def test_xbr_sop_uploads_are_upload_tasks(catalog: dict[str, Template]) -> None:
    """Every "Upload ..." step of the SOP is an upload task in staging."""
    steps = by_ref(catalog["xbr-sop"])
    uploads = {ref for ref, (_, task) in steps.items() if task.kind is TaskKind.UPLOAD}
    assert uploads >= SOP_UPLOAD_STEPS
    assert {steps[ref][0] for ref in uploads} == {"staging"}


def test_xbr_sop_has_two_second_eyes_tasks(catalog: dict[str, Template]) -> None:
    """Steps 24 and 25 verify earlier work: the LCI tabs, and every uploaded report."""
    template = catalog["xbr-sop"]
    steps = by_ref(template)
    verifying = {ref: task for ref, (_, task) in steps.items() if task.verifies}
    assert sorted(verifying) == ["24", "25"]
    assert verifying["24"].verifies == [steps["13"][1].key]
    uploaded = {task.key for _, task in template.tasks() if task.kind is TaskKind.UPLOAD}
    assert set(verifying["25"].verifies) == uploaded
    assert template.phase("prep").verifies == verifying["25"].verifies


def test_xbr_sop_asks_the_four_follow_up_questions(catalog: dict[str, Template]) -> None:
    """Some task's details carry all four follow-up questions of the SOP."""
    details = [task.details for _, task in catalog["xbr-sop"].tasks()]
    assert any(all(q in d for q in SOP_FOLLOW_UP_QUESTIONS) for d in details)


@pytest.mark.parametrize(
    ("phase", "title_start"),
    [("delivery", "Deliver"), ("follow_up", "Schedule future")],
)
def test_xbr_sop_phase_placement(
    catalog: dict[str, Template], phase: str, title_start: str
) -> None:
    """Delivering is in delivery; scheduling the next (x)BR is in follow-up."""
    titles = [t.title for t in catalog["xbr-sop"].phase(phase).tasks]
    assert any(title.startswith(title_start) for title in titles)


def test_btr_has_every_numbered_task(catalog: dict[str, Template]) -> None:
    """The BTR template lists the 37 numbered tasks of the ticket template, in order."""
    assert [task.ref for _, task in catalog["btr"].tasks()] == BTR_REFS


@pytest.mark.parametrize("ref", BTR_REFS)
def test_btr_task_is_in_the_stage_of_its_tens(catalog: dict[str, Template], ref: str) -> None:
    """A task numbered 2x is a staging task, 3x prep, and so on."""
    tens = int(re.match(r"\d+", ref).group()) // 10  # type: ignore[union-attr]
    assert by_ref(catalog["btr"])[ref][0] == BTR_STAGE_BY_TENS[tens]


def test_btr_budget_and_schedule(catalog: dict[str, Template]) -> None:
    """12 hours; meeting 4-8 weeks ahead, prep 2 days before, staging 5 before prep, post +1."""
    btr = catalog["btr"]
    assert btr.budget_hours == 12
    schedule = btr.schedule
    assert (schedule.lead_weeks_min, schedule.lead_weeks_max) == (4, 8)
    assert schedule.prep_meeting_business_days_before == 2
    assert schedule.staging_done_business_days_before_prep == 5
    assert schedule.post_meeting_business_days_after == 1
    assert schedule.due_hour == 17


def test_btr_keeps_the_board(catalog: dict[str, Template]) -> None:
    """BTR overrides only follow-up's RACI, so every WIP limit and age warning is the board's."""
    assert board_of(catalog["btr"]) == BOARD
    assert catalog["btr"].phase("scheduled").wip_minimum == 5


def test_monthly_checkin_staging_passes_through(catalog: dict[str, Template]) -> None:
    """The check-in stages nothing and needs no approval there, so staging is crossed at once."""
    staging = catalog["monthly-checkin"].phase("staging")
    assert staging.tasks == []
    assert staging.approval is False
    assert staging.passes_through is True
    prep = catalog["monthly-checkin"].phase("prep")
    assert (prep.approval, prep.passes_through) == (False, False)


BARE = {"name": "bare", "title": "Bare", "review_type": "bare"}


def test_board_defaults_apply_without_overrides() -> None:
    """A template that sets no phase gets the BTR board's limits, warnings and RACI."""
    template = parse_template({**BARE, "phases": {}}, "bare")
    assert board_of(template) == BOARD
    assert template.phase("scheduled").wip_minimum == 5
    accountable = {p.value: s.raci.accountable for p, s in template.phases.items()}
    assert accountable["needed"] is Role.OPS_MANAGER
    assert accountable["prep"] is Role.CEO
    assert accountable["qa_review"] is Role.CEO
    assert template.phase("qa_review").raci.responsible == [Role.OPS_MANAGER]


def test_board_defaults_fill_what_a_phase_leaves_out() -> None:
    """Overriding one field of a phase keeps the board's other fields for it."""
    phases = {"staging": {"wip_limit": 7}, "follow_up": {"age_warning_days": 3}}
    template = parse_template({**BARE, "phases": phases}, "bare")
    assert board_of(template) == {**BOARD, "staging": (7, 14), "follow_up": (2, 3)}
    assert template.phase("staging").raci.accountable is Role.OPS_MANAGER


# (id, YAML text, the field path, the reason) for templates that must be refused.
TASK = "phases:\n  staging:\n    tasks:\n      - {key: a, title: A, role: support_engineer%s}\n"
HEAD = "name: bad\ntitle: Bad\nreview_type: bad\n"
FIELD_ERRORS = [
    (
        "wrong-role",
        HEAD + TASK.replace("support_engineer", "wizard") % "",
        "phases.staging.tasks[0].role",
        "Input should be 'vcio'",
    ),
    ("wrong-type", HEAD + "budget_hours: lots\n", "budget_hours", "valid number"),
    ("unknown-field", HEAD + "colour: blue\n", "colour", "Extra inputs are not permitted"),
    (
        "unknown-task-field",
        HEAD + TASK % ", owner: sam",
        "phases.staging.tasks[0].owner",
        "Extra inputs are not permitted",
    ),
    (
        "bad-anchor",
        HEAD + TASK % ", due: {anchor: lunch}",
        "phases.staging.tasks[0].due.anchor",
        "Input should be 'start'",
    ),
    (
        "bad-key",
        HEAD + TASK.replace("key: a", "key: Not A Slug") % "",
        "phases.staging.tasks[0].key",
        "String should match pattern",
    ),
    (
        "zero-wip",
        HEAD + "phases:\n  staging:\n    wip_limit: 0\n",
        "phases.staging.wip_limit",
        "greater than or equal to 1",
    ),
    ("missing-title", "name: bad\nreview_type: bad\n", "title", "Field required"),
]


def write(tmp_path: Path, text: str) -> Path:
    """A template file holding `text`."""
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def refusal(path: Path) -> str:
    """The one-line error loading `path` gives."""
    with pytest.raises(InvalidInput) as raised:
        load_template_file(path)
    return str(raised.value)


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [case[1:] for case in FIELD_ERRORS],
    ids=[case[0] for case in FIELD_ERRORS],
)
def test_field_error_names_file_path_and_reason(
    tmp_path: Path, text: str, where: str, reason: str
) -> None:
    """The message is `file: field.path: reason`."""
    path = write(tmp_path, text)
    message = refusal(path)
    assert message.startswith(f"{path}: {where}: ")
    assert reason in message


# (id, YAML text, the place it must name, what it must say) for errors across fields.
CROSS_ERRORS = [
    (
        "duplicate-key",
        HEAD
        + TASK % ""
        + "  prep:\n    tasks:\n      - {key: a, title: A again, role: account_manager}\n",
        "phases.prep.tasks[0].key",
        "task key 'a' is used twice",
    ),
    (
        "verifies-later-task",
        HEAD + TASK % ", verifies: [b]" + "      - {key: b, title: B, role: support_engineer}\n",
        "phases.staging.tasks[0].verifies",
        "'b' is not an earlier task",
    ),
    (
        "role-not-responsible",
        HEAD + TASK.replace("support_engineer", "ceo") % "",
        "phases.staging.tasks[0].role",
        "ceo is not responsible in staging",
    ),
    (
        "phase-verifies-later-task",
        HEAD
        + "phases:\n  staging:\n    verifies: [b]\n"
        + "  prep:\n    tasks:\n      - {key: b, title: B, role: account_manager}\n",
        "phases.staging.verifies",
        "'b' is not a task of staging or before it",
    ),
    (
        "closed-phase",
        HEAD + "phases:\n  closed:\n    raci: {responsible: [ceo], accountable: ceo}\n",
        "phases.closed",
        "takes no tasks",
    ),
]


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [case[1:] for case in CROSS_ERRORS],
    ids=[case[0] for case in CROSS_ERRORS],
)
def test_cross_field_error_names_file_place_and_reason(
    tmp_path: Path, text: str, where: str, reason: str
) -> None:
    """A rule across fields still names the file, where in it, and what is wrong."""
    path = write(tmp_path, text)
    message = refusal(path)
    assert message.startswith(f"{path}: {where}: ")
    assert reason in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: bad\ntitle: [unclosed\nreview_type: bad\n", "line 3: malformed YAML: "),
        ("name: bad\n  title: x\n", "line 2: malformed YAML: "),
        ("- a\n- b\n", "(top level): a template is a mapping of fields"),
        ("just a string\n", "(top level): a template is a mapping of fields"),
        ("", "(top level): a template is a mapping of fields"),
    ],
    ids=["unclosed-list", "bad-indent", "list", "scalar", "empty"],
)
def test_unreadable_yaml_names_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    """Malformed YAML names its line; a top level that is not a mapping says so."""
    path = write(tmp_path, text)
    assert refusal(path).startswith(f"{path}: {expected}")


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    """A file that cannot be read is named, with the reason."""
    path = tmp_path / "nowhere.yaml"
    assert refusal(path).startswith(f"{path}: cannot read (No such file or directory)")


def test_extra_folder_replaces_a_shipped_template(tmp_path: Path) -> None:
    """A file in an extra folder with a shipped name replaces it; the others stay."""
    (tmp_path / "mine.yaml").write_text(
        "name: btr\ntitle: Our BTR\nreview_type: btr\nbudget_hours: 3\n", encoding="utf-8"
    )
    catalog = load_catalog([tmp_path])
    assert sorted(catalog) == SHIPPED
    assert (catalog["btr"].title, catalog["btr"].budget_hours) == ("Our BTR", 3)


def test_pick_unknown_template_lists_the_known(catalog: dict[str, Template]) -> None:
    """Asking for a template that does not exist names the ones that do."""
    with pytest.raises(NotFound, match="unknown template 'qqbr'; use one of: ad-hoc, bsrr, btr"):
        pick(catalog, "qqbr")
    assert pick(catalog, "qbr").name == "qbr"


def test_phase_enum_covers_the_board() -> None:
    """The board table above names exactly the open phases."""
    assert set(BOARD) == {p.value for p in Phase} - {"closed", "cancelled"}
