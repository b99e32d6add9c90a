"""ConnectWise Manage's `conditions` grammar: a tokenizer, a recursive-descent parser, a matcher.

    expression := term (OR term)*
    term       := factor (AND factor)*
    factor     := "(" expression ")" | field operator value
    operator   := = | != | < | <= | > | >= | [not] contains | [not] like | [not] in
    value      := "string" | number | True | False | null | [datetime] | "(" value ("," value)* ")"

Strings are double-quoted, a backslash escapes the next character; `like` takes `*` (and `%`)
as the wildcard. Words (AND, OR, not, contains, True, null...) are case-insensitive. Text
compares case-insensitively, as SQL Server's default collation does; a missing value meets
only `= null`, never `!= "x"` nor `not contains "x"` (SQL's three-valued logic).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tests.psa_servers.common import parse_datetime

# plain `lastUpdated` is the documented alias of the record's own stamp
ALIASES = {"lastUpdated": "_info/lastUpdated"}
COMPARISONS = ("<=", ">=", "!=", "=", "<", ">")
WORD_OPERATORS = ("contains", "like", "in")


class ConditionError(ValueError):
    """The conditions string is not in the grammar, or names a field the resource lacks."""


@dataclass(frozen=True)
class Token:
    """One token of a conditions string, and where it starts."""

    kind: str  # string number datetime bool null field op and or not ( ) ,
    value: Any
    at: int


@dataclass(frozen=True)
class Comparison:
    """`field op value`, e.g. `board/name = "Help Desk"`."""

    field: str
    op: str  # one of COMPARISONS or WORD_OPERATORS
    value: Any
    negated: bool = False


@dataclass(frozen=True)
class Logical:
    """`left AND right` or `left OR right`."""

    op: str  # "and" | "or"
    left: Node
    right: Node


Node = Comparison | Logical

_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_/]*")
_KEYWORDS = {
    "and": "and",
    "or": "or",
    "not": "not",
    "true": "bool",
    "false": "bool",
    "null": "null",
}


def quote(text: str) -> str:
    """`text` as a conditions string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def tokenize(text: str) -> list[Token]:
    """The tokens of a conditions string; ConditionError on a character out of the grammar."""
    tokens: list[Token] = []
    at = 0
    while at < len(text):
        char = text[at]
        if char.isspace():
            at += 1
        elif char == '"':
            value, at_end = _read_string(text, at)
            tokens.append(Token("string", value, at))
            at = at_end
        elif char == "[":
            end = text.find("]", at)
            if end < 0:
                raise ConditionError(f"unclosed [ at {at}")
            tokens.append(Token("datetime", _read_datetime(text[at + 1 : end], at), at))
            at = end + 1
        elif char in "(),":
            tokens.append(Token(char, char, at))
            at += 1
        else:
            token, at = _read_word_or_symbol(text, at)
            tokens.append(token)
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    chars: list[str] = []
    at = start + 1
    while at < len(text):
        char = text[at]
        if char == "\\" and at + 1 < len(text):
            chars.append(text[at + 1])
            at += 2
        elif char == '"':
            return "".join(chars), at + 1
        else:
            chars.append(char)
            at += 1
    raise ConditionError(f"unterminated string starting at {start}")


def _read_datetime(inner: str, at: int) -> datetime:
    try:
        return parse_datetime(inner)
    except ValueError:
        raise ConditionError(f"[{inner}] at {at} is not a datetime") from None


def _read_word_or_symbol(text: str, at: int) -> tuple[Token, int]:
    for symbol in COMPARISONS:
        if text.startswith(symbol, at):
            return Token("op", symbol, at), at + len(symbol)
    number = _NUMBER.match(text, at)
    if number:
        raw = number.group(0)
        return Token("number", float(raw) if "." in raw else int(raw), at), number.end()
    word = _WORD.match(text, at)
    if word is None:
        raise ConditionError(f"unexpected {text[at]!r} at {at}")
    name = word.group(0)
    lowered = name.lower()
    kind = "op" if lowered in WORD_OPERATORS else _KEYWORDS.get(lowered, "field")
    return Token(kind, name, at), word.end()


class _Parser:
    def __init__(self, tokens: list[Token], known: Callable[[str], bool]) -> None:
        self.tokens = tokens
        self.known = known
        self.at = 0

    def peek(self, *kinds: str) -> Token | None:
        if self.at < len(self.tokens) and self.tokens[self.at].kind in kinds:
            return self.tokens[self.at]
        return None

    def take(self, *kinds: str) -> Token:
        token = self.peek(*kinds)
        if token is None:
            found = self.tokens[self.at] if self.at < len(self.tokens) else None
            where = f"{found.value!r} at {found.at}" if found else "the end"
            raise ConditionError(f"expected {' or '.join(kinds)}, found {where}")
        self.at += 1
        return token

    def expression(self) -> Node:
        node = self.term()
        while self.peek("or"):
            self.at += 1
            node = Logical("or", node, self.term())
        return node

    def term(self) -> Node:
        node = self.factor()
        while self.peek("and"):
            self.at += 1
            node = Logical("and", node, self.factor())
        return node

    def factor(self) -> Node:
        if self.peek("("):
            self.at += 1
            node = self.expression()
            self.take(")")
            return node
        return self.comparison()

    def comparison(self) -> Comparison:
        name = str(self.take("field").value)
        if not self.known(name):
            raise ConditionError(f"Cannot find column '{name}'")
        negated = self.peek("not") is not None
        if negated:
            self.at += 1
        op = str(self.take("op").value).lower()
        if negated and op not in WORD_OPERATORS:
            raise ConditionError(f"'not' goes before contains, like or in, not {op}")
        value = self.values() if op == "in" else self.value()
        return Comparison(ALIASES.get(name, name), op, value, negated)

    def value(self) -> Any:
        token = self.take("string", "number", "datetime", "bool", "null")
        if token.kind == "bool":
            return str(token.value).lower() == "true"
        return None if token.kind == "null" else token.value

    def values(self) -> list[Any]:
        self.take("(")
        found = [self.value()]
        while self.peek(","):
            self.at += 1
            found.append(self.value())
        self.take(")")
        return found


def parse(text: str, known: Callable[[str], bool] = lambda _: True) -> Node:
    """The tree of a conditions string; `known(field)` says whether the resource has a field."""
    parser = _Parser(tokenize(text), known)
    node = parser.expression()
    if parser.at != len(parser.tokens):
        extra = parser.tokens[parser.at]
        raise ConditionError(f"unexpected {extra.value!r} at {extra.at}")
    return node


def resolve(record: dict[str, Any], path: str) -> Any:
    """The value at `reference/subfield` in `record`, None where it has none."""
    value: Any = record
    for part in ALIASES.get(path, path).split("/"):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def matches(node: Node, record: dict[str, Any]) -> bool:
    """Whether `record` meets the conditions `node`."""
    if isinstance(node, Logical):
        if node.op == "and":
            return matches(node.left, record) and matches(node.right, record)
        return matches(node.left, record) or matches(node.right, record)
    actual = resolve(record, node.field)
    if node.value is None:  # only = null and != null make sense against null
        return (actual is None) == (node.op == "=")
    if actual is None:
        return False
    outcome = _holds(actual, node.op, node.value)
    return not outcome if node.negated else outcome


def _holds(actual: Any, op: str, expected: Any) -> bool:
    if op == "in":
        return any(_holds(actual, "=", one) for one in expected if one is not None)
    left, right = _comparable(actual, expected)
    if left is None or right is None:
        return False
    if op == "contains":
        return isinstance(left, str) and isinstance(right, str) and right in left
    if op == "like":
        return isinstance(left, str) and isinstance(right, str) and _like(left, right)
    return _ordered(left, op, right)


def _comparable(actual: Any, expected: Any) -> tuple[Any, Any]:
    """Both sides as one type, or (None, None) when they cannot compare."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        same = isinstance(expected, bool) and isinstance(actual, bool)
        return (actual, expected) if same else (None, None)
    if isinstance(expected, datetime):
        try:
            return (parse_datetime(actual), expected) if isinstance(actual, str) else (None, None)
        except ValueError:
            return None, None
    if isinstance(expected, int | float):
        return (actual, expected) if isinstance(actual, int | float) else (None, None)
    if isinstance(actual, str):
        return actual.casefold(), str(expected).casefold()
    return None, None


def _like(text: str, pattern: str) -> bool:
    regex = ".*".join(re.escape(part) for part in re.split(r"[*%]", pattern))
    return re.fullmatch(regex, text, re.DOTALL) is not None


def _ordered(left: Any, op: str, right: Any) -> bool:
    checks: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda a, b: bool(a == b),
        "!=": lambda a, b: bool(a != b),
        "<": lambda a, b: bool(a < b),
        "<=": lambda a, b: bool(a <= b),
        ">": lambda a, b: bool(a > b),
        ">=": lambda a, b: bool(a >= b),
    }
    return checks[op](left, right)
