"""The shape of a JSON export, checked before it is parsed: its nesting, its numbers, its size.

Python's parser takes `Infinity`, `NaN` and 1e400 as floats that no JSON column can store, a
5,000-digit number as an integer no database holds, nests as deep as its stack allows, and
builds every object before anyone counts them. So the text is looked at first, with its strings
taken out (they hold no structure, and no raw line break in valid JSON), and only an export's
shape is parsed: a list of flat objects, or that list under one key of an object.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from states.errors import InvalidInput

FIX = "fix the file and import it again"
MAX_DEPTH = 4  # a wrapper object, its list, the items, and one level of values in them
MAX_DIGITS = 18  # the longest whole number an export's counts and ids need
JSON_WRAPPERS = ("rows", "data", "items", "value")

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_STRUCTURE = re.compile(r"[\[\]{},]")
_CONSTANT = re.compile(r"-?\b(?:Infinity|NaN)\b")
_LONG = re.compile(rf"(?<![.\d])\d{{{MAX_DIGITS + 1},}}")
_EXPONENT = re.compile(r"-?\d+(?:\.\d+)?[eE][+-]?\d+")


def export_items(name: str, text: str, max_rows: int) -> list[Any]:
    """The items of a JSON export (a list, or the list under one of JSON_WRAPPERS), refused in
    one line when it nests too deep, holds a number JSON cannot store or more than `max_rows`
    items, or is no JSON."""
    skeleton = _STRING.sub('""', text)
    _check_numbers(name, skeleton)
    _check_structure(name, skeleton, max_rows)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(
            f"{name} line {error.lineno}, column {error.colno}: invalid JSON ({error.msg}); {FIX}"
        ) from None
    return _items(name, document)


def _line(skeleton: str, position: int) -> int:
    return skeleton.count("\n", 0, position) + 1


def _check_numbers(name: str, skeleton: str) -> None:
    if found := _CONSTANT.search(skeleton):
        raise InvalidInput(
            f"{name} line {_line(skeleton, found.start())}: {found.group()} is not a number; "
            f"write a number or leave the value out; {FIX}"
        )
    if found := _LONG.search(skeleton):
        raise InvalidInput(
            f"{name} line {_line(skeleton, found.start())}: a number of more than "
            f"{MAX_DIGITS} digits; {FIX}"
        )
    for found in _EXPONENT.finditer(skeleton):
        if not math.isfinite(float(found.group())):
            raise InvalidInput(
                f"{name} line {_line(skeleton, found.start())}: {found.group()[:20]} is too "
                f"large a number; {FIX}"
            )


def _check_structure(name: str, skeleton: str, max_rows: int) -> None:
    """No deeper than MAX_DEPTH; no more than max_rows items in the list of items (counted by
    the commas between them, before any item is built)."""
    open_: list[str] = []
    commas = 0
    for found in _STRUCTURE.finditer(skeleton):
        char = found.group()
        if char in "[{":
            open_.append(char)
            if len(open_) > MAX_DEPTH:
                raise InvalidInput(
                    f"{name} line {_line(skeleton, found.start())}: nested deeper than "
                    f"{MAX_DEPTH} levels; an export is a list of flat objects; {FIX}"
                )
        elif char != ",":
            if open_:
                open_.pop()
        # a comma between items: in the top list, or in a list right under the wrapper
        elif open_[-1:] == ["["] and len(open_) == (1 if open_[0] == "[" else 2):
            commas += 1
            if commas >= max_rows:
                raise InvalidInput(
                    f"{name}: more than {max_rows:,} rows (XBR_EVIDENCE_MAX_ROWS); export a "
                    "shorter period, or raise the limit"
                )


def _items(name: str, document: Any) -> list[Any]:
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


def kind_of(value: Any) -> str:
    """What a JSON value is, in a person's words: named instead of shown."""
    kinds = [(bool, "true or false"), (int | float, "a number"), (str, "text"),
             (list, "a list"), (dict, "an object")]  # fmt: skip
    return next((word for kind, word in kinds if isinstance(value, kind)), "null")
