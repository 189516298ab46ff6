"""CloudWatch Logs filter patterns (FilterAndPatternSyntax in the CloudWatch Logs User Guide).

Pure: `compile_pattern(text)` returns a predicate over an event's message, or raises
FilterPatternError for a pattern AWS rejects. Supported, as documented:

- terms, case-sensitive: `ERROR` (contains), `ERROR Exception` (all), `?ERROR ?WARN` (any),
  `ERROR -DEBUG` (exclude), `"exact phrase, with: punctuation"`; quote a term that has
  characters other than letters, digits and `_-.:/@`;
- regular expressions: `%AccessDenied[a-zA-Z]*%`, limited to AWS's characters (no groups);
- JSON: `{ $.level = "ERROR" }`, `!=`, numbers with `= != < <= > >=`, `*` wildcards in strings,
  `&&`, `||`, parentheses, `IS NULL`, `NOT EXISTS`, `IS TRUE`, `IS FALSE`, `$.a.b[0]` selectors,
  `%regex%` values; a message that is not JSON never matches;
- space-delimited: `[ip, user, ..., status = 4*, size > 1000]`, with `&&` / `||` per field.

Terms match as substrings (AWS does not document word boundaries; moto did the same).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

Matcher = Callable[[str], bool]

# AWS: regex may hold letters, digits, these symbols and these operators (no parentheses).
_REGEX_SYMBOLS = set(":_#=@/;,- ")
_REGEX_OPERATORS = set("^$?[]{}|\\*+.")
_BARE_TERM = re.compile(r"[A-Za-z0-9_\-.:/@]+")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?$")


class FilterPatternError(ValueError):
    """A pattern AWS rejects (InvalidParameterException)."""


def compile_pattern(text: str | None) -> Matcher:
    """The predicate for a filter pattern; an empty pattern matches every event."""
    return _compile(text or "")


@lru_cache(maxsize=256)
def _compile(text: str) -> Matcher:
    stripped = text.strip()
    if not stripped:
        return lambda _message: True
    if stripped.startswith("{"):
        return _JsonParser(stripped).parse()
    if stripped.startswith("["):
        return _compile_delimited(stripped)
    if len(stripped) >= 2 and stripped.startswith("%") and stripped.endswith("%"):
        regex = _regex(stripped[1:-1])
        return lambda message: regex.search(message) is not None
    return _compile_terms(stripped)


def _regex(body: str) -> re.Pattern[str]:
    if not body:
        raise FilterPatternError("Empty regular expression in filter pattern")
    for char in body:
        if not (char.isascii() and char.isalnum()) and char not in _REGEX_SYMBOLS | _REGEX_OPERATORS:
            raise FilterPatternError(f"Invalid character {char!r} in regular expression %{body}%")
    try:
        return re.compile(body)
    except re.error as exc:
        raise FilterPatternError(f"Invalid regular expression %{body}%: {exc}") from None


# --- terms -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Term:
    text: str
    mode: str  # "required", "optional" (?), "excluded" (-)


def _split_terms(text: str) -> list[_Term]:
    terms: list[_Term] = []
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        mode = "required"
        if text[i] in "?-":
            mode = "optional" if text[i] == "?" else "excluded"
            i += 1
        if i >= len(text) or text[i].isspace():
            raise FilterPatternError(f"A term is missing after {text[i - 1]!r} in filter pattern")
        if text[i] == '"':
            end = i + 1
            chars: list[str] = []
            while end < len(text) and text[end] != '"':
                if text[end] == "\\" and end + 1 < len(text):
                    end += 1
                chars.append(text[end])
                end += 1
            if end >= len(text):
                raise FilterPatternError("Unterminated quoted term in filter pattern")
            terms.append(_Term("".join(chars), mode))
            i = end + 1
            if i < len(text) and not text[i].isspace():
                raise FilterPatternError("A quoted term must be followed by a space in filter pattern")
            continue
        end = i
        while end < len(text) and not text[end].isspace():
            end += 1
        word = text[i:end]
        if not _BARE_TERM.fullmatch(word):
            raise FilterPatternError(
                f"Invalid character(s) in term {word!r}: enclose terms with non-alphanumeric "
                'characters in double quotes ("")'
            )
        terms.append(_Term(word, mode))
        i = end
    return terms


def _compile_terms(text: str) -> Matcher:
    terms = _split_terms(text)
    required = [t.text for t in terms if t.mode == "required"]
    optional = [t.text for t in terms if t.mode == "optional"]
    excluded = [t.text for t in terms if t.mode == "excluded"]

    def matches(message: str) -> bool:
        return (
            all(term in message for term in required)
            and (not optional or any(term in message for term in optional))
            and not any(term in message for term in excluded)
        )

    return matches


# --- values shared by JSON and space-delimited patterns -----------------------------------------


@dataclass(frozen=True)
class _Value:
    """The right-hand side of a comparison."""

    kind: str  # "string", "number", "regex"
    text: str

    def compare(self, op: str, actual: Any) -> bool:
        if actual is None or isinstance(actual, (dict, list)):
            return False
        if self.kind == "regex":
            found = isinstance(actual, str) and _regex(self.text).search(actual) is not None
            return found if op == "=" else not found if op == "!=" else False
        if self.kind == "number" or op in ("<", "<=", ">", ">="):
            number = _as_number(actual)
            wanted = _as_number(self.text)
            if number is None or wanted is None:
                return False
            return _ORDER[op](number, wanted)
        if isinstance(actual, bool):
            actual = "true" if actual else "false"
        equal = _glob(self.text).fullmatch(str(actual)) is not None
        return equal if op == "=" else not equal


_ORDER: dict[str, Callable[[float, float], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        return float(value)
    return None


@lru_cache(maxsize=256)
def _glob(text: str) -> re.Pattern[str]:
    """`*` matches any run of characters; everything else is literal."""
    return re.compile(".*".join(re.escape(part) for part in text.split("*")), re.DOTALL)


# --- JSON patterns ---------------------------------------------------------------------------

_JSON_TOKEN = re.compile(
    r"""\s*(?:
        (?P<op>&&|\|\||!=|<=|>=|=|<|>|\(|\)|\{|\})
      | (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<regex>%[^%]*%)
      | (?P<selector>\$(?:\.[A-Za-z0-9_\-@$*]+|\[\d+\])*)
      | (?P<word>[^\s(){}=!<>&|"%]+)
    )""",
    re.VERBOSE,
)

_Node = Callable[[Any], bool]


class _JsonParser:
    """Recursive descent over `{ expr }` where expr uses && (binds tighter) and ||."""

    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            found = _JSON_TOKEN.match(text, pos)
            if not found or found.end() == pos:
                raise FilterPatternError(f"Invalid JSON filter pattern near {text[pos : pos + 20]!r}")
            kind = found.lastgroup or ""
            self.tokens.append((kind, found.group(kind)))
            pos = found.end()
        self.pos = 0

    def parse(self) -> Matcher:
        self.expect("op", "{")
        node = self.expression()
        self.expect("op", "}")
        if self.pos != len(self.tokens):
            raise FilterPatternError("Unexpected text after the closing brace of a JSON filter pattern")

        def matches(message: str) -> bool:
            try:
                document = json.loads(message)
            except ValueError:
                return False
            return isinstance(document, (dict, list)) and node(document)

        return matches

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise FilterPatternError("JSON filter pattern ends too early")
        self.pos += 1
        return token

    def expect(self, kind: str, text: str | None = None) -> str:
        token = self.take()
        if token[0] != kind or (text is not None and token[1] != text):
            raise FilterPatternError(f"Expected {text or kind} in JSON filter pattern, found {token[1]!r}")
        return token[1]

    def expression(self) -> _Node:
        left = self.conjunction()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.conjunction()
            left = _either(left, right)
        return left

    def conjunction(self) -> _Node:
        left = self.primary()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.primary()
            left = _both(left, right)
        return left

    def primary(self) -> _Node:
        if self.peek() == ("op", "("):
            self.take()
            node = self.expression()
            self.expect("op", ")")
            return node
        path = _selector_path(self.expect("selector"))
        token = self.take()
        if token[0] == "word" and token[1].upper() in ("IS", "NOT"):
            return self.keyword_test(path, token[1].upper())
        if token[0] != "op" or token[1] not in _ORDER:
            raise FilterPatternError(f"Expected a comparison operator in JSON filter pattern, found {token[1]!r}")
        op = token[1]
        value = self.value()
        if value.kind == "regex" and op not in ("=", "!="):
            raise FilterPatternError("A regular expression can only be compared with = or !=")
        return lambda doc: value.compare(op, _select(doc, path))

    def keyword_test(self, path: tuple[str | int, ...], keyword: str) -> _Node:
        word = self.expect("word").upper()
        if keyword == "NOT":
            if word != "EXISTS":
                raise FilterPatternError("Expected NOT EXISTS in JSON filter pattern")
            return lambda doc: _select(doc, path, missing=_MISSING) is _MISSING
        if word == "NULL":
            return lambda doc: _select(doc, path, missing=_MISSING) is None
        if word in ("TRUE", "FALSE"):
            wanted = word == "TRUE"
            return lambda doc: _select(doc, path) is wanted
        raise FilterPatternError(f"Expected NULL, TRUE or FALSE after IS, found {word!r}")

    def value(self) -> _Value:
        kind, text = self.take()
        if kind == "string":
            return _Value("string", json.loads(text))
        if kind == "regex":
            _regex(text[1:-1])
            return _Value("regex", text[1:-1])
        if kind == "word":
            return _Value("number" if _NUMBER.match(text) else "string", text)
        raise FilterPatternError(f"Expected a value in JSON filter pattern, found {text!r}")


_MISSING = object()


def _either(left: _Node, right: _Node) -> _Node:
    return lambda doc: left(doc) or right(doc)


def _both(left: _Node, right: _Node) -> _Node:
    return lambda doc: left(doc) and right(doc)


def _selector_path(selector: str) -> tuple[str | int, ...]:
    parts: list[str | int] = []
    for name, index in re.findall(r"\.([^.\[]+)|\[(\d+)\]", selector[1:]):
        parts.append(int(index) if index else name)
    if not parts:
        raise FilterPatternError("A JSON selector must name a field, e.g. $.level")
    return tuple(parts)


def _select(document: Any, path: tuple[str | int, ...], missing: Any = None) -> Any:
    current = document
    for part in path:
        if isinstance(part, int):
            if not isinstance(current, list) or part >= len(current):
                return missing
            current = current[part]
        else:
            if not isinstance(current, dict) or part not in current:
                return missing
            current = current[part]
    return current


# --- space-delimited patterns ------------------------------------------------------------------

_FIELD_COMPARISON = re.compile(
    r"""\s*(?P<name>[A-Za-z0-9_\-.$@]+)\s*(?P<op>!=|<=|>=|=|<|>)\s*
        (?P<value>"(?:[^"\\]|\\.)*"|%[^%]*%|[^\s&|]+)\s*""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Field:
    """One pattern field: `...`, a bare name, or comparisons joined by && / ||."""

    ellipsis: bool
    test: Callable[[str], bool]


def _compile_delimited(text: str) -> Matcher:
    if not text.endswith("]"):
        raise FilterPatternError("A space-delimited filter pattern must end with ]")
    body = text[1:-1].strip()
    fields = [_delimited_field(part.strip()) for part in _split_commas(body)] if body else []

    def matches(message: str) -> bool:
        return _match_fields(fields, _message_fields(message))

    return matches


def _split_commas(body: str) -> list[str]:
    parts, current, quoted = [], "", False
    for char in body:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    if quoted:
        raise FilterPatternError("Unterminated quote in space-delimited filter pattern")
    parts.append(current)
    return parts


def _delimited_field(part: str) -> _Field:
    if part == "...":
        return _Field(True, lambda _value: True)
    if re.fullmatch(r"[A-Za-z0-9_\-.$@]+", part):
        return _Field(False, lambda _value: True)
    alternatives: list[list[tuple[str, _Value]]] = []
    for alternative in part.split("||"):
        conjunction = []
        for comparison in alternative.split("&&"):
            found = _FIELD_COMPARISON.fullmatch(comparison)
            if not found:
                raise FilterPatternError(f"Invalid field {part!r} in space-delimited filter pattern")
            raw = found["value"]
            if raw.startswith('"'):
                value = _Value("string", json.loads(raw))
            elif raw.startswith("%") and raw.endswith("%") and len(raw) >= 2:
                _regex(raw[1:-1])
                value = _Value("regex", raw[1:-1])
            else:
                value = _Value("number" if _NUMBER.match(raw) else "string", raw)
            conjunction.append((found["op"], value))
        alternatives.append(conjunction)

    def test(actual: str) -> bool:
        return any(all(value.compare(op, actual) for op, value in group) for group in alternatives)

    return _Field(False, test)


def _message_fields(message: str) -> list[str]:
    """Split on spaces; "quoted" and [bracketed] runs are one field each (without the marks)."""
    fields: list[str] = []
    i = 0
    while i < len(message):
        char = message[i]
        if char.isspace():
            i += 1
            continue
        closing = '"' if char == '"' else "]" if char == "[" else None
        if closing is not None:
            end = message.find(closing, i + 1)
            if end != -1:
                fields.append(message[i + 1 : end])
                i = end + 1
                continue
        end = i
        while end < len(message) and not message[end].isspace():
            end += 1
        fields.append(message[i:end])
        i = end
    return fields


def _match_fields(pattern: list[_Field], values: list[str]) -> bool:
    if not pattern:
        return not values
    head, rest = pattern[0], pattern[1:]
    if head.ellipsis:
        return any(_match_fields(rest, values[skip:]) for skip in range(len(values) + 1))
    return bool(values) and head.test(values[0]) and _match_fields(rest, values[1:])
