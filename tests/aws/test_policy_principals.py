"""Principals: classifying them, and trust-policy questions the labs ask statically."""

from __future__ import annotations

import json
from typing import Any

import pytest

from labrunner.aws.policy import PolicyParseError, caller_from, parse_policy, trusted_principals, who_may

ACCOUNT = "123456789012"


def trust(principal: Any, *, condition: dict[str, Any] | None = None, effect: str = "Allow") -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": effect, "Principal": principal, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


@pytest.mark.parametrize(
    ("text", "kind", "account"),
    [
        pytest.param("123456789012", "root", ACCOUNT, id="bare-account-id"),
        pytest.param("arn:aws:iam::123456789012:root", "root", ACCOUNT, id="account-root-arn"),
        pytest.param("arn:aws:iam::123456789012:user/dev/alice", "user", ACCOUNT, id="user-with-path"),
        pytest.param("arn:aws:iam::123456789012:role/MetadataLambdaRole", "role", ACCOUNT, id="role"),
        pytest.param("arn:aws:sts::123456789012:assumed-role/R/fn", "assumed-role", ACCOUNT, id="assumed-role"),
        pytest.param("lambda.amazonaws.com", "service", None, id="service"),
        pytest.param("*", "anonymous", None, id="anyone"),
    ],
)
def test_caller_classification(text: str, kind: str, account: str | None) -> None:
    caller = caller_from(text)
    assert (caller.kind, caller.account) == (kind, account)


LAMBDA_ONLY = trust({"Service": "lambda.amazonaws.com"})
CANDIDATES = [
    "lambda.amazonaws.com",
    "ec2.amazonaws.com",
    "arn:aws:iam::123456789012:user/alice",
    "arn:aws:iam::123456789012:role/other",
    "arn:aws:sts::123456789012:assumed-role/other/session",
    "999999999999",
    "*",
]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        pytest.param(LAMBDA_ONLY, {"lambda.amazonaws.com"}, id="lambda-service-only"),
        pytest.param(trust("*"), set(CANDIDATES), id="star-trusts-everyone"),
        pytest.param(trust({"AWS": "*"}), set(CANDIDATES), id="aws-star-trusts-everyone"),
        pytest.param(
            trust({"AWS": ACCOUNT}),
            {
                "arn:aws:iam::123456789012:user/alice",
                "arn:aws:iam::123456789012:role/other",
                "arn:aws:sts::123456789012:assumed-role/other/session",
            },
            id="account-trusts-its-principals",
        ),
        pytest.param(
            trust({"AWS": "arn:aws:iam::123456789012:role/other"}),
            {"arn:aws:iam::123456789012:role/other", "arn:aws:sts::123456789012:assumed-role/other/session"},
            id="role-arn-covers-its-sessions",
        ),
        pytest.param(
            trust({"AWS": "arn:aws:iam::123456789012:user/alice", "Service": ["lambda.amazonaws.com"]}),
            {"arn:aws:iam::123456789012:user/alice", "lambda.amazonaws.com"},
            id="user-and-service",
        ),
    ],
)
def test_who_may_assume(policy: dict[str, Any], expected: set[str]) -> None:
    verdicts = who_may(policy, CANDIDATES)
    assert {v.principal for v in verdicts if v.trusted} == expected


def test_account_trust_needs_identity_allow() -> None:
    (verdict,) = who_may(trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}), ["arn:aws:iam::123456789012:user/alice"])
    assert verdict.trusted and verdict.needs_identity_allow
    (direct,) = who_may(
        trust({"AWS": "arn:aws:iam::123456789012:user/alice"}), ["arn:aws:iam::123456789012:user/alice"]
    )
    assert direct.trusted and not direct.needs_identity_allow


def test_deny_in_trust_policy() -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"},
            {
                "Sid": "NoAlice",
                "Effect": "Deny",
                "Principal": {"AWS": "arn:aws:iam::123456789012:user/alice"},
                "Action": "sts:AssumeRole",
            },
        ],
    }
    alice, bob = who_may(policy, ["arn:aws:iam::123456789012:user/alice", "arn:aws:iam::123456789012:user/bob"])
    assert not alice.trusted and alice.decision.explicit_deny
    assert alice.decision.matched_statements[0].sid == "NoAlice"
    assert bob.trusted


def test_not_principal_trusts_everyone_else() -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "NotPrincipal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    verdicts = {v.principal: v.trusted for v in who_may(policy, ["ec2.amazonaws.com", "lambda.amazonaws.com"])}
    assert verdicts == {"ec2.amazonaws.com": False, "lambda.amazonaws.com": True}


def test_conditions_in_trust_policy() -> None:
    policy = trust({"Service": "lambda.amazonaws.com"}, condition={"StringEquals": {"aws:SourceAccount": ACCOUNT}})
    (without,) = who_may(policy, ["lambda.amazonaws.com"])
    (with_source,) = who_may(policy, ["lambda.amazonaws.com"], context={"aws:SourceAccount": ACCOUNT})
    assert not without.trusted
    assert with_source.trusted


@pytest.mark.parametrize(
    ("policy", "kinds"),
    [
        pytest.param(LAMBDA_ONLY, [("service", "lambda.amazonaws.com")], id="lambda"),
        pytest.param(trust("*"), [("everyone", "*")], id="star"),
        pytest.param(
            trust({"AWS": ["123456789012", "arn:aws:iam::1:user/x"]}),
            [("account", "123456789012"), ("other", "arn:aws:iam::1:user/x")],
            id="account-and-malformed-user",
        ),
        pytest.param(
            trust({"AWS": ["arn:aws:iam::123456789012:root", "arn:aws:iam::123456789012:role/R"]}),
            [("account", "arn:aws:iam::123456789012:root"), ("role", "arn:aws:iam::123456789012:role/R")],
            id="root-and-role",
        ),
        pytest.param(trust({"Service": "lambda.amazonaws.com"}, effect="Deny"), [], id="deny-grants-nobody"),
    ],
)
def test_trusted_principals_listing(policy: dict[str, Any], kinds: list[tuple[str, str]]) -> None:
    assert [(p.kind, p.value) for p in trusted_principals(policy)] == kinds


def test_trusted_principals_point_at_their_statement() -> None:
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Lambda",
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                },
                {
                    "Sid": "Anyone",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
                },
            ],
        }
    )
    found = trusted_principals(policy)
    assert [(p.statement.sid, p.kind, p.conditional) for p in found] == [
        ("Lambda", "service", False),
        ("Anyone", "everyone", True),
    ]


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("not json", id="not-json"),
        pytest.param("[]", id="not-an-object"),
        pytest.param('{"Version": "2012-10-17"}', id="no-statement"),
        pytest.param('{"Statement": [{"Effect": "Maybe", "Action": "*"}]}', id="bad-effect"),
        pytest.param('{"Statement": [{"Effect": "Allow"}]}', id="no-action"),
        pytest.param(
            '{"Statement": [{"Effect": "Allow", "Action": "*", "NotAction": "s3:*"}]}', id="action-and-not-action"
        ),
        pytest.param('{"Statement": [{"Effect": "Allow", "Action": 3}]}', id="action-not-string"),
        pytest.param(
            '{"Statement": [{"Effect": "Allow", "Action": "*", "Principal": {"Robot": "x"}}]}', id="bad-principal"
        ),
    ],
)
def test_malformed_policies_are_rejected(bad: str) -> None:
    with pytest.raises(PolicyParseError):
        parse_policy(bad)
