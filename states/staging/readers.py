"""Reading evidence files: an MSP's CSV and JSON exports, validated into the rows of
`states.staging.evidence`.

A file's name says which source it holds (`patches.csv`, `Antivirus_export.CSV`). A file is read
whole or not at all: any problem ends in one line naming the file, the row, the column and the fix.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from states.errors import InvalidInput
from states.staging.evidence import ROW_MODELS, EvidenceRow, Source

SUFFIXES = (".csv", ".json")
JSON_WRAPPERS = ("rows", "data", "items", "value")
FIX = "fix the file and import it again"
SHOWN_MAX = 40
SIGNS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
NUMBER_ERRORS = {
    *("int_parsing", "int_type", "int_from_float", "float_parsing", "float_type"),
    *("finite_number", "greater_than", "greater_than_equal", "less_than", "less_than_equal"),
}
DATE = "must be a date as YYYY-MM-DD, e.g. 2026-11-21"
YES_NO = "must be yes or no (or true/false, 1/0)"
REASONS = {
    **dict.fromkeys(("date_parsing", "date_type", "date_from_datetime_parsing"), DATE),
    "date_from_datetime_inexact": "must be a date without a time of day, e.g. 2026-11-21",
    **dict.fromkeys(("bool_parsing", "bool_type"), YES_NO),
    "string_type": "must be text",
}
_SEPARATORS = re.compile(r"[\s-]+")

# Where in the file a record starts ("row 7", "item 3") and its non-blank values by column.
Record = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class EvidenceFile:
    """One file read and validated: its source, rows, name and content hash."""

    source: Source
    path: Path
    sha256: str  # of the file's bytes
    rows: list[EvidenceRow]


def source_of(path: Path) -> Source:
    """The source a file holds, from its name: `patches.csv`, `patches-2026-11.json` ...

    The name's stem, lowercased, starts with a source followed by its end, '-', '_' or '.';
    the longest match wins. An unknown name is refused with the list of sources.
    """
    source = _match(path)
    if source is None:
        sources = ", ".join(s.value for s in Source)
        raise InvalidInput(
            f"{path.name}: the name does not say which evidence it holds; start it with one of "
            f"{sources} (e.g. patches-2026-11.csv) or name the source with --source"
        )
    return source


def _match(path: Path) -> Source | None:
    stem = path.stem.lower()
    # the source, then the end of the stem ("" is in any string) or a separator
    found = [s for s in Source if stem.startswith(s.value) and stem[len(s.value) :][:1] in "-_."]
    return max(found, key=lambda s: len(s.value), default=None)


def discover(folder: Path) -> list[Path]:
    """The evidence files in a client's evidence folder (*.csv, *.json), sorted by name.

    Files whose names match no source are ignored and a missing folder gives []; two files
    holding the same source are refused, naming both.
    """
    if not folder.is_dir():
        return []
    found: dict[Source, Path] = {}
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        source = _match(path) if path.suffix.lower() in SUFFIXES and path.is_file() else None
        if source is None:
            continue
        if source in found:
            raise InvalidInput(
                f"{found[source].name} and {path.name} in {folder} both hold {source} evidence; "
                "keep one of them and import again"
            )
        found[source] = path
    return sorted(found.values(), key=lambda p: p.name)


def read_evidence(path: Path, source: Source | None = None) -> EvidenceFile:
    """Read and validate a whole file as `source` (by default the one its name says).

    Any problem raises InvalidInput with one line naming the file, the row, the column and the
    reason; nothing is returned partially.
    """
    if source is None:
        source = source_of(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidInput(f"{path.name}: evidence must be a .csv or .json file; export it again")
    model = ROW_MODELS[source]
    data = read_bytes(path)
    text = _decode(path.name, data)
    records = (
        _json_records(path.name, text)
        if suffix == ".json"
        else _csv_records(path.name, text, model)
    )
    rows = [_validate(model, path.name, where, raw) for where, raw in records]
    return EvidenceFile(source, path, hashlib.sha256(data).hexdigest(), rows)


def fingerprint(path: Path) -> str:
    """The SHA-256 of a file's bytes, or one clear error when it cannot be read."""
    return hashlib.sha256(read_bytes(path)).hexdigest()


def read_bytes(path: Path) -> bytes:
    """A file's bytes, or one clear error naming it."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file; check the name and the folder") from None
    except OSError as error:
        raise InvalidInput(f"{path}: cannot be read ({error.strerror}); check the path") from None


def _decode(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise InvalidInput(
            f"{name} line {line}: not UTF-8 (byte 0x{data[error.start]:02x}); save the file as "
            "UTF-8 (in Excel: Save As > CSV UTF-8) and import it again"
        ) from None


def _column(name: str) -> str:
    """A header or key as a column name: "Missing Critical" -> missing_critical."""
    return _SEPARATORS.sub("_", name.strip().lower())


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _csv_records(name: str, text: str, model: type[EvidenceRow]) -> Iterator[Record]:
    first = text.lstrip().partition("\n")[0]
    delimiter = ";" if ";" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    end = 0  # the line the previous record ended on: a record starts on the next one
    try:
        for cells in reader:
            start, end = end + 1, reader.line_num
            if all(_blank(cell) for cell in cells):
                continue
            if header is None:
                header = _header(name, start, cells, model)
                continue
            if len(cells) > len(header):
                raise InvalidInput(
                    f"{name} row {start}, column {len(header) + 1}: an extra cell "
                    f"({_shown(cells[len(header)])}) beyond the header's {len(header)} columns; "
                    f"quote values that contain '{delimiter}' or {FIX}"
                )
            # A short row (trailing cells left off, as some exports do) reads as blank cells.
            values = zip(header, cells, strict=False)
            yield f"row {start}", {c: v for c, v in values if c and not _blank(v)}
    except csv.Error as error:
        raise InvalidInput(f"{name} row {reader.line_num}: not CSV ({error}); {FIX}") from None
    if header is None:
        columns = ", ".join(model.model_fields)
        raise InvalidInput(f"{name} is empty: it needs a header row ({columns}); {FIX}")


def _header(name: str, line: int, cells: list[str], model: type[EvidenceRow]) -> list[str]:
    header = [_column(cell) for cell in cells]
    named = [column for column in header if column]
    for column in named:
        if named.count(column) > 1:
            raise InvalidInput(
                f"{name} row {line}: column {column} appears twice in the header; {FIX}"
            )
    for column, field in model.model_fields.items():
        if field.is_required() and column not in named:
            raise InvalidInput(
                f"{name} row {line}: column {column} is missing from the header "
                f"(it has {', '.join(named)}); {FIX}"
            )
    return header


def _json_records(name: str, text: str) -> Iterator[Record]:
    if not text.strip():
        raise InvalidInput(f"{name} is empty: it needs a JSON list of objects, one per row; {FIX}")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(
            f"{name} line {error.lineno}, column {error.colno}: invalid JSON ({error.msg}); {FIX}"
        ) from None
    for number, item in enumerate(_json_items(name, document), start=1):
        if not isinstance(item, dict):
            raise InvalidInput(
                f"{name} item {number}: must be an object of columns and values "
                f"(got {_shown(item)}); {FIX}"
            )
        yield f"item {number}", {_column(k): v for k, v in item.items() if not _blank(v)}


def _json_items(name: str, document: Any) -> list[Any]:
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        lists = [key for key in JSON_WRAPPERS if isinstance(document.get(key), list)]
        if len(lists) == 1:
            return list(document[lists[0]])
    raise InvalidInput(
        f"{name}: must be a JSON list of objects, or an object with that list under one of "
        f"{', '.join(JSON_WRAPPERS)}; {FIX}"
    )


def _validate(model: type[EvidenceRow], name: str, where: str, raw: dict[str, Any]) -> EvidenceRow:
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        problem = error.errors(include_url=False)[0]
        loc = problem["loc"]
        column = f", column {loc[0]}" if loc else ""
        reason = _reason(model, problem)
        raise InvalidInput(f"{name} {where}{column}: {reason}; {FIX}") from None


def _reason(model: type[EvidenceRow], problem: ErrorDetails) -> str:
    """pydantic's complaint in the words of a spreadsheet: what the cell must be, what it was."""
    kind = problem["type"]
    if kind == "missing":
        return "is required and may not be empty"
    field = model.model_fields.get(str(problem["loc"][0])) if problem["loc"] else None
    if kind in NUMBER_ERRORS and field is not None:
        reason = f"must be {_number(field)}"
    elif kind == "string_too_short":
        reason = f"must be at least {problem.get('ctx', {}).get('min_length')} characters"
    elif kind in REASONS:
        reason = REASONS[kind]
    else:
        message = problem["msg"].removeprefix("Value error, ")
        reason = message[:1].lower() + message[1:]
    return f"{reason} (got {_shown(problem['input'])})"


def _number(field: FieldInfo) -> str:
    """'a whole number >= 0', 'a number > 0', 'a whole number from 1 to 5' ..."""
    kinds = get_args(field.annotation) or (field.annotation,)
    kind = "a whole number" if int in kinds else "a number"
    limits = {
        key: getattr(rule, key)
        for rule in field.metadata
        for key in SIGNS
        if getattr(rule, key, None) is not None
    }
    if "ge" in limits and "le" in limits:
        return f"{kind} from {limits['ge']} to {limits['le']}"
    bounds = " and ".join(f"{SIGNS[key]} {value}" for key, value in limits.items())
    return f"{kind} {bounds}" if bounds else kind


def _shown(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= SHOWN_MAX else shown[: SHOWN_MAX - 3] + "..."
