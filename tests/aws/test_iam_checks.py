"""labrunner.aws.iam: the least-privilege checks against IAM's documented evaluation logic.

Each case runs through both evaluators the checks can use: the pure client-side one and the local AWS's
iam:SimulateCustomPolicy (the API the checks use on AWS, with pagination), each against the expected status.
Both are labrunner's own evaluator underneath, so their agreeing would prove nothing: the evaluator itself is
checked against an independent one in tests/iam_differential.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import boto3
import pytest

from labrunner.aws.iam.checks import dynamodb_least_privilege_checks, sqs_least_privilege_checks, trust_policy_checks
from labrunner.aws.iam.evaluators import CustomPolicySimulator, Evaluator, StaticEvaluator, parse_simulation
from labrunner.aws.iam.lab_policies import lab_sqs_policy, lambda_only_trust_policy, same_document
from labrunner.aws.iam.resources import LabResources, probe_requests
from labrunner.aws.iam.roles import NamedPolicy
from labrunner.local.lifecycle import Endpoint
from labrunner.model import Check, status_of

RES = LabResources(
    account="123456789012", region="us-east-1", role_name="fn-role", table="meta", queue="events", function="fn"
)
TABLE = RES.table_arn()
QUEUE = RES.queue_arn()


def _policy(*statements: dict[str, Any], name: str = "P") -> NamedPolicy:
    return NamedPolicy(name, "role", {"Version": "2012-10-17", "Statement": list(statements)})


def _allow(action: Any, resource: Any = TABLE, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


SQS_OK = NamedPolicy("RetrieveSqsMessages", "role", lab_sqs_policy(QUEUE))

# (case, policies, expected status of the DynamoDB step, text the failing detail holds)
DYNAMODB_CASES: list[tuple[str, list[NamedPolicy], str, str]] = [
    ("exact", [_policy(_allow("dynamodb:PutItem"))], "pass", ""),
    ("action names are case-insensitive", [_policy(_allow("DynamoDB:putitem"))], "pass", ""),
    ("Put* also grants PutResourcePolicy", [_policy(_allow("dynamodb:Put*"))], "fail", "PutResourcePolicy"),
    ("Resource * reaches other tables", [_policy(_allow("dynamodb:PutItem", "*"))], "fail", "does not start with"),
    (
        "a wildcard broader than the table's name reaches other tables",
        [_policy(_allow("dynamodb:PutItem", "arn:aws:dynamodb:*:*:table/me*"))],
        "fail",
        "does not start with meta",
    ),
    ("the lab text's prefix wildcard", [_policy(_allow("dynamodb:PutItem", f"{TABLE}*"))], "pass", ""),
    (
        "Allow NotAction grants everything else",
        [_policy({"Effect": "Allow", "NotAction": "dynamodb:DeleteTable", "Resource": TABLE})],
        "fail",
        "BatchGetItem",
    ),
    (
        "Allow NotResource reaches other tables",
        [_policy({"Effect": "Allow", "Action": "dynamodb:PutItem", "NotResource": "arn:aws:dynamodb:*:*:table/x"})],
        "fail",
        "does not start with",
    ),
    (
        "an explicit Deny overrides the Allow",
        [
            _policy(
                _allow("dynamodb:*", "*"),
                {"Effect": "Deny", "NotAction": "dynamodb:PutItem", "Resource": "*"},
                {"Effect": "Deny", "Action": "*", "NotResource": TABLE},
            )
        ],
        "pass",
        "",
    ),
    (
        "a Deny of PutItem wins",
        [
            _policy(_allow("dynamodb:PutItem")),
            _policy({"Effect": "Deny", "Action": "dynamodb:PutItem", "Resource": "*"}, name="D"),
        ],
        "fail",
        "explicitly denied",
    ),
    ("GetItem instead of PutItem", [_policy(_allow("dynamodb:GetItem"))], "fail", "not allowed"),
    (
        "index access is another action",
        [_policy(_allow("dynamodb:PutItem"), _allow("dynamodb:Query", f"{TABLE}/index/*"))],
        "fail",
        "Query",
    ),
]


def _evaluators(server: Endpoint, session: boto3.Session) -> list[Callable[[Sequence[NamedPolicy]], Evaluator]]:
    iam = session.client("iam", endpoint_url=server.url, region_name="us-east-1")
    return [StaticEvaluator, lambda policies: CustomPolicySimulator(iam, policies)]


@pytest.mark.parametrize("case", DYNAMODB_CASES, ids=[c[0] for c in DYNAMODB_CASES])
def test_dynamodb_least_privilege(
    local_server: Endpoint, admin_session: boto3.Session, case: tuple[str, list[NamedPolicy], str, str]
) -> None:
    _name, policies, expected, needle = case
    for make in _evaluators(local_server, admin_session):
        checks = dynamodb_least_privilege_checks(make([*policies, SQS_OK]), RES)
        status = status_of(tuple(checks)).value
        assert status == expected, (make, [c for c in checks if not c.passed])
        failing = " ".join(c.detail for c in checks if not c.passed)
        assert needle in failing
        assert all(c.hint for c in checks if not c.passed)


# A table named as CloudFormation names it: <stack>-<LogicalId>-<RANDOM>.
CFN_RES = LabResources(
    account="123456789012",
    region="us-east-1",
    role_name="fn-role",
    table="immersion-ObjectMetadataTable-1KX6ZQ0RVPFZM",
    queue="events",
    function="fn",
)
LAB_TEXT_WILDCARD = "arn:aws:dynamodb:us-east-1:123456789012:table/immersion-ObjectMetadataTable*"


@pytest.mark.parametrize(
    "case",
    [
        # The lab text's policy: passes, with a note that the exact ARN is tighter.
        (LAB_TEXT_WILDCARD, ["immersion-ObjectMetadataTable-1KX6ZQ0RVPFZM", "orders"], "pass", "exact ARN"),
        # ... but not when another existing table matches the prefix: it is named.
        (LAB_TEXT_WILDCARD, ["immersion-ObjectMetadataTable-OLD0DEPLOY01"], "fail", "OLD0DEPLOY01"),
        # Broader wildcards cover tables of other names.
        ("arn:aws:dynamodb:us-east-1:123456789012:table/immersion-*", [], "fail", "does not start with"),
        ("arn:aws:dynamodb:us-east-1:123456789012:table/immersion-ObjectMetadataTab*", [], "fail", "does not start"),
        # The exact ARN: no note needed; another existing table is untouched.
        (CFN_RES.table_arn(), ["orders"], "pass", ""),
        # A statement for another existing table by its exact name fails, naming it.
        ("arn:aws:dynamodb:us-east-1:123456789012:table/orders", ["orders"], "fail", "existing table orders"),
    ],
)
def test_prefix_wildcard_of_the_lab_text(
    local_server: Endpoint, admin_session: boto3.Session, case: tuple[str, list[str], str, str]
) -> None:
    resource, existing, expected, needle = case
    sqs = NamedPolicy("RetrieveSqsMessages", "role", lab_sqs_policy(CFN_RES.queue_arn()))
    grants = [_allow("dynamodb:PutItem", CFN_RES.table_arn())] if resource.endswith("orders") else []
    policy = _policy(_allow("dynamodb:PutItem", resource), *grants)
    for make in _evaluators(local_server, admin_session):
        checks = dynamodb_least_privilege_checks(make([policy, sqs]), CFN_RES, existing)
        assert status_of(tuple(checks)).value == expected, (make, checks)
        text = " ".join(c.detail for c in checks if c.passed == (expected == "pass"))
        assert needle in text, checks
        if expected == "pass" and not needle:
            assert "tighter" not in text


def test_offending_statement_is_named(local_server: Endpoint, admin_session: boto3.Session) -> None:
    wide = _policy({"Sid": "Everything", **_allow("sqs:*", "*")}, name="Legacy")
    for make in _evaluators(local_server, admin_session):
        checks = sqs_least_privilege_checks(make([wide]), RES)
        failing = [c for c in checks if not c.passed]
        assert [c.name for c in failing] == ["no other sqs action", "nothing on other sqs resources"]
        assert "Sid 'Everything' (Allow sqs:* on *) of inline policy 'Legacy'" in failing[0].detail
        assert "edit the inline policy 'Legacy'" in failing[0].hint


def test_simulator_pages_through_many_results(local_server: Endpoint, admin_session: boto3.Session) -> None:
    iam = admin_session.client("iam", endpoint_url=local_server.url, region_name="us-east-1")
    actions = {a for service in ("dynamodb", "sqs", "logs") for a, _ in probe_requests(service, {})}
    requests = [(a, "*") for a in sorted(actions)]
    assert len(requests) > 100  # one page holds 100 results
    results = CustomPolicySimulator(iam, [_policy(_allow("dynamodb:*", "*"))]).evaluate(requests)
    assert len(results) == len(requests)
    assert results[("dynamodb:Scan", "*")].allowed and not results[("sqs:SendMessage", "*")].allowed


def test_parse_simulation_reads_both_response_shapes() -> None:
    statement = {"SourcePolicyId": "P", "SourcePolicyType": "role", "StartPosition": {"Line": 3, "Column": 5}}
    current = [
        {
            "EvalActionName": "dynamodb:PutItem",
            "EvalResourceName": "arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}",
            "EvalDecision": "implicitDeny",
            "ResourceSpecificResults": [
                {"EvalResourceName": "arn:t1", "EvalResourceDecision": "allowed", "MatchedStatements": [statement]},
                {"EvalResourceName": "arn:t2", "EvalResourceDecision": "implicitDeny"},
            ],
        }
    ]
    older = [{"EvalActionName": "sqs:SendMessage", "EvalResourceName": "arn:q", "EvalDecision": "explicitDeny"}]
    parsed = parse_simulation(current + older)
    assert parsed[("dynamodb:putitem", "arn:t1")].allowed
    assert parsed[("dynamodb:putitem", "arn:t1")].statements[0].line == 3
    assert parsed[("dynamodb:putitem", "arn:t2")].decision == "implicitDeny"
    assert parsed[("sqs:sendmessage", "arn:q")].decision == "explicitDeny"


LAMBDA = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}


def _trust(*extra: dict[str, Any], lambda_statement: bool = True) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": ([LAMBDA] if lambda_statement else []) + list(extra)}


def _assume(principal: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole", **extra}


TRUST_CASES: list[tuple[str, dict[str, Any], list[bool]]] = [
    # case, trust policy, [only Lambda may assume, Lambda may assume]
    ("lambda only", _trust(), [True, True]),
    ("another account's root", _trust(_assume({"AWS": "arn:aws:iam::536023900131:root"})), [False, True]),
    ("this account (12-digit id)", _trust(_assume({"AWS": "123456789012"})), [False, True]),
    ("everyone", _trust(_assume("*")), [False, True]),
    ("everyone as AWS *", _trust(_assume({"AWS": "*"})), [False, True]),
    ("a user", _trust(_assume({"AWS": "arn:aws:iam::123456789012:user/alice"})), [False, True]),
    ("a role", _trust(_assume({"AWS": "arn:aws:iam::123456789012:role/admin"})), [False, True]),
    ("another service", _trust(_assume({"Service": "ec2.amazonaws.com"})), [False, True]),
    (
        "web identity",
        _trust(
            {
                "Effect": "Allow",
                "Principal": {"Federated": "accounts.google.com"},
                "Action": "sts:AssumeRoleWithWebIdentity",
            }
        ),
        [False, True],
    ),
    (
        "NotPrincipal",
        _trust({"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::1:root"}, "Action": "sts:AssumeRole"}),
        [False, True],
    ),
    (
        "under a condition",
        _trust(
            _assume(
                {"AWS": "arn:aws:iam::536023900131:root"}, Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}
            )
        ),
        [False, True],
    ),
    (
        "an account, denied again",
        _trust(
            _assume({"AWS": "arn:aws:iam::536023900131:root"}),
            {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::536023900131:root"}, "Action": "sts:AssumeRole"},
        ),
        [True, True],
    ),
    ("nobody", _trust(lambda_statement=False), [True, False]),
]


@pytest.mark.parametrize(("case", "trust", "expected"), TRUST_CASES, ids=[c[0] for c in TRUST_CASES])
def test_trust_policy(case: str, trust: dict[str, Any], expected: list[bool]) -> None:
    checks: list[Check] = trust_policy_checks(trust, role="fn-role")
    assert [c.passed for c in checks] == expected
    assert all(c.hint for c in checks if not c.passed)


def test_lambda_only_trust_policy_removes_the_foreign_clause() -> None:
    original = _trust(
        _assume({"AWS": "arn:aws:iam::536023900131:root"}),
        _assume({"Service": ["lambda.amazonaws.com", "ec2.amazonaws.com"]}),
    )
    fixed = lambda_only_trust_policy(original)
    assert [s["Principal"] for s in fixed["Statement"]] == [{"Service": "lambda.amazonaws.com"}] * 2
    assert [c.passed for c in trust_policy_checks(fixed, role="r")] == [True, True]
    assert same_document(lambda_only_trust_policy(fixed), fixed)
    assert lambda_only_trust_policy(_trust(lambda_statement=False))["Statement"] == [LAMBDA]


def test_same_document_ignores_form() -> None:
    a = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["x:Y"], "Resource": "*"}]}
    b = {"Statement": [{"Resource": "*", "Action": "x:Y", "Effect": "Allow"}], "Version": "2012-10-17"}
    assert same_document(a, b)
    assert not same_document(a, {**b, "Statement": [{"Resource": "*", "Action": "x:Z", "Effect": "Allow"}]})
