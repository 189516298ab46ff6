"""Deterministic generator of IAM policy/request cases for the differential test (issue 13).

Each case is plain JSON, the input of driver.js (iam-simulate) and of labrunner's evaluator alike: a principal,
an action on one concrete resource (DynamoDB, SQS, CloudWatch Logs, S3), a request context, identity
policies, and maybe a permissions boundary, a session policy and a resource policy.
"""

from __future__ import annotations

import random
from typing import Any

A = "111111111111"  # the caller's account
B = "222222222222"  # another account (cross-account resources)
USER = f"arn:aws:iam::{A}:user/alice"
ROLE = f"arn:aws:iam::{A}:role/app"
SESSION = f"arn:aws:sts::{A}:assumed-role/app/worker"

Case = dict[str, Any]

# service -> (actions, resource ARN builder(account, name) -> ARN, resource names); resource policies?
_SERVICES: dict[str, tuple[list[str], Any, list[str], bool]] = {
    "dynamodb": (
        ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteTable", "dynamodb:PutResourcePolicy"],
        lambda account, name: f"arn:aws:dynamodb:us-east-1:{account}:table/{name}",
        ["meta", "meta-other", "alice-data", "blue"],
        True,
    ),
    "sqs": (
        ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:PurgeQueue", "sqs:TagQueue"],
        lambda account, name: f"arn:aws:sqs:us-east-1:{account}:{name}",
        ["events", "events-dlq", "alice-q", "blue"],
        True,
    ),
    "logs": (
        ["logs:PutLogEvents", "logs:GetLogEvents"],
        lambda account, name: f"arn:aws:logs:us-east-1:{account}:log-group:/aws/lambda/{name}:log-stream:s1",
        ["fn", "other", "alice", "blue"],
        False,
    ),
    "s3": (
        ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
        lambda _account, name: f"arn:aws:s3:::{name}/reports/q1.csv",
        ["lab-bucket", "lab-bucket-logs", "alice-home", "blue"],
        True,
    ),
}

_ACTION_PATTERNS = {
    "dynamodb": ["dynamodb:*", "dynamodb:Put*", "dynamodb:*Item", "dynamodb:?etItem", "DynamoDB:putitem"],
    "sqs": ["sqs:*", "sqs:Send*", "sqs:*Message", "sqs:Send?essage", "SQS:sendmessage"],
    "logs": ["logs:*", "logs:Put*", "logs:*LogEvents", "logs:?utLogEvents"],
    "s3": ["s3:*", "s3:Get*", "s3:*Object", "s3:?etObject", "S3:getobject"],
}


def _resource_patterns(service: str, account: str) -> list[str]:
    arn = _SERVICES[service][1]
    return [
        "*",
        arn(account, "events" if service == "sqs" else _SERVICES[service][2][0]),
        arn(account, _SERVICES[service][2][0]).replace(_SERVICES[service][2][0], _SERVICES[service][2][0] + "*"),
        arn("*", _SERVICES[service][2][0]).replace("us-east-1", "*"),
        arn(account, "${aws:username}-*") if service != "logs" else arn(account, "${aws:username}"),
        arn(account, "${aws:PrincipalTag/team}"),
        arn(account, "${aws:username, 'blue'}"),
        f"arn:aws:{service}:*:*:*" if service != "s3" else "arn:aws:s3:::*/*",
        # a wildcard in the resource-type part of the ARN
        arn(account, "f?").replace(":log-group:", ":log-g?oup:") if service == "logs" else arn(account, "*"),
    ]


# (operator base, key, candidate policy values, candidate context values)
_CONDITIONS: list[tuple[str, str, list[str], list[Any]]] = [
    ("StringEquals", "aws:PrincipalTag/team", ["blue", "red", "${aws:username}"], ["blue", "red", "alice"]),
    ("StringNotEquals", "aws:PrincipalTag/team", ["blue", "${aws:PrincipalTag/dept}"], ["blue", "red"]),
    ("StringLike", "aws:PrincipalTag/team", ["b*", "r?d", "${aws:username}*"], ["blue", "red", "alice-x"]),
    ("StringNotLike", "aws:PrincipalTag/team", ["b*", "${aws:PrincipalTag/dept}"], ["blue", "red"]),
    ("StringEqualsIgnoreCase", "aws:PrincipalTag/team", ["BLUE"], ["blue", "Red"]),
    ("StringNotEqualsIgnoreCase", "aws:PrincipalTag/team", ["BLUE"], ["blue", "Red"]),
    ("IpAddress", "aws:SourceIp", ["10.0.0.0/8", "203.0.113.0/24"], ["10.1.2.3", "198.51.100.7", "2001:db8::1"]),
    ("NotIpAddress", "aws:SourceIp", ["10.0.0.0/8"], ["10.1.2.3", "198.51.100.7", "2001:db8::1"]),
    ("DateLessThan", "aws:CurrentTime", ["2030-01-01T00:00:00Z"], ["2026-12-04T12:00:00Z", "2031-01-01T00:00:00Z"]),
    ("DateGreaterThan", "aws:CurrentTime", ["2025-01-01T00:00:00Z"], ["2026-12-04T12:00:00Z", "2024-01-01T00:00:00Z"]),
    ("NumericLessThan", "aws:MultiFactorAuthAge", ["3600"], ["60", "7200"]),
    ("NumericGreaterThanEquals", "aws:MultiFactorAuthAge", ["3600"], ["60", "7200"]),
    ("Bool", "aws:SecureTransport", ["true", "false"], ["true", "false"]),
    ("Bool", "aws:MultiFactorAuthPresent", ["true"], ["true", "false"]),
    ("ArnLike", "aws:PrincipalArn", [f"arn:aws:iam::{A}:role/*", "arn:aws:iam::*:user/alice"], None),
    ("ArnNotLike", "aws:PrincipalArn", [f"arn:aws:iam::{A}:role/*"], None),
    ("ArnEquals", "aws:PrincipalArn", [ROLE, USER], None),
    ("Null", "aws:PrincipalTag/team", ["true", "false"], ["blue"]),
    ("Null", "aws:TokenIssueTime", ["true", "false"], ["2026-12-04T11:00:00Z"]),
    ("StringEquals", "aws:PrincipalAccount", [A, B], None),
    ("StringEquals", "aws:TagKeys", ["team", "cost"], [["team"], ["team", "cost"], ["env"]]),
]
_SET_KEYS = ("aws:TagKeys",)


def _condition(rng: random.Random) -> dict[str, Any]:
    base, key, values, _ = rng.choice(_CONDITIONS)
    operator = base
    if key in _SET_KEYS and rng.random() < 0.7:
        operator = rng.choice(["ForAnyValue:", "ForAllValues:"]) + rng.choice(
            ["StringEquals", "StringNotEquals", "StringLike"]
        )
    if base != "Null" and rng.random() < 0.3:
        operator += "IfExists"
    chosen = rng.sample(values, k=rng.randint(1, min(2, len(values))))
    return {operator: {key: chosen if len(chosen) > 1 else chosen[0]}}


def _context(rng: random.Random, principal: str) -> dict[str, Any]:
    context: dict[str, Any] = {"aws:PrincipalAccount": A}
    context["aws:PrincipalArn"] = USER if principal == USER else ROLE
    if principal == USER:
        context["aws:username"] = "alice"
    else:
        context["aws:TokenIssueTime"] = "2026-12-04T11:00:00Z"
    for _base, key, _values, candidates in _CONDITIONS:
        if candidates is None or key in context or rng.random() < 0.4:
            continue
        context[key] = rng.choice(candidates)
    if rng.random() < 0.3:
        context["aws:PrincipalTag/dept"] = rng.choice(["blue", "ops"])
    return context


def _statement(rng: random.Random, service: str, account: str, *, deny_rate: float = 0.25) -> dict[str, Any]:
    actions = _SERVICES[service][0]
    statement: dict[str, Any] = {"Effect": "Deny" if rng.random() < deny_rate else "Allow"}
    action_pool = actions + _ACTION_PATTERNS[service] + ["*"]
    picked = rng.sample(action_pool, k=rng.randint(1, 2))
    statement["NotAction" if rng.random() < 0.15 else "Action"] = picked if len(picked) > 1 else picked[0]
    resources = rng.sample(_resource_patterns(service, account), k=rng.randint(1, 2))
    statement["NotResource" if rng.random() < 0.15 else "Resource"] = resources if len(resources) > 1 else resources[0]
    if rng.random() < 0.45:
        condition: dict[str, Any] = {}
        for _ in range(rng.randint(1, 2)):
            for operator, block in _condition(rng).items():
                condition.setdefault(operator, {}).update(block)
        statement["Condition"] = condition
    return statement


def _document(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements}


def _resource_policy(rng: random.Random, service: str, account: str) -> dict[str, Any]:
    principals: list[Any] = [
        "*",
        {"AWS": USER},
        {"AWS": ROLE},
        {"AWS": ROLE},
        {"AWS": SESSION},
        {"AWS": SESSION},
        {"AWS": A},
        {"AWS": f"arn:aws:iam::{A}:root"},
    ]
    statements = []
    for _ in range(rng.randint(1, 2)):
        statement = _statement(rng, service, account, deny_rate=0.3)
        if statement["Effect"] == "Deny" and rng.random() < 0.3:
            statement["NotPrincipal"] = {"AWS": rng.choice([USER, ROLE, SESSION])}
        else:
            statement["Principal"] = rng.choice(principals)
        statements.append(statement)
    return _document(statements)


def generate(count: int, seed: int = 13) -> list[Case]:
    """`count` cases, the same ones for the same seed."""
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        service = rng.choice(sorted(_SERVICES))
        actions, arn, names, has_resource_policy = _SERVICES[service]
        principal = rng.choice([USER, SESSION])
        account = B if has_resource_policy and rng.random() < 0.15 else A
        case: Case = {
            "principal": principal,
            "action": rng.choice(actions),
            "resource": arn(account, rng.choice(names)),
            "resourceAccount": account,
            "context": _context(rng, principal),
            "identity": [
                _document([_statement(rng, service, account) for _ in range(rng.randint(1, 3))])
                for _ in range(rng.randint(0, 2))
            ],
        }
        if rng.random() < 0.25:
            case["boundary"] = _document([_statement(rng, service, account, deny_rate=0.1)])
        if principal == SESSION and rng.random() < 0.4:
            case["session"] = _document([_statement(rng, service, account, deny_rate=0.1)])
        if has_resource_policy and rng.random() < 0.4:
            case["resourcePolicy"] = _resource_policy(rng, service, account)
        cases.append(case)
    return cases


def _anchor(principal: str, action: str, resource: str, context: dict[str, Any], **policies: Any) -> Case:
    account = resource.split(":")[4] or A
    context = {"aws:PrincipalAccount": A, "aws:PrincipalArn": USER if principal == USER else ROLE, **context}
    if principal == USER:
        context.setdefault("aws:username", "alice")
    case: Case = {"principal": principal, "action": action, "resource": resource, "resourceAccount": account}
    case["context"] = context
    case["identity"] = [_document(s) for s in policies.pop("identity", [])]
    case.update({k: _document(v) for k, v in policies.items()})
    return case


_QUEUE = f"arn:aws:sqs:us-east-1:{A}:alice-q"
_STREAM = f"arn:aws:logs:us-east-1:{A}:log-group:/aws/lambda/fn:log-stream:s1"
_ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}

# One hand-written case per known disagreement (shrunk from generated ones), so that every entry of
# known_disagreements.KNOWN is shown to be a real disagreement whatever the random cases happen to hit.
ANCHORS: list[Case] = [
    _anchor(
        USER,
        "sqs:SendMessage",
        _QUEUE,
        {"aws:PrincipalTag/team": "red"},
        identity=[
            [
                _ALL,
                {
                    "Effect": "Deny",
                    "Action": "sqs:*",
                    "Resource": "*",
                    "Condition": {"StringNotEquals": {"aws:PrincipalTag/team": "${aws:PrincipalTag/dept}"}},
                },
            ]
        ],
    ),
    _anchor(
        USER,
        "sqs:SendMessage",
        _QUEUE,
        {"aws:TagKeys": ["team", "cost"]},
        identity=[
            [
                _ALL,
                {
                    "Effect": "Deny",
                    "Action": "sqs:*",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:TagKeys": "cost"}},
                },
            ]
        ],
    ),
    _anchor(
        SESSION,
        "sqs:SendMessage",
        f"arn:aws:sqs:us-east-1:{A}:blue",
        {},
        identity=[
            [{"Effect": "Allow", "Action": "sqs:*", "Resource": f"arn:aws:sqs:us-east-1:{A}:${{aws:username, 'blue'}}"}]
        ],
    ),
    _anchor(
        SESSION,
        "dynamodb:PutItem",
        f"arn:aws:dynamodb:us-east-1:{A}:table/meta",
        {},
        identity=[
            [
                _ALL,
                {
                    "Effect": "Deny",
                    "Action": "*",
                    "NotResource": f"arn:aws:dynamodb:us-east-1:{A}:table/${{aws:username}}-*",
                },
            ]
        ],
    ),
    _anchor(
        USER,
        "sqs:SendMessage",
        _QUEUE,
        {},
        identity=[
            [{"Effect": "Allow", "Action": "sqs:*", "Resource": f"arn:aws:sqs:us-east-1:{A}:${{aws:username}}-*"}]
        ],
    ),
    _anchor(
        USER,
        "logs:PutLogEvents",
        _STREAM,
        {},
        identity=[[{"Effect": "Allow", "Action": "logs:*", "Resource": _STREAM.replace(":log-group:", ":log-g?oup:")}]],
    ),
    _anchor(
        SESSION,
        "sqs:SendMessage",
        _QUEUE,
        {},
        session=[{"Effect": "Allow", "Action": "sqs:DeleteMessage", "Resource": "*"}],
        resourcePolicy=[
            {"Effect": "Allow", "Principal": {"AWS": SESSION}, "Action": "sqs:SendMessage", "Resource": _QUEUE}
        ],
    ),
    # Points of issue 13 on which both evaluators follow the documentation (agreements, kept as anchors):
    # a grant to the role ARN is limited by the boundary; Deny+NotPrincipal denies a principal with a boundary.
    _anchor(
        SESSION,
        "sqs:SendMessage",
        _QUEUE,
        {},
        boundary=[{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}],
        resourcePolicy=[
            {"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "sqs:SendMessage", "Resource": _QUEUE}
        ],
    ),
    _anchor(
        USER,
        "sqs:SendMessage",
        _QUEUE,
        {},
        identity=[[_ALL]],
        boundary=[_ALL],
        resourcePolicy=[{"Effect": "Deny", "NotPrincipal": {"AWS": USER}, "Action": "sqs:*", "Resource": _QUEUE}],
    ),
]
