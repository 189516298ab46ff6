"""The pure IAM evaluator against the documented evaluation logic (reference_policies_evaluation-logic)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from labrunner.aws.policy import AccessRequest, Policy, caller_from, evaluate, is_allowed

TABLE_A = "arn:aws:dynamodb:us-east-1:123456789012:table/A"
TABLE_B = "arn:aws:dynamodb:us-east-1:123456789012:table/B"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:uploads"
LOG_STREAM = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/fn:log-stream:2026/11/26/[$LATEST]abc"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


CASES = [
    # (id, statements, action, resource, expected decision)
    ("no-policy-implicit-deny", [], "dynamodb:PutItem", TABLE_A, "implicitDeny"),
    ("exact-action-and-resource", [allow("dynamodb:PutItem", TABLE_A)], "dynamodb:PutItem", TABLE_A, "allowed"),
    ("other-table-denied", [allow("dynamodb:PutItem", TABLE_A)], "dynamodb:PutItem", TABLE_B, "implicitDeny"),
    ("other-action-denied", [allow("dynamodb:GetItem", TABLE_A)], "dynamodb:PutItem", TABLE_A, "implicitDeny"),
    ("action-case-insensitive", [allow("DynamoDB:putitem", TABLE_A)], "dynamodb:PutItem", TABLE_A, "allowed"),
    ("request-action-case-insensitive", [allow("dynamodb:PutItem", TABLE_A)], "DYNAMODB:PUTITEM", TABLE_A, "allowed"),
    (
        "resource-case-sensitive",
        [allow("dynamodb:PutItem", TABLE_A.lower())],
        "dynamodb:PutItem",
        TABLE_A,
        "implicitDeny",
    ),
    ("action-prefix-wildcard", [allow("dynamodb:Put*", TABLE_A)], "dynamodb:PutItem", TABLE_A, "allowed"),
    (
        "action-prefix-wildcard-also-put-resource-policy",
        [allow("dynamodb:Put*", TABLE_A)],
        "dynamodb:PutResourcePolicy",
        TABLE_A,
        "allowed",
    ),
    ("action-question-mark", [allow("dynamodb:?etItem", TABLE_A)], "dynamodb:GetItem", TABLE_A, "allowed"),
    ("service-wildcard", [allow("dynamodb:*", "*")], "dynamodb:DeleteTable", TABLE_B, "allowed"),
    ("service-wildcard-not-other-service", [allow("dynamodb:*", "*")], "sqs:SendMessage", QUEUE, "implicitDeny"),
    ("star-action", [allow("*", "*")], "iam:CreateUser", "arn:aws:iam::123456789012:user/x", "allowed"),
    (
        "resource-wildcard-spans-slashes",
        [allow("dynamodb:*", "arn:aws:dynamodb:*:*:table/*")],
        "dynamodb:Query",
        TABLE_A + "/index/byDate",
        "allowed",
    ),
    ("resource-wildcard-spans-colons", [allow("logs:*", "arn:aws:logs:*")], "logs:PutLogEvents", LOG_STREAM, "allowed"),
    (
        "log-group-star-covers-stream",
        [allow("logs:PutLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/fn:*")],
        "logs:PutLogEvents",
        LOG_STREAM,
        "allowed",
    ),
    (
        "log-group-without-star-misses-stream",
        [allow("logs:PutLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/fn")],
        "logs:PutLogEvents",
        LOG_STREAM,
        "implicitDeny",
    ),
    ("resource-list", [allow("sqs:ReceiveMessage", [TABLE_A, QUEUE])], "sqs:ReceiveMessage", QUEUE, "allowed"),
    ("action-list", [allow(["sqs:ReceiveMessage", "sqs:DeleteMessage"], QUEUE)], "sqs:DeleteMessage", QUEUE, "allowed"),
    (
        "explicit-deny-beats-allow",
        [allow("*"), deny("dynamodb:PutItem", TABLE_A)],
        "dynamodb:PutItem",
        TABLE_A,
        "explicitDeny",
    ),
    (
        "deny-elsewhere-does-not-apply",
        [allow("*"), deny("dynamodb:PutItem", TABLE_B)],
        "dynamodb:PutItem",
        TABLE_A,
        "allowed",
    ),
    ("deny-alone-is-explicit", [deny("s3:*")], "s3:GetObject", "arn:aws:s3:::b/k", "explicitDeny"),
    (
        "not-action-allow-grants-everything-else",
        [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}],
        "dynamodb:PutItem",
        TABLE_A,
        "allowed",
    ),
    (
        "not-action-allow-excludes-listed",
        [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}],
        "iam:CreateUser",
        "*",
        "implicitDeny",
    ),
    (
        "not-action-deny-denies-everything-else",
        [allow("*"), {"Effect": "Deny", "NotAction": "s3:GetObject", "Resource": "*"}],
        "s3:PutObject",
        "arn:aws:s3:::b/k",
        "explicitDeny",
    ),
    (
        "not-action-deny-spares-listed",
        [allow("*"), {"Effect": "Deny", "NotAction": "s3:GetObject", "Resource": "*"}],
        "s3:GetObject",
        "arn:aws:s3:::b/k",
        "allowed",
    ),
    (
        "not-resource-allow-elsewhere",
        [{"Effect": "Allow", "Action": "dynamodb:*", "NotResource": TABLE_A}],
        "dynamodb:PutItem",
        TABLE_B,
        "allowed",
    ),
    (
        "not-resource-allow-excludes",
        [{"Effect": "Allow", "Action": "dynamodb:*", "NotResource": TABLE_A}],
        "dynamodb:PutItem",
        TABLE_A,
        "implicitDeny",
    ),
    (
        "not-resource-deny",
        [allow("*"), {"Effect": "Deny", "Action": "dynamodb:*", "NotResource": [TABLE_A]}],
        "dynamodb:PutItem",
        TABLE_B,
        "explicitDeny",
    ),
    (
        "request-star-resource-needs-star-pattern",
        [allow("dynamodb:PutItem", TABLE_A)],
        "dynamodb:PutItem",
        "*",
        "implicitDeny",
    ),
]


@pytest.mark.parametrize(
    ("statements", "action", "resource", "expected"),
    [pytest.param(s, a, r, e, id=i) for i, s, a, r, e in CASES],
)
def test_decision(statements: list[dict[str, Any]], action: str, resource: str, expected: str) -> None:
    decision = evaluate(AccessRequest(action, resource), [doc(*statements)] if statements else [])
    assert decision.decision == expected
    assert decision.allowed is (expected == "allowed")
    assert decision.explicit_deny is (expected == "explicitDeny")


def test_policy_as_json_text_and_single_statement_object() -> None:
    text = json.dumps({"Version": "2012-10-17", "Statement": allow("sqs:ReceiveMessage", QUEUE)})
    assert is_allowed([text], "sqs:receivemessage", QUEUE)


def test_matched_statement_names_policy_and_sid() -> None:
    identity = [
        Policy.of(doc(allow("dynamodb:*", "*")), name="Broad", type="role"),
        Policy.of(
            doc(allow("s3:*"), {"Sid": "NoPuts", **deny("dynamodb:PutItem", TABLE_A)}), name="Guard", type="role"
        ),
    ]
    decision = evaluate(AccessRequest("dynamodb:PutItem", TABLE_A), identity)
    assert decision.decision == "explicitDeny"
    assert decision.denied_by == "identity-based policy"
    (matched,) = decision.matched_statements
    assert (matched.policy_name, matched.index, matched.sid, matched.effect) == ("Guard", 1, "NoPuts", "Deny")
    assert matched.describe() == "Sid 'NoPuts' (Deny) of policy 'Guard'"


def test_allow_lists_every_allowing_statement() -> None:
    identity = [Policy.of(doc(allow("dynamodb:PutItem", TABLE_A), allow("dynamodb:*")), name="P")]
    decision = evaluate(AccessRequest("dynamodb:PutItem", TABLE_A), identity)
    assert [m.index for m in decision.matched_statements] == [0, 1]


def test_implicit_deny_has_no_matched_statements() -> None:
    decision = evaluate(AccessRequest("dynamodb:PutItem", TABLE_B), [doc(allow("dynamodb:PutItem", TABLE_A))])
    assert decision.matched_statements == ()
    assert decision.denied_by == "identity-based policy"


def test_statement_positions_from_text() -> None:
    text = (
        '{\n  "Version": "2012-10-17",\n  "Statement": [\n'
        '    {"Effect": "Allow", "Action": "*", "Resource": "*"}\n  ]\n}'
    )
    (matched,) = evaluate(AccessRequest("s3:GetObject", "*"), [text]).matched_statements
    assert matched.start is not None and matched.end is not None
    assert (matched.start.line, matched.start.column) == (4, 5)
    assert (matched.end.line, matched.end.column) == (4, 56)  # just past the closing brace


class TestBoundariesAndSessions:
    """A permissions boundary and a session policy limit, but never grant."""

    def test_boundary_must_also_allow(self) -> None:
        request = AccessRequest("dynamodb:PutItem", TABLE_A)
        decision = evaluate(request, [doc(allow("*"))], permissions_boundaries=[doc(allow("s3:*"))])
        assert decision.decision == "implicitDeny"
        assert decision.denied_by == "permissions boundary"

    def test_boundary_alone_grants_nothing(self) -> None:
        request = AccessRequest("s3:GetObject", "arn:aws:s3:::b/k")
        assert evaluate(request, [], permissions_boundaries=[doc(allow("s3:*"))]).decision == "implicitDeny"

    def test_session_policy_must_also_allow(self) -> None:
        request = AccessRequest("dynamodb:PutItem", TABLE_A)
        decision = evaluate(request, [doc(allow("*"))], session_policies=[doc(allow("dynamodb:GetItem"))])
        assert decision.denied_by == "session policy"
        assert evaluate(request, [doc(allow("*"))], session_policies=[doc(allow("dynamodb:*"))]).allowed

    def test_deny_in_session_policy_is_explicit(self) -> None:
        request = AccessRequest("dynamodb:PutItem", TABLE_A)
        decision = evaluate(request, [doc(allow("*"))], session_policies=[doc(allow("*"), deny("dynamodb:PutItem"))])
        assert decision.decision == "explicitDeny"
        assert decision.denied_by == "session policy"


class TestResourcePolicies:
    """Same account: either policy may allow; cross account: both must."""

    BUCKET_POLICY = doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:user/alice"},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/*",
        }
    )

    def test_same_account_resource_policy_alone_allows(self) -> None:
        request = AccessRequest("s3:GetObject", "arn:aws:s3:::b/k", caller_from("arn:aws:iam::123456789012:user/alice"))
        assert evaluate(request, [], resource_policy=self.BUCKET_POLICY, resource_account="123456789012").allowed

    def test_other_principal_not_covered(self) -> None:
        request = AccessRequest("s3:GetObject", "arn:aws:s3:::b/k", caller_from("arn:aws:iam::123456789012:user/bob"))
        assert not evaluate(request, [], resource_policy=self.BUCKET_POLICY, resource_account="123456789012").allowed

    def test_cross_account_needs_both(self) -> None:
        policy = doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": "111122223333"},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::b/*",
            }
        )
        request = AccessRequest("s3:GetObject", "arn:aws:s3:::b/k", caller_from("arn:aws:iam::111122223333:user/carol"))
        assert not evaluate(request, [], resource_policy=policy, resource_account="123456789012").allowed
        decision = evaluate(
            request, [doc(allow("s3:GetObject"))], resource_policy=policy, resource_account="123456789012"
        )
        assert decision.allowed
        alone = evaluate(request, [doc(allow("s3:GetObject"))], resource_account="123456789012")
        assert alone.denied_by == "resource-based policy"

    def test_account_principal_delegates_to_identity_policies(self) -> None:
        policy = doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "sqs:*",
                "Resource": QUEUE,
            }
        )
        request = AccessRequest("sqs:SendMessage", QUEUE, caller_from("arn:aws:iam::123456789012:user/alice"))
        assert not evaluate(request, [], resource_policy=policy, resource_account="123456789012").allowed
        assert evaluate(request, [doc(allow("sqs:SendMessage"))], resource_policy=policy).allowed

    def test_resource_policy_deny_wins(self) -> None:
        policy = doc({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"})
        request = AccessRequest("s3:GetObject", "arn:aws:s3:::b/k", caller_from("arn:aws:iam::123456789012:user/a"))
        decision = evaluate(request, [doc(allow("*"))], resource_policy=policy)
        assert decision.decision == "explicitDeny"
        assert decision.denied_by == "resource-based policy"


def test_policy_variables_in_resource() -> None:
    policy = doc(allow("s3:GetObject", "arn:aws:s3:::home/${aws:username}/*"))
    own = AccessRequest("s3:GetObject", "arn:aws:s3:::home/alice/notes.txt", context={"aws:username": "alice"})
    other = AccessRequest("s3:GetObject", "arn:aws:s3:::home/bob/notes.txt", context={"aws:username": "alice"})
    unknown = AccessRequest("s3:GetObject", "arn:aws:s3:::home/alice/notes.txt")
    assert evaluate(own, [policy]).allowed
    assert not evaluate(other, [policy]).allowed
    assert not evaluate(unknown, [policy]).allowed
