"""THE list of known disagreements between labrunner's IAM evaluator and @cloud-copilot/iam-simulate.

Each entry names the case shape, what each side decides, and which side AWS's IAM User Guide takes (page
title). A disagreement the differential test meets must match an entry here — shape AND both decisions — or
the test fails. Pages are under docs.aws.amazon.com/IAM/latest/UserGuide/.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from labrunner.aws.policy.conditions import MULTIVALUED_KEYS

Case = dict[str, Any]
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_NEGATED = re.compile(r"^(?:for(?:any|all)values?:)?(?:stringnot|arnnot)", re.IGNORECASE)


@dataclass(frozen=True)
class Disagreement:
    name: str
    shape: str
    labrunner: frozenset[str]  # labrunner's decision(s) in this shape
    iam_simulate: frozenset[str]  # iam-simulate's decision(s) in this shape
    documentation: str  # which side the documentation takes, and the page
    applies: Callable[[Case], bool]


def _statements(case: Case) -> Iterator[dict[str, Any]]:
    documents = list(case.get("identity", []))
    documents += [case[k] for k in ("boundary", "session", "resourcePolicy") if k in case]
    for document in documents:
        statements = document["Statement"]
        yield from statements if isinstance(statements, list) else [statements]


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _resources(case: Case) -> Iterator[str]:
    for statement in _statements(case):
        for field in ("Resource", "NotResource"):
            if field in statement:
                yield from _listed(statement[field])


def _has_value(case: Case, key: str) -> bool:
    values = {k.lower(): v for k, v in case["context"].items()}.get(key.lower())
    if values is None or key.lower() in MULTIVALUED_KEYS:
        return False
    return isinstance(values, str) or len(values) == 1


def _valueless_variables(text: str, case: Case) -> bool:
    return any(
        "," not in inner and inner not in "*?$" and not _has_value(case, inner.strip())
        for inner in _VARIABLE.findall(text)
    )


def _negated_with_valueless_variable(case: Case) -> bool:
    for statement in _statements(case):
        for operator, block in statement.get("Condition", {}).items():
            if _NEGATED.match(operator) and any(
                _valueless_variables(v, case) for values in block.values() for v in _listed(values)
            ):
                return True
    return False


def _multivalued_under_single_operator(case: Case) -> bool:
    for statement in _statements(case):
        if statement["Effect"] != "Deny":
            continue
        for operator, block in statement.get("Condition", {}).items():
            if ":" not in operator and any(k.lower() in MULTIVALUED_KEYS and k in case["context"] for k in block):
                return True
    return False


def _default_value_variable(case: Case) -> bool:
    return any("," in inner for text in _resources(case) for inner in _VARIABLE.findall(text))


def _valueless_variable_in_resource(case: Case) -> bool:
    return any(_valueless_variables(text, case) for text in _resources(case))


def _variable_with_colon_in_sqs_or_logs_arn(case: Case) -> bool:
    return any(
        text.startswith(("arn:aws:sqs:", "arn:aws:logs:")) and "${aws:" in text.split(":", 5)[-1]
        for text in _resources(case)
    )


def _session_or_everyone_grant_under_session_policy(case: Case) -> bool:
    if "session" not in case or "resourcePolicy" not in case or ":assumed-role/" not in case["principal"]:
        return False
    for statement in case["resourcePolicy"]["Statement"]:
        principal = statement.get("Principal")
        aws = _listed(principal.get("AWS", [])) if isinstance(principal, dict) else [principal]
        if statement["Effect"] == "Allow" and ("*" in aws or case["principal"] in aws):
            return True
    return False


def _wildcard_in_resource_type(case: Case) -> bool:
    return any(
        text.startswith("arn:") and any(c in text.split(":", 6)[5:6][0] for c in "*?")
        for text in _resources(case)
        if text.count(":") >= 6
    )


_NOT_ALLOWED = frozenset({"implicitDeny", "explicitDeny"})

KNOWN: tuple[Disagreement, ...] = (
    Disagreement(
        name="negated operator vs a variable without value",
        shape="StringNotEquals/StringNotLike/ArnNotLike (…IfExists) whose value is ${key} with key absent",
        labrunner=frozenset({"allowed", "explicitDeny"}),  # the clause holds: its Allow or Deny applies
        iam_simulate=frozenset({"implicitDeny", "allowed"}),
        documentation='labrunner: "IAM policy elements: Variables and tags" (Policy variables with no value): '
        "the null value equals nothing, so negated operators evaluate to true",
        applies=_negated_with_valueless_variable,
    ),
    Disagreement(
        name="multivalued key under a single-valued operator in a Deny",
        shape="Deny with StringEquals (no ForAnyValue/ForAllValues) on aws:TagKeys present in the request",
        labrunner=frozenset({"explicitDeny"}),
        iam_simulate=frozenset({"implicitDeny", "allowed"}),
        documentation='undocumented ("Single-valued vs. multivalued context keys" only prescribes the set '
        "operators); labrunner settles it strictly (a Deny applies), iam-simulate never matches",
        applies=_multivalued_under_single_operator,
    ),
    Disagreement(
        name="variable with a default value",
        shape="Resource/NotResource with ${aws:username, 'blue'} (key absent or present)",
        labrunner=frozenset({"allowed", "explicitDeny", "implicitDeny"}),
        iam_simulate=frozenset({"allowed", "explicitDeny", "implicitDeny"}),
        documentation='labrunner: "IAM policy elements: Variables and tags" (Specifying default values): '
        "the default replaces a variable whose key is absent; iam-simulate does not read the default",
        applies=_default_value_variable,
    ),
    Disagreement(
        name="NotResource/Resource with a variable without value",
        shape="NotResource (or Resource) whose pattern holds ${aws:username} for a role session (no username)",
        labrunner=frozenset({"allowed", "explicitDeny"}),  # NotResource excludes nothing: the statement applies
        iam_simulate=frozenset({"implicitDeny", "allowed"}),
        documentation='labrunner: "IAM policy elements: Variables and tags" (Policy variables with no value): '
        "such a pattern matches no resource",
        applies=_valueless_variable_in_resource,
    ),
    Disagreement(
        name="policy variable (with its colon) in an SQS or Logs ARN",
        shape="Resource arn:aws:sqs:…:${aws:username}-* or …:log-group:/aws/lambda/${aws:PrincipalTag/team}:…",
        labrunner=frozenset({"allowed", "explicitDeny", "implicitDeny"}),
        iam_simulate=frozenset({"allowed", "explicitDeny", "implicitDeny"}),
        documentation='labrunner: "IAM JSON policy elements: Resource" and "Variables and tags": a variable may '
        "appear anywhere after the fifth colon; iam-simulate splits the variable's own colon as an ARN part",
        applies=_variable_with_colon_in_sqs_or_logs_arn,
    ),
    Disagreement(
        name="wildcard in the resource-type part of an ARN",
        shape="Resource arn:aws:logs:…:log-g?oup:/aws/lambda/f?:log-stream:s1",
        labrunner=frozenset({"allowed", "explicitDeny", "implicitDeny"}),
        iam_simulate=frozenset({"allowed", "explicitDeny", "implicitDeny"}),
        documentation='labrunner: "IAM JSON policy elements: Resource": wildcards (* and ?) may be used in any '
        "ARN segment, the resource type included; iam-simulate matches the resource type literally",
        applies=_wildcard_in_resource_type,
    ),
    Disagreement(
        name="resource-policy grant to the session ARN or * under a session policy",
        shape="role session with a session policy that does not allow; resource policy allows the session ARN or *",
        labrunner=frozenset({"allowed"}),
        iam_simulate=_NOT_ALLOWED,
        documentation='labrunner: "Policy evaluation logic" (session policies): a resource policy naming the '
        "session ARN (or everyone) grants after the session exists and is not limited by the session policy",
        applies=_session_or_everyone_grant_under_session_policy,
    ),
)


def explain(case: Case, labrunner: str, iam_simulate: str) -> Disagreement | None:
    """The known disagreement that covers this case and both decisions, if any."""
    for entry in KNOWN:
        if labrunner in entry.labrunner and iam_simulate in entry.iam_simulate and entry.applies(case):
            return entry
    return None
