"""Loading standards: the shipped catalog (catalog/*.yaml) and the MSP's own files in
$XBR_HOME/standards (the same name replaces a shipped one), validated, every problem named by
file, item and field."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from states.data_files import (
    field_path,
    pick,
    read_mapping,
    shipped_files,
    validated,
    with_own_files,
)
from states.standards.schema import Standard


def parse_standard(data: dict[str, Any], origin: str) -> Standard:
    """Validate standard data; an item's problem names the item by its id."""

    def where(loc: tuple[Any, ...]) -> str:
        items = data.get("items")
        if len(loc) >= 2 and loc[0] == "items" and isinstance(loc[1], int):
            found = items[loc[1]] if isinstance(items, list) and loc[1] < len(items) else None
            name = found.get("id") if isinstance(found, dict) else None
            rest = field_path(loc[2:])
            label = f"item {name}" if name else f"items[{loc[1]}]"
            return f"{label}: {rest}" if rest else label
        return field_path(loc)

    return validated(Standard, data, origin, where)


def load_standard_file(path: Path) -> Standard:
    """Read and validate one standard YAML file."""
    return parse_standard(read_mapping(path, "standard"), str(path))


def shipped_standard_files() -> list[Path]:
    """The standard files that come with xbr."""
    return shipped_files("states.standards")


def load_standards(extra_dirs: Sequence[Path] = ()) -> dict[str, Standard]:
    """Shipped standards, then the YAML files in `extra_dirs` (same name replaces)."""
    standards = map(load_standard_file, with_own_files(shipped_standard_files(), extra_dirs))
    return {standard.name: standard for standard in standards}


def pick_standard(standards: dict[str, Standard], name: str) -> Standard:
    """The standard `name`, or an error listing the known ones."""
    return pick(standards, name, "standard")
