"""The MSP's YAML files (templates, standards): read as one mapping and validated by a pydantic
model, every problem named in one line by file, field path and reason."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from states.errors import InvalidInput, NotFound

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 5x faster
M = TypeVar("M", bound=BaseModel)
# A field path as pydantic gives it -> the words that name it ("items[3].severity", "item X")
Where = Callable[[tuple[Any, ...]], str]


def field_path(loc: tuple[Any, ...]) -> str:
    """pydantic's location as a path: phases.staging.tasks[0].role."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in {"function-after", "function-before", "[key]"}:
            continue
        else:
            path += f".{part}" if path else str(part)
    return path


def validated(model: type[M], data: Any, origin: str, where: Where = field_path) -> M:
    """`data` as `model`; errors name the origin, the field and the reason in one line."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            place, message = where(error["loc"]), error["msg"].removeprefix("Value error, ")
            problems.append(f"{place}: {message}" if place else message)
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InvalidInput(f"{origin}: {problems[0]}{more}") from None


def read_mapping(path: Path, what: str) -> dict[str, Any]:
    """A YAML file holding one mapping (a template, a standard), or one clear error."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read ({exc.strerror}); check the path") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not UTF-8 text; save it as UTF-8") from None
    try:
        data = yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f"line {mark.line + 1}" if mark else "YAML"
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context, opened = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and opened and (mark is None or opened.line != mark.line):
            reason += f" ({context} from line {opened.line + 1})"
        raise InvalidInput(f"{path}: {place}: malformed YAML: {reason}") from None
    if not isinstance(data, dict):
        raise InvalidInput(
            f"{path}: (top level): a {what} is a mapping of fields, not {data!r:.40}"
        )
    return data


def shipped_files(package: str) -> list[Path]:
    """The YAML files that come with xbr in a package's catalog/ folder."""
    folder = resources.files(package) / "catalog"
    return sorted(Path(str(f)) for f in folder.iterdir() if f.name.endswith(".yaml"))


def with_own_files(shipped: list[Path], extra_dirs: Sequence[Path]) -> list[Path]:
    """The shipped files, then the YAML files in `extra_dirs` (loaded later: same name wins)."""
    files = list(shipped)
    for folder in extra_dirs:
        if folder.is_dir():
            files += sorted(folder.glob("*.yaml"))
    return files


def pick(found: Mapping[str, M], name: str, what: str) -> M:
    """The `what` called `name`, or an error listing the known ones."""
    try:
        return found[name]
    except KeyError:
        known = ", ".join(sorted(found))
        raise NotFound(f"unknown {what} {name!r}; use one of: {known}") from None
