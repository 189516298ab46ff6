"""The Condition element: operators, IfExists, ForAllValues/ForAnyValue, policy variables.

Semantics follow the IAM User Guide (reference_policies_elements_condition_operators,
reference_policies_multi-value-conditions): operators AND together, keys within an operator AND,
values of one key OR (NOR for negated operators); a key absent from the request context makes
a positive operator false and a negated one true, except for ...IfExists (true) and Null.
An operator IAM does not know makes the condition false (the statement does not apply).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from labrunner.aws.policy.document import ConditionClause
from labrunner.aws.policy.patterns import matches_wildcard

ContextValue = str | Sequence[str]


class RequestContext:
    """Condition keys of one request; key names are case-insensitive, values are lists of strings."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, ContextValue] | None = None) -> None:
        self._values: dict[str, tuple[str, ...]] = {}
        for key, value in (values or {}).items():
            self._values[key.lower()] = (value,) if isinstance(value, str) else tuple(value)

    def get(self, key: str) -> tuple[str, ...] | None:
        return self._values.get(key.lower())

    def __contains__(self, key: str) -> bool:
        return key.lower() in self._values

    def keys(self) -> Iterable[str]:
        return self._values.keys()


_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_SPECIAL_VARIABLES = {"*": "*", "?": "?", "$": "$"}


class MissingVariable(LookupError):
    """A `${key}` policy variable whose key is not in the request context."""


def substitute_variables(text: str, context: RequestContext) -> str:
    """Replace `${aws:username}`-style policy variables (with `${key, 'default'}` support)."""
    if "${" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1)
        if inner in _SPECIAL_VARIABLES:
            return _SPECIAL_VARIABLES[inner]
        key, _, default = inner.partition(",")
        values = context.get(key.strip())
        if values:
            return values[0]
        default = default.strip()
        if len(default) >= 2 and default[0] == default[-1] == "'":
            return default[1:-1]
        raise MissingVariable(key.strip())

    return _VARIABLE.sub(replace, text)


def _parse_number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _parse_date(value: str) -> float | None:
    text = value.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return float(text)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _compare(parse: Callable[[str], float | None], test: Callable[[float, float], bool]) -> Compare:
    def compare(context_value: str, policy_value: str) -> bool:
        left, right = parse(context_value), parse(policy_value)
        return left is not None and right is not None and test(left, right)

    return compare


def _arn_like(context_value: str, policy_value: str) -> bool:
    """ARN operators compare the six colon-separated parts one by one, each with wildcards."""
    actual = context_value.split(":", 5)
    wanted = policy_value.split(":", 5)
    if len(actual) != 6 or len(wanted) != 6:
        return False
    return all(matches_wildcard(w, a) for w, a in zip(wanted, actual, strict=True))


def _ip_match(context_value: str, policy_value: str) -> bool:
    try:
        return ipaddress.ip_address(context_value) in ipaddress.ip_network(policy_value, strict=False)
    except ValueError:
        return False


def _binary_equals(context_value: str, policy_value: str) -> bool:
    try:
        return base64.b64decode(context_value, validate=True) == base64.b64decode(policy_value, validate=True)
    except (binascii.Error, ValueError):
        return context_value == policy_value


def _bool_equals(context_value: str, policy_value: str) -> bool:
    return context_value.lower() == policy_value.lower()


Compare = Callable[[str, str], bool]

# base operator (lower case) -> (comparison, negated)
_OPERATORS: dict[str, tuple[Compare, bool]] = {
    "stringequals": (lambda c, p: c == p, False),
    "stringnotequals": (lambda c, p: c == p, True),
    "stringequalsignorecase": (lambda c, p: c.lower() == p.lower(), False),
    "stringnotequalsignorecase": (lambda c, p: c.lower() == p.lower(), True),
    "stringlike": (lambda c, p: matches_wildcard(p, c), False),
    "stringnotlike": (lambda c, p: matches_wildcard(p, c), True),
    "numericequals": (_compare(_parse_number, lambda a, b: a == b), False),
    "numericnotequals": (_compare(_parse_number, lambda a, b: a == b), True),
    "numericlessthan": (_compare(_parse_number, lambda a, b: a < b), False),
    "numericlessthanequals": (_compare(_parse_number, lambda a, b: a <= b), False),
    "numericgreaterthan": (_compare(_parse_number, lambda a, b: a > b), False),
    "numericgreaterthanequals": (_compare(_parse_number, lambda a, b: a >= b), False),
    "dateequals": (_compare(_parse_date, lambda a, b: a == b), False),
    "datenotequals": (_compare(_parse_date, lambda a, b: a == b), True),
    "datelessthan": (_compare(_parse_date, lambda a, b: a < b), False),
    "datelessthanequals": (_compare(_parse_date, lambda a, b: a <= b), False),
    "dategreaterthan": (_compare(_parse_date, lambda a, b: a > b), False),
    "dategreaterthanequals": (_compare(_parse_date, lambda a, b: a >= b), False),
    "bool": (_bool_equals, False),
    "binaryequals": (_binary_equals, False),
    "ipaddress": (_ip_match, False),
    "notipaddress": (_ip_match, True),
    "arnequals": (_arn_like, False),
    "arnlike": (_arn_like, False),
    "arnnotequals": (_arn_like, True),
    "arnnotlike": (_arn_like, True),
}


@dataclass(frozen=True)
class ConditionResult:
    """Whether a Condition block holds, and which keys it needed but the context lacked."""

    holds: bool
    missing_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParsedOperator:
    qualifier: str | None  # "forallvalues" | "foranyvalue" | None
    base: str  # lower case, without IfExists
    if_exists: bool


def parse_operator(operator: str) -> ParsedOperator:
    qualifier, sep, rest = operator.partition(":")
    if not sep:
        qualifier, rest = "", operator
    lowered = rest.lower()
    if_exists = lowered.endswith("ifexists")
    base = lowered[: -len("ifexists")] if if_exists else lowered
    return ParsedOperator(qualifier=qualifier.lower() or None, base=base, if_exists=if_exists)


def is_known_operator(operator: str) -> bool:
    parsed = parse_operator(operator)
    if parsed.qualifier not in (None, "forallvalues", "foranyvalue"):
        return False
    if parsed.base == "null":
        return not parsed.if_exists and parsed.qualifier is None
    return parsed.base in _OPERATORS


def _clause_holds(clause: ConditionClause, context: RequestContext) -> tuple[bool, bool]:
    """(holds, key_missing) for one operator/key pair."""
    parsed = parse_operator(clause.operator)
    actual = context.get(clause.key)
    present = actual is not None and len(actual) > 0
    if parsed.base == "null":
        if parsed.qualifier is not None or parsed.if_exists:
            return False, False
        wanted_absent = any(v.lower() == "true" for v in clause.values)
        return (not present) if wanted_absent else present, False
    found = _OPERATORS.get(parsed.base)
    if found is None or parsed.qualifier not in (None, "forallvalues", "foranyvalue"):
        return False, False
    compare, negated = found
    try:
        wanted = [substitute_variables(v, context) for v in clause.values]
    except MissingVariable:
        return False, True
    if parsed.qualifier == "forallvalues":
        if not present:
            return True, False
        assert actual is not None
        if negated:
            return all(not any(compare(a, w) for w in wanted) for a in actual), False
        return all(any(compare(a, w) for w in wanted) for a in actual), False
    if not present:
        if parsed.if_exists:
            return True, False
        if parsed.qualifier == "foranyvalue":
            return False, True
        return negated, True
    assert actual is not None
    if negated:
        if parsed.qualifier == "foranyvalue":
            return any(not any(compare(a, w) for w in wanted) for a in actual), False
        return not any(compare(a, w) for a in actual for w in wanted), False
    return any(compare(a, w) for a in actual for w in wanted), False


def evaluate_conditions(clauses: Sequence[ConditionClause], context: RequestContext) -> ConditionResult:
    """Evaluate a statement's Condition block against the request context."""
    holds = True
    missing: list[str] = []
    for clause in clauses:
        ok, key_missing = _clause_holds(clause, context)
        if key_missing and clause.key not in missing:
            missing.append(clause.key)
        if not ok:
            holds = False
    return ConditionResult(holds=holds, missing_keys=tuple(missing))
