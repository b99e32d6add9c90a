"""The README shows what the product does now: the lifecycle diagram and the two commands."""

import re
from pathlib import Path

from states.lifecycle.diagram import current_block, mermaid, readme_block

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_lifecycle_diagram_is_generated_from_the_machine() -> None:
    block = current_block(README.read_text(encoding="utf-8"))
    assert block is not None, "README.md lost its lifecycle markers"
    assert block == readme_block(), "README diagram is stale: run `make diagram`"


def test_diagram_has_every_state_and_transition() -> None:
    text = mermaid()
    for state in ("needed", "qa_review", "closed", "cancelled"):
        assert f'state "{state}" as {state}' in text
    assert "qa_review --> follow_up: reopen" in text
    assert "prep --> scheduling: reschedule" in text
    assert text.count(": cancel") == 8


def test_quick_start_shows_the_two_commands_first() -> None:
    text = README.read_text(encoding="utf-8")
    quick = text.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in quick.strip().splitlines()]
    assert commands == ["make demo", "make test"]


def test_readme_lists_every_evidence_source_with_its_columns() -> None:
    from states.staging.evidence import ROW_MODELS

    text = README.read_text(encoding="utf-8")
    for source, model in ROW_MODELS.items():
        columns = ", ".join(
            f"**{name}**" if field.is_required() else name
            for name, field in model.model_fields.items()
        )
        assert f"| `{source.value}`: " in text, source
        assert f"| {columns} | [{source.value}." in text, f"README columns of {source} are stale"


def _configuration_table(text: str) -> set[str]:
    table = text.split("## Configuration", 1)[1].split("\n\n", 2)[1]
    return {name for row in table.splitlines() for name in re.findall(r"`([A-Z_]+)`", row)}


def test_the_configuration_table_names_every_setting_and_nothing_else() -> None:
    from states.settings import Settings

    documented = {n for n in _configuration_table(README.read_text()) if n.startswith("XBR_")}
    fields = {
        f"XBR_{name.upper()}"
        for name, field in Settings.model_fields.items()
        if field.validation_alias is None  # the Prefect server's database has its own names
    }
    assert documented == fields


def test_no_module_reads_an_xbr_variable_behind_the_settings_back() -> None:
    root = README.parent
    # a read: environ.get, getenv or environ[...] not assigned to (setting one for a child is fine)
    reads = re.compile(
        r"(environ\.get\(|getenv\()\s*[\"']XBR_|environ\[[\"']XBR_\w+[\"']\](?!\s*=)"
    )
    offenders = [
        str(path.relative_to(root))
        for package in (
            "states",
            "notifications",
            "reports",
            "bootstrap",
            "tasks",
            "flows",
            "deploy",
        )
        for path in (root / package).rglob("*.py")
        if reads.search(path.read_text())
    ]
    assert offenders == []
