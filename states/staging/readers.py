"""Reading evidence files: an MSP's CSV and JSON exports, validated into the rows of
`states.staging.evidence`.

A file's name says which source it holds (`patches.csv`, `Antivirus_export.CSV`). A file is read
whole or not at all: any problem ends in one line naming the file, the row, the column and the fix.
Only regular files are read, within the size and row limits of the settings, a CSV file line by
line. An error shows a cell's value only for a column xbr reads (under a header that has xbr's
columns): never a line of a file that is not an export.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import os
import re
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, get_args

from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from states.errors import InvalidInput
from states.settings import Settings
from states.staging.evidence import ROW_MODELS, EvidenceRow, Rows, Source, encode
from states.staging.json_shape import FIX, export_items, kind_of

SUFFIXES = (".csv", ".json")
SHOWN_MAX = 40
SIGNS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
NUMBER_ERRORS = {
    *("int_parsing", "int_type", "int_from_float", "float_parsing", "float_type"),
    *("finite_number", "greater_than", "greater_than_equal", "less_than", "less_than_equal"),
    "int_parsing_size",
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
_LONE_CR = re.compile(r"(?<=\r)(?!\n)")  # old Mac line ends: a line ends after a lone CR
MB = 1024 * 1024
BOM = b"\xef\xbb\xbf"

# Where in the file a record starts ("row 7", "item 3") and its non-blank values by column.
Record = tuple[str, dict[str, Any]]


def _default(name: str) -> int:
    value = Settings.model_fields[name].default
    assert isinstance(value, int)
    return value


@dataclass(frozen=True)
class Limits:
    """How large an evidence file may be: XBR_EVIDENCE_MAX_MB and XBR_EVIDENCE_MAX_ROWS."""

    max_mb: int = field(default_factory=lambda: _default("evidence_max_mb"))
    max_rows: int = field(default_factory=lambda: _default("evidence_max_rows"))

    @classmethod
    def of(cls, settings: Settings | None) -> Limits:
        """The settings' limits; the defaults without settings."""
        if settings is None:
            return cls()
        return cls(settings.evidence_max_mb, settings.evidence_max_rows)

    @property
    def max_bytes(self) -> int:
        return self.max_mb * MB

    def too_large(self, name: str) -> InvalidInput:
        """The refusal of a file over the size limit."""
        return InvalidInput(
            f"{name}: larger than {self.max_mb} MB (XBR_EVIDENCE_MAX_MB); export a shorter "
            "period, or raise the limit"
        )

    def too_long(self, name: str) -> InvalidInput:
        """The refusal of a file over the row limit."""
        return InvalidInput(
            f"{name}: more than {self.max_rows:,} rows (XBR_EVIDENCE_MAX_ROWS); export a shorter "
            "period, or raise the limit"
        )


@dataclass(frozen=True)
class EvidenceFile:
    """One file read and validated: its source, rows, name and content hash."""

    source: Source
    path: Path
    sha256: str  # of the file's bytes
    rows: Rows


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
    holding the same source are refused, naming both, and so are a pipe or device of such a
    name and a link that leads out of the folder.
    """
    if not folder.is_dir():
        return []
    inside = folder.resolve()
    found: dict[Source, Path] = {}
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        source = _match(path) if path.suffix.lower() in SUFFIXES else None
        if source is None or not _regular_inside(path, inside, folder):
            continue
        if source in found:
            raise InvalidInput(
                f"{found[source].name} and {path.name} in {folder} both hold {source} evidence; "
                "keep one of them and import again"
            )
        found[source] = path
    return sorted(found.values(), key=lambda p: p.name)


def _regular_inside(path: Path, inside: Path, folder: Path) -> bool:
    """Whether a folder entry is a file to read (not a folder, nor a link to nothing); refuses a
    link out of the folder, and a pipe, socket or device, which would never be read whole."""
    real = path.resolve()
    if not real.is_relative_to(inside):
        raise InvalidInput(
            f"{path.name} in {folder} is a link to a file outside the folder; copy the export "
            "into the folder instead"
        )
    try:
        mode = real.stat().st_mode
    except OSError:
        return False
    if stat.S_ISDIR(mode):
        return False
    if not stat.S_ISREG(mode):
        raise InvalidInput(
            f"{path.name} in {folder} is {_kind(mode)}, not a file; save the export there as a file"
        )
    return True


def _kind(mode: int) -> str:
    kinds = {stat.S_ISDIR: "a folder", stat.S_ISFIFO: "a pipe", stat.S_ISSOCK: "a socket"}
    return next((kind for test, kind in kinds.items() if test(mode)), "a device")


def read_evidence(
    path: Path, source: Source | None = None, limits: Limits | None = None
) -> EvidenceFile:
    """Read and validate a whole file as `source` (by default the one its name says).

    Any problem raises InvalidInput with one line naming the file, the row, the column and the
    reason; nothing is returned partially. A CSV file is read a line at a time and hashed as
    it is read; the rows are kept as their JSON.
    """
    limits = limits or Limits()
    if not os.path.lexists(path):  # before its name: a shell pattern that matched no file
        unmatched = " (a pattern that matched no file?)" if set("*?[") & set(path.name) else ""
        raise InvalidInput(f"{path}: no such file{unmatched}; check the name and the folder")
    if source is None:
        source = source_of(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidInput(f"{path.name}: evidence must be a .csv or .json file; export it again")
    model = ROW_MODELS[source]
    hasher = hashlib.sha256()
    encoded: list[str] = []
    with opened(path, limits) as raw:
        chunks = _hashed(path.name, raw, hasher, limits)
        if suffix == ".json":
            text = _decode(path.name, b"".join(chunks))
            records: Iterator[Record] = _json_records(path.name, text, limits)
        else:
            records = _csv_records(path.name, _lines(path.name, chunks), model)
        for number, (where, raw_row) in enumerate(records, start=1):
            if number > limits.max_rows:
                raise limits.too_long(path.name)
            encoded.append(encode(_validate(model, path.name, where, raw_row)))
    return EvidenceFile(source, path, hasher.hexdigest(), Rows(model, encoded))


def fingerprint(path: Path, limits: Limits | None = None) -> str:
    """The SHA-256 of a file's bytes, or one clear error when it cannot be read."""
    limits = limits or Limits()
    hasher = hashlib.sha256()
    with opened(path, limits) as raw:
        for _ in _hashed(path.name, raw, hasher, limits):
            pass
    return hasher.hexdigest()


@contextmanager
def opened(path: Path, limits: Limits) -> Iterator[IO[bytes]]:
    """The file open for reading once it is known to be a regular file within the size limit:
    a pipe or a device is never read (opened without blocking, then refused)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file; check the name and the folder") from None
    except OSError as error:
        raise InvalidInput(f"{path}: cannot be read ({error.strerror}); check the path") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInput(
                f"{path.name} is {_kind(info.st_mode)}, not a file; save the export as a file "
                "and import that"
            )
        if info.st_size > limits.max_bytes:
            raise limits.too_large(path.name)
        os.set_blocking(fd, True)
        file = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with file:
        yield file


def _hashed(name: str, raw: IO[bytes], hasher: Any, limits: Limits) -> Iterator[bytes]:
    """The file's lines as bytes, hashed as they are read; refused once past the size limit
    (the file grew since it was measured)."""
    size = 0
    for line in raw:
        size += len(line)
        if size > limits.max_bytes:
            raise limits.too_large(name)
        hasher.update(line)
        yield line


def _lines(name: str, chunks: Iterable[bytes]) -> Iterator[str]:
    """The lines of a UTF-8 file as text (a byte order mark dropped), one at a time."""
    for number, line in enumerate(chunks, start=1):
        if number == 1 and line.startswith(BOM):
            line = line[len(BOM) :]
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidInput(
                f"{name} line {number}: not UTF-8 (byte 0x{line[error.start]:02x}); save the "
                "file as UTF-8 (in Excel: Save As > CSV UTF-8) and import it again"
            ) from None
        if "\r" in text[:-2]:
            yield from filter(None, _LONE_CR.split(text))
        else:
            yield text


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


def _csv_records(name: str, lines: Iterator[str], model: type[EvidenceRow]) -> Iterator[Record]:
    leading = []  # the blank lines before the header, and the header line
    for line in lines:
        leading.append(line)
        if line.strip():
            break
    first = leading[-1] if leading else ""
    delimiter = ";" if ";" in first and "," not in first else ","
    reader = csv.reader(itertools.chain(leading, lines), delimiter=delimiter)
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
        raise InvalidInput(f"{name} is empty: it needs a header row ({_columns(model)}); {FIX}")


def _columns(model: type[EvidenceRow]) -> str:
    return ", ".join(model.model_fields)


def _header(name: str, line: int, cells: list[str], model: type[EvidenceRow]) -> list[str]:
    """The header's columns; only xbr's own columns are ever named back (the line may be the
    first line of a file that is no export at all)."""
    header = [_column(cell) for cell in cells]
    for column, field_info in model.model_fields.items():
        if header.count(column) > 1:
            raise InvalidInput(
                f"{name} row {line}: column {column} appears twice in the header; {FIX}"
            )
        if field_info.is_required() and column not in header:
            raise InvalidInput(
                f"{name} row {line}: column {column} is missing from the header, which needs "
                f"{_columns(model)} (optional ones may be left out); {FIX}"
            )
    return [column if column in model.model_fields else "" for column in header]


def _json_records(name: str, text: str, limits: Limits) -> Iterator[Record]:
    if not text.strip():
        raise InvalidInput(f"{name} is empty: it needs a JSON list of objects, one per row; {FIX}")
    items = export_items(name, text, limits.max_rows)
    del text  # the parsed items are all that is needed now
    items.reverse()  # taken from the end: each item is freed once it is validated
    number = 0
    while items:
        item, number = items.pop(), number + 1
        if not isinstance(item, dict):
            raise InvalidInput(
                f"{name} item {number}: must be an object of columns and values "
                f"(got {kind_of(item)}); {FIX}"
            )
        yield f"item {number}", {_column(k): v for k, v in item.items() if not _blank(v)}


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
