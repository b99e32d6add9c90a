"""Loading templates: the shipped catalog (catalog/*.yaml) and the MSP's own files, validated,
with every problem named by file, field path and reason."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from states.data_files import read_mapping, validated
from states.errors import NotFound
from states.templates.schema import Template


def parse_template(data: Any, origin: str) -> Template:
    """Validate template data; errors name the origin, the field path and the reason."""
    return validated(Template, data, origin)


def load_template_file(path: Path) -> Template:
    """Read and validate one template YAML file."""
    return parse_template(read_mapping(path, "template"), str(path))


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
