"""Loading templates: the shipped catalog (catalog/*.yaml) and the MSP's own files, validated,
with every problem named by file, field path and reason."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from states.data_files import pick as pick_named
from states.data_files import read_mapping, shipped_files, validated, with_own_files
from states.templates.schema import Template


def parse_template(data: Any, origin: str) -> Template:
    """Validate template data; errors name the origin, the field path and the reason."""
    return validated(Template, data, origin)


def load_template_file(path: Path) -> Template:
    """Read and validate one template YAML file."""
    return parse_template(read_mapping(path, "template"), str(path))


def shipped_template_files() -> list[Path]:
    """The template files that come with xbr."""
    return shipped_files("states.templates")


def load_catalog(extra_dirs: Sequence[Path] = ()) -> dict[str, Template]:
    """Shipped templates, then the YAML files in `extra_dirs` (same name replaces)."""
    templates = map(load_template_file, with_own_files(shipped_template_files(), extra_dirs))
    return {template.name: template for template in templates}


def pick(catalog: dict[str, Template], name: str) -> Template:
    """The template `name`, or an error listing the known ones."""
    return pick_named(catalog, name, "template")
