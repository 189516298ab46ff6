"""Condition operators, IfExists, ForAllValues/ForAnyValue and missing keys (IAM User Guide semantics)."""

from __future__ import annotations

from typing import Any

import pytest

from labrunner.aws.policy import AccessRequest, evaluate, is_known_operator
from labrunner.aws.policy.conditions import ContextValue

RESOURCE = "arn:aws:s3:::bucket/key"


def allowed_with(condition: dict[str, Any], context: dict[str, ContextValue]) -> bool:
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": condition}],
    }
    return evaluate(AccessRequest("s3:GetObject", RESOURCE, context=context), [policy]).allowed


CASES = [
    # (id, condition, context, allowed?)
    ("string-equals-match", {"StringEquals": {"aws:username": "alice"}}, {"aws:username": "alice"}, True),
    ("string-equals-case-sensitive", {"StringEquals": {"aws:username": "Alice"}}, {"aws:username": "alice"}, False),
    (
        "string-equals-any-of-values",
        {"StringEquals": {"aws:username": ["bob", "alice"]}},
        {"aws:username": "alice"},
        True,
    ),
    ("string-equals-missing-key", {"StringEquals": {"aws:username": "alice"}}, {}, False),
    ("key-name-case-insensitive", {"StringEquals": {"AWS:UserName": "alice"}}, {"aws:username": "alice"}, True),
    ("string-not-equals-other", {"StringNotEquals": {"aws:username": "bob"}}, {"aws:username": "alice"}, True),
    (
        "string-not-equals-same",
        {"StringNotEquals": {"aws:username": ["bob", "alice"]}},
        {"aws:username": "alice"},
        False,
    ),
    ("string-not-equals-missing-key-is-true", {"StringNotEquals": {"aws:username": "bob"}}, {}, True),
    (
        "string-equals-ignore-case",
        {"StringEqualsIgnoreCase": {"aws:username": "ALICE"}},
        {"aws:username": "alice"},
        True,
    ),
    (
        "string-not-equals-ignore-case",
        {"StringNotEqualsIgnoreCase": {"aws:username": "ALICE"}},
        {"aws:username": "alice"},
        False,
    ),
    ("string-like-wildcard", {"StringLike": {"s3:prefix": "home/*"}}, {"s3:prefix": "home/alice/"}, True),
    ("string-like-question-mark", {"StringLike": {"s3:prefix": "v?"}}, {"s3:prefix": "v2"}, True),
    ("string-like-no-match", {"StringLike": {"s3:prefix": "home/*"}}, {"s3:prefix": "tmp/"}, False),
    ("string-not-like", {"StringNotLike": {"s3:prefix": "home/*"}}, {"s3:prefix": "tmp/"}, True),
    ("string-equals-if-exists-missing", {"StringEqualsIfExists": {"aws:username": "alice"}}, {}, True),
    (
        "string-equals-if-exists-present-mismatch",
        {"StringEqualsIfExists": {"aws:username": "alice"}},
        {"aws:username": "bob"},
        False,
    ),
    (
        "arn-like",
        {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::upload-*"}},
        {"aws:SourceArn": "arn:aws:s3:::upload-1"},
        True,
    ),
    (
        "arn-like-per-segment",
        {"ArnLike": {"aws:SourceArn": "arn:aws:sqs:*:123456789012:*"}},
        {"aws:SourceArn": "arn:aws:sqs:us-east-1:123456789012:q"},
        True,
    ),
    (
        "arn-like-other-account",
        {"ArnLike": {"aws:SourceArn": "arn:aws:sqs:*:123456789012:*"}},
        {"aws:SourceArn": "arn:aws:sqs:us-east-1:999999999999:q"},
        False,
    ),
    ("arn-equals", {"ArnEquals": {"aws:SourceArn": "arn:aws:s3:::b"}}, {"aws:SourceArn": "arn:aws:s3:::b"}, True),
    (
        "arn-not-equals",
        {"ArnNotEquals": {"aws:SourceArn": "arn:aws:s3:::b"}},
        {"aws:SourceArn": "arn:aws:s3:::c"},
        True,
    ),
    ("arn-not-like-missing-is-true", {"ArnNotLike": {"aws:SourceArn": "arn:aws:s3:::b"}}, {}, True),
    ("arn-malformed-context", {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"}}, {"aws:SourceArn": "not-an-arn"}, False),
    ("bool-true", {"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "true"}, True),
    ("bool-json-true", {"Bool": {"aws:SecureTransport": True}}, {"aws:SecureTransport": "true"}, True),
    ("bool-false-vs-true", {"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "false"}, False),
    ("bool-missing", {"Bool": {"aws:MultiFactorAuthPresent": "true"}}, {}, False),
    ("bool-if-exists-missing", {"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}}, {}, True),
    ("null-true-when-absent", {"Null": {"aws:TokenIssueTime": "true"}}, {}, True),
    (
        "null-true-when-present",
        {"Null": {"aws:TokenIssueTime": "true"}},
        {"aws:TokenIssueTime": "2026-01-01T00:00:00Z"},
        False,
    ),
    ("null-false-when-present", {"Null": {"aws:TokenIssueTime": "false"}}, {"aws:TokenIssueTime": "x"}, True),
    ("numeric-less-than", {"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "5"}, True),
    ("numeric-less-than-false", {"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, False),
    ("numeric-less-than-equals", {"NumericLessThanEquals": {"s3:max-keys": 10}}, {"s3:max-keys": "10"}, True),
    ("numeric-greater-than", {"NumericGreaterThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "11"}, True),
    ("numeric-equals", {"NumericEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10.0"}, True),
    ("numeric-not-equals", {"NumericNotEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, False),
    ("numeric-not-a-number", {"NumericEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "ten"}, False),
    (
        "date-less-than",
        {"DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}},
        {"aws:CurrentTime": "2026-11-26T13:00:00Z"},
        True,
    ),
    (
        "date-greater-than",
        {"DateGreaterThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}},
        {"aws:CurrentTime": "2026-11-26T13:00:00Z"},
        False,
    ),
    (
        "date-epoch-vs-iso",
        {"DateGreaterThanEquals": {"aws:EpochTime": "2026-01-01T00:00:00Z"}},
        {"aws:EpochTime": "1798000000"},
        True,
    ),
    ("ip-address-in-range", {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "10.1.2.3"}, True),
    ("not-ip-address", {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "192.168.1.1"}, True),
    (
        "for-any-value-one-matches",
        {"ForAnyValue:StringEquals": {"aws:TagKeys": ["env", "team"]}},
        {"aws:TagKeys": ["owner", "env"]},
        True,
    ),
    (
        "for-any-value-none-matches",
        {"ForAnyValue:StringEquals": {"aws:TagKeys": ["env"]}},
        {"aws:TagKeys": ["owner"]},
        False,
    ),
    ("for-any-value-missing-is-false", {"ForAnyValue:StringEquals": {"aws:TagKeys": ["env"]}}, {}, False),
    (
        "for-all-values-all-match",
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}},
        {"aws:TagKeys": ["env", "team"]},
        True,
    ),
    (
        "for-all-values-one-outside",
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["env"]}},
        {"aws:TagKeys": ["env", "owner"]},
        False,
    ),
    ("for-all-values-missing-is-true", {"ForAllValues:StringEquals": {"aws:TagKeys": ["env"]}}, {}, True),
    (
        "for-all-values-string-like",
        {"ForAllValues:StringLike": {"aws:TagKeys": ["team-*"]}},
        {"aws:TagKeys": ["team-a", "team-b"]},
        True,
    ),
    (
        "operators-are-anded",
        {"StringEquals": {"aws:username": "alice"}, "Bool": {"aws:SecureTransport": "true"}},
        {"aws:username": "alice", "aws:SecureTransport": "false"},
        False,
    ),
    (
        "keys-are-anded",
        {"StringEquals": {"aws:username": "alice", "aws:PrincipalAccount": "123456789012"}},
        {"aws:username": "alice", "aws:PrincipalAccount": "123456789012"},
        True,
    ),
    (
        "policy-variable-in-value",
        {"StringLike": {"s3:prefix": "home/${aws:username}/*"}},
        {"aws:username": "alice", "s3:prefix": "home/alice/docs"},
        True,
    ),
    (
        "policy-variable-other-user",
        {"StringLike": {"s3:prefix": "home/${aws:username}/*"}},
        {"aws:username": "bob", "s3:prefix": "home/alice/docs"},
        False,
    ),
    (
        "unknown-operator-never-matches",
        {"StringSortaEquals": {"aws:username": "alice"}},
        {"aws:username": "alice"},
        False,
    ),
    (
        "unknown-qualifier-never-matches",
        {"ForSomeValues:StringEquals": {"aws:username": "alice"}},
        {"aws:username": "alice"},
        False,
    ),
]


@pytest.mark.parametrize(
    ("condition", "context", "expected"),
    [pytest.param(c, ctx, e, id=i) for i, c, ctx, e in CASES],
)
def test_condition(condition: dict[str, Any], context: dict[str, ContextValue], expected: bool) -> None:
    assert allowed_with(condition, context) is expected


def test_missing_keys_are_reported() -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
            }
        ],
    }
    decision = evaluate(AccessRequest("s3:GetObject", RESOURCE), [policy])
    assert decision.decision == "implicitDeny"
    assert decision.missing_context_keys == ("aws:MultiFactorAuthPresent",)


def test_deny_with_if_exists_applies_when_key_absent() -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"StringNotEqualsIfExists": {"aws:RequestedRegion": "us-east-1"}},
            },
        ],
    }
    assert evaluate(AccessRequest("s3:GetObject", RESOURCE), [policy]).decision == "explicitDeny"
    in_region = AccessRequest("s3:GetObject", RESOURCE, context={"aws:RequestedRegion": "us-east-1"})
    assert evaluate(in_region, [policy]).allowed


@pytest.mark.parametrize(
    ("operator", "known"),
    [
        ("StringEquals", True),
        ("stringequals", True),
        ("ArnLikeIfExists", True),
        ("ForAllValues:StringLike", True),
        ("Null", True),
        ("NullIfExists", False),
        ("StringSortaEquals", False),
        ("ForSomeValues:StringEquals", False),
    ],
)
def test_known_operators(operator: str, known: bool) -> None:
    assert is_known_operator(operator) is known
