"""Loading templates: the shipped catalog (catalog/*.yaml) and the MSP's own files, validated,
with every problem named by file, field path and reason."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from states.errors import InvalidInput, NotFound
from states.templates.schema import Template

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 5x faster


def _where(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in {"function-after", "function-before", "[key]"}:
            continue
        else:
            path += f".{part}" if path else str(part)
    return path


def parse_template(data: Any, origin: str) -> Template:
    """Validate template data; errors name the origin, the field path and the reason."""
    try:
        return Template.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where, message = _where(error["loc"]), error["msg"].removeprefix("Value error, ")
            problems.append(f"{where}: {message}" if where else message)
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InvalidInput(f"{origin}: {problems[0]}{more}") from None


def load_template_file(path: Path) -> Template:
    """Read and validate one template YAML file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read ({exc.strerror}); check the path") from None
    try:
        data = yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "YAML"
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context, opened = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and opened and (mark is None or opened.line != mark.line):
            reason += f" ({context} from line {opened.line + 1})"
        raise InvalidInput(f"{path}: {where}: malformed YAML: {reason}") from None
    if not isinstance(data, dict):
        raise InvalidInput(
            f"{path}: (top level): a template is a mapping of fields, not {data!r:.40}"
        )
    return parse_template(data, str(path))


def shipped_template_files() -> list[Path]:
    """The template files that come with xbr."""
    folder = resources.files("states.templates") / "catalog"
    return sorted(Path(str(f)) for f in folder.iterdir() if f.name.endswith(".yaml"))


def load_catalog(extra_dirs: Sequence[Path] = ()) -> dict[str, Template]:
    """Shipped templates, then the YAML files in `extra_dirs` (same name replaces)."""
    files = shipped_template_files()
    for folder in extra_dirs:
        if folder.is_dir():
            files += sorted(folder.glob("*.yaml"))
    catalog: dict[str, Template] = {}
    for path in files:
        template = load_template_file(path)
        catalog[template.name] = template
    return catalog


def pick(catalog: dict[str, Template], name: str) -> Template:
    """The template `name`, or an error listing the known ones."""
    try:
        return catalog[name]
    except KeyError:
        known = ", ".join(sorted(catalog))
        raise NotFound(f"unknown template {name!r}; use one of: {known}") from None
