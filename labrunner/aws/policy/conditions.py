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
from labrunner.aws.policy.patterns import LITERAL_QUESTION, LITERAL_STAR, literal_text, matches_wildcard

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
# "IAM policy elements: Variables and tags", special characters: ${*}, ${?} and ${$} stand for the
# characters themselves (a literal `*` or `?` is kept apart from a wildcard, see patterns.LITERAL_STAR).
_SPECIAL_VARIABLES = {"*": LITERAL_STAR, "?": LITERAL_QUESTION, "$": "$"}

# Multivalued context keys ("Single-valued vs. multivalued context keys"): a list of values even when the
# request carries one. "Variables and tags": a multivalued key cannot be used as a policy variable.
MULTIVALUED_KEYS = frozenset(
    k.lower()
    for k in (
        "aws:TagKeys",
        "aws:CalledVia",
        "aws:PrincipalServiceNamesList",
        "aws:PrincipalOrgPaths",
        "aws:ResourceOrgPaths",
        "aws:SourceOrgPaths",
        "dynamodb:Attributes",
        "dynamodb:LeadingKeys",
    )
)


class MissingVariable(LookupError):
    """A `${key}` policy variable without a value: its key is absent or multivalued, and no default."""


def is_multivalued(key: str, values: tuple[str, ...] | None) -> bool:
    return key.lower() in MULTIVALUED_KEYS or (values is not None and len(values) > 1)


def substitute_variables(text: str, context: RequestContext) -> str:
    """Replace `${aws:username}`-style policy variables (with `${key, 'default'}` support).

    Raises MissingVariable when a variable has no value: "IAM policy elements: Variables and tags"
    (Policy variables with no value) says such a value is effectively null and matches nothing.
    """
    if "${" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1)
        if inner in _SPECIAL_VARIABLES:
            return _SPECIAL_VARIABLES[inner]
        key, _, default = inner.partition(",")
        key = key.strip()
        values = context.get(key)
        if values and not is_multivalued(key, values):
            return values[0]
        default = default.strip()
        if len(default) >= 2 and default[0] == default[-1] == "'":
            return default[1:-1]
        raise MissingVariable(key)

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


# Operators whose policy values are wildcard patterns (a literal ${*} must stay apart from `*`).
_PATTERN_OPERATORS = frozenset({"stringlike", "stringnotlike", "arnequals", "arnlike", "arnnotequals", "arnnotlike"})


def _null_holds(clause: ConditionClause, present: bool) -> bool:
    """Null: "true" holds when the key is absent, "false" when present; values OR together, so a
    clause listing both always holds ("IAM JSON policy elements: Condition operators", Null)."""
    wanted = {v.lower() for v in clause.values}
    return ("true" in wanted and not present) or ("false" in wanted and present)


def _clause_holds(clause: ConditionClause, context: RequestContext, variables: bool) -> tuple[bool | None, bool]:
    """(holds, key_missing) for one operator/key pair; holds is None when AWS's outcome is undocumented."""
    parsed = parse_operator(clause.operator)
    actual = context.get(clause.key)
    present = actual is not None and len(actual) > 0
    if parsed.base == "null":
        if parsed.qualifier is not None or parsed.if_exists:
            return False, False
        return _null_holds(clause, present), False
    found = _OPERATORS.get(parsed.base)
    if found is None or parsed.qualifier not in (None, "forallvalues", "foranyvalue"):
        return False, False
    compare, negated = found
    wanted: list[str] = []
    variable_missing = False
    # "Variables and tags" (Where you can use policy variables): only string and ARN operators take them.
    variables = variables and parsed.base.startswith(("string", "arn"))
    for value in clause.values:
        if not variables:
            wanted.append(value)
            continue
        try:
            wanted.append(substitute_variables(value, context))
        except MissingVariable:
            # "Variables and tags" (Policy variables with no value): a value whose variable has no value
            # is null; it equals and is like nothing, so the negated operators hold against it.
            variable_missing = True
    if parsed.base not in _PATTERN_OPERATORS:
        wanted = [literal_text(w) for w in wanted]
    if parsed.qualifier == "forallvalues":
        if not present:
            return True, False
        assert actual is not None
        if negated:
            return all(not any(compare(a, w) for w in wanted) for a in actual), variable_missing
        return all(any(compare(a, w) for w in wanted) for a in actual), variable_missing
    if not present:
        if parsed.if_exists:
            return True, False
        if parsed.qualifier == "foranyvalue":
            return False, True
        return negated, True
    assert actual is not None
    if parsed.qualifier is None and is_multivalued(clause.key, actual):
        # A multivalued key under a single-valued operator: AWS does not document the outcome
        # ("Single-valued vs. multivalued context keys" only says to use ForAllValues/ForAnyValue), and
        # iam-simulate never matches (citing an AWS talk). We answer "unknown" and let the statement's
        # effect decide the strict way: such a condition never lets an Allow apply, always lets a Deny
        # apply, so the local AWS is never more lenient than AWS could be (SPEC: local stricter).
        return None, variable_missing
    if negated:
        if parsed.qualifier == "foranyvalue":
            return any(not any(compare(a, w) for w in wanted) for a in actual), variable_missing
        return not any(compare(a, w) for a in actual for w in wanted), variable_missing
    return any(compare(a, w) for a in actual for w in wanted), variable_missing


def evaluate_conditions(
    clauses: Sequence[ConditionClause],
    context: RequestContext,
    *,
    variables: bool = True,
    effect: str = "Allow",
) -> ConditionResult:
    """Evaluate a statement's Condition block against the request context.

    `variables`: substitute policy variables (only documents of Version 2012-10-17 have them);
    `effect`: the statement's Effect, which settles a clause whose outcome AWS leaves undocumented.
    """
    holds = True
    missing: list[str] = []
    for clause in clauses:
        ok, key_missing = _clause_holds(clause, context, variables)
        if key_missing and clause.key not in missing:
            missing.append(clause.key)
        if ok is None:
            ok = effect == "Deny"
        if not ok:
            holds = False
    return ConditionResult(holds=holds, missing_keys=tuple(missing))
