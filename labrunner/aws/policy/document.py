"""Parsing IAM policy documents into frozen, pre-compiled statements."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from labrunner.aws.policy.patterns import ActionMatcher, action_matcher

PolicyInput = str | Mapping[str, Any]
Effect = Literal["Allow", "Deny"]


class PolicyParseError(ValueError):
    """The text is not a policy document IAM would accept (malformed JSON or structure)."""


@dataclass(frozen=True)
class Position:
    """Line and column (both 1-based) in the policy text, as the IAM simulator reports them."""

    line: int
    column: int


@dataclass(frozen=True)
class PrincipalSpec:
    """A Principal or NotPrincipal element."""

    everyone: bool = False  # "*" or {"AWS": "*"}
    aws: tuple[str, ...] = ()
    service: tuple[str, ...] = ()
    federated: tuple[str, ...] = ()
    canonical_user: tuple[str, ...] = ()

    def entries(self) -> tuple[tuple[str, str], ...]:
        """(kind, value) pairs as written: kind is AWS, Service, Federated, CanonicalUser or *."""
        out: list[tuple[str, str]] = [("*", "*")] if self.everyone else []
        out += [("AWS", v) for v in self.aws]
        out += [("Service", v) for v in self.service]
        out += [("Federated", v) for v in self.federated]
        out += [("CanonicalUser", v) for v in self.canonical_user]
        return tuple(out)


@dataclass(frozen=True)
class ConditionClause:
    """One `operator: {key: values}` entry of a Condition block."""

    operator: str
    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Statement:
    """One statement, with its place in the document (index from 0, Sid, text position)."""

    index: int
    effect: Effect
    sid: str | None = None
    actions: tuple[str, ...] | None = None
    not_actions: tuple[str, ...] | None = None
    resources: tuple[str, ...] | None = None
    not_resources: tuple[str, ...] | None = None
    principal: PrincipalSpec | None = None
    not_principal: PrincipalSpec | None = None
    conditions: tuple[ConditionClause, ...] = ()
    start: Position | None = None
    end: Position | None = None
    # Policy variables are substituted only under "Version": "2012-10-17"; otherwise `${…}` is plain text
    # ("IAM policy elements: Variables and tags": variables need that version).
    variables: bool = True
    _action_match: ActionMatcher | None = field(default=None, compare=False, repr=False)

    def action_applies(self, action: str) -> bool:
        """Action/NotAction test (case-insensitive, wildcards)."""
        matcher = self._action_match
        if matcher is None:
            return False
        hit = matcher(action)
        return hit if self.actions is not None else not hit

    @property
    def label(self) -> str:
        """How a person names this statement: its Sid, else its 1-based number."""
        return f"Sid {self.sid!r}" if self.sid else f"statement #{self.index + 1}"


@dataclass(frozen=True)
class PolicyDocument:
    version: str | None
    statements: tuple[Statement, ...]
    id: str | None = None


def _strings(value: Any, element: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise PolicyParseError(f"{element} must be a string or a list of strings")


_PRINCIPAL_FIELDS = {
    "AWS": "aws",
    "Service": "service",
    "Federated": "federated",
    "CanonicalUser": "canonical_user",
}


def _principal(value: Any, element: str) -> PrincipalSpec:
    if value == "*":
        return PrincipalSpec(everyone=True)
    if not isinstance(value, Mapping):
        raise PolicyParseError(f'{element} must be "*" or an object')
    spec: dict[str, tuple[str, ...]] = {}
    everyone = False
    for kind, raw in value.items():
        values = _strings(raw, f"{element}.{kind}")
        if kind not in _PRINCIPAL_FIELDS:
            raise PolicyParseError(f"unknown principal type {kind!r} in {element}")
        if kind == "AWS" and "*" in values:
            everyone = True
            values = tuple(v for v in values if v != "*")
        spec[_PRINCIPAL_FIELDS[kind]] = values
    return PrincipalSpec(everyone=everyone, **spec)


def _conditions(value: Any) -> tuple[ConditionClause, ...]:
    if not isinstance(value, Mapping):
        raise PolicyParseError("Condition must be an object")
    out = []
    for operator, block in value.items():
        if not isinstance(block, Mapping):
            raise PolicyParseError(f"Condition operator {operator} must map keys to values")
        for key, raw in block.items():
            raw_values = raw if isinstance(raw, list) else [raw]
            values = tuple(_text(v) if isinstance(v, str | bool | int | float) else json.dumps(v) for v in raw_values)
            out.append(ConditionClause(operator=str(operator), key=str(key), values=values))
    return tuple(out)


def _text(value: str | bool | float) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _statement(raw: Any, index: int, span: tuple[Position, Position] | None, variables: bool) -> Statement:
    if not isinstance(raw, Mapping):
        raise PolicyParseError(f"statement #{index + 1} must be an object")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyParseError(f"statement #{index + 1}: Effect must be Allow or Deny, not {effect!r}")
    has_action, has_not_action = "Action" in raw, "NotAction" in raw
    if has_action == has_not_action:
        raise PolicyParseError(f"statement #{index + 1} needs exactly one of Action or NotAction")
    if "Resource" in raw and "NotResource" in raw:
        raise PolicyParseError(f"statement #{index + 1} has both Resource and NotResource")
    if "Principal" in raw and "NotPrincipal" in raw:
        raise PolicyParseError(f"statement #{index + 1} has both Principal and NotPrincipal")
    actions = _strings(raw["Action"], "Action") if has_action else None
    not_actions = _strings(raw["NotAction"], "NotAction") if has_not_action else None
    sid = raw.get("Sid")
    return Statement(
        index=index,
        effect=effect,
        sid=str(sid) if sid is not None else None,
        actions=actions,
        not_actions=not_actions,
        resources=_strings(raw["Resource"], "Resource") if "Resource" in raw else None,
        not_resources=_strings(raw["NotResource"], "NotResource") if "NotResource" in raw else None,
        principal=_principal(raw["Principal"], "Principal") if "Principal" in raw else None,
        not_principal=_principal(raw["NotPrincipal"], "NotPrincipal") if "NotPrincipal" in raw else None,
        conditions=_conditions(raw["Condition"]) if "Condition" in raw else (),
        start=span[0] if span else None,
        end=span[1] if span else None,
        variables=variables,
        _action_match=action_matcher(actions if actions is not None else not_actions or ()),
    )


def _from_mapping(data: Mapping[str, Any], spans: list[tuple[Position, Position]]) -> PolicyDocument:
    if "Statement" not in data:
        raise PolicyParseError("a policy document needs a Statement")
    raw = data["Statement"]
    items = raw if isinstance(raw, list) else [raw]
    version = data.get("Version")
    variables = version == "2012-10-17"
    statements = tuple(
        _statement(item, i, spans[i] if i < len(spans) else None, variables) for i, item in enumerate(items)
    )
    policy_id = data.get("Id")
    return PolicyDocument(
        version=str(version) if version is not None else None,
        statements=statements,
        id=str(policy_id) if policy_id is not None else None,
    )


@functools.lru_cache(maxsize=2048)
def _parse_text(text: str) -> PolicyDocument:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PolicyParseError(f"the policy is not valid JSON: {exc}") from None
    if not isinstance(data, Mapping):
        raise PolicyParseError("a policy document must be a JSON object")
    return _from_mapping(data, statement_spans(text))


def parse_policy(document: PolicyInput) -> PolicyDocument:
    """Parse a policy (JSON text or dict); parsed text is cached, so re-parsing is cheap."""
    if isinstance(document, str):
        return _parse_text(document)
    if isinstance(document, Mapping):
        return _parse_text(json.dumps(document, indent=4))
    raise PolicyParseError(f"a policy must be JSON text or a dict, not {type(document).__name__}")


def statement_spans(text: str) -> list[tuple[Position, Position]]:
    """Start and end positions of each statement object in the policy text (empty if not found)."""
    scanner = _Scanner(text)
    try:
        return scanner.statement_spans()
    except (IndexError, ValueError):
        return []


class _Scanner:
    """A minimal JSON walker that only tracks where the Statement objects start and end."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def position(self, offset: int) -> Position:
        line = self.text.count("\n", 0, offset) + 1
        column = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        return Position(line, column)

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
            self.pos += 1

    def string(self) -> str:
        start = self.pos
        self.pos += 1
        while self.text[self.pos] != '"':
            self.pos += 2 if self.text[self.pos] == "\\" else 1
        self.pos += 1
        value = json.loads(self.text[start : self.pos])
        return str(value)

    def value(self) -> tuple[int, int]:
        """Skip one JSON value; returns its [start, end) offsets."""
        self.skip_ws()
        start = self.pos
        char = self.text[self.pos]
        if char == '"':
            self.string()
        elif char in "{[":
            closing = "}" if char == "{" else "]"
            self.pos += 1
            self.skip_ws()
            if self.text[self.pos] == closing:
                self.pos += 1
                return start, self.pos
            while True:
                if char == "{":
                    self.skip_ws()
                    self.string()
                    self.skip_ws()
                    self.pos += 1  # ':'
                self.value()
                self.skip_ws()
                sep = self.text[self.pos]
                self.pos += 1
                if sep == closing:
                    break
        else:
            while self.pos < len(self.text) and self.text[self.pos] not in ",}] \t\r\n":
                self.pos += 1
        return start, self.pos

    def statement_spans(self) -> list[tuple[Position, Position]]:
        self.skip_ws()
        if self.text[self.pos] != "{":
            return []
        self.pos += 1
        while True:
            self.skip_ws()
            if self.text[self.pos] == "}":
                return []
            key = self.string()
            self.skip_ws()
            self.pos += 1  # ':'
            self.skip_ws()
            if key == "Statement":
                return self._spans_of_statement_value()
            self.value()
            self.skip_ws()
            if self.text[self.pos] == ",":
                self.pos += 1

    def _spans_of_statement_value(self) -> list[tuple[Position, Position]]:
        if self.text[self.pos] == "{":
            start, end = self.value()
            return [(self.position(start), self.position(end))]
        if self.text[self.pos] != "[":
            return []
        self.pos += 1
        spans: list[tuple[Position, Position]] = []
        while True:
            self.skip_ws()
            if self.text[self.pos] == "]":
                return spans
            start, end = self.value()
            spans.append((self.position(start), self.position(end)))
            self.skip_ws()
            if self.text[self.pos] == ",":
                self.pos += 1
