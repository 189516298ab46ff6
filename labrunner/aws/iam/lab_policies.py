"""The lab's own policy documents (what `solve` writes), and comparing documents."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from labrunner.aws.iam.names import LAMBDA_SERVICE, SQS_REQUIRED


def lab_dynamodb_policy(table_arn: str, action: str = "dynamodb:PutItem") -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": table_arn}]}


def lab_sqs_policy(queue_arn: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": list(SQS_REQUIRED), "Resource": queue_arn}],
    }


def same_document(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    """Equal policies, whatever the key order or list-vs-string forms."""
    if a is None or b is None:
        return a is b

    def norm(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: norm(v) for k, v in sorted(value.items())}
        if isinstance(value, list):
            items = [norm(v) for v in value]
            return items[0] if len(items) == 1 and not isinstance(items[0], dict) else items
        return value

    return bool(norm(a) == norm(b))


def lambda_only_trust_policy(trust: Mapping[str, Any]) -> dict[str, Any]:
    """The trust policy with every Allow principal but lambda.amazonaws.com removed (Deny kept)."""
    document: dict[str, Any] = copy.deepcopy(dict(trust))
    raw = document.get("Statement", [])
    statements = raw if isinstance(raw, list) else [raw]
    kept: list[Any] = []
    lambda_trusted = False
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            kept.append(statement)
            continue
        if "NotPrincipal" in statement:
            continue  # "everyone but …": nothing of it can stay
        principal = statement.get("Principal")
        services = principal.get("Service", []) if isinstance(principal, dict) else []
        services = [services] if isinstance(services, str) else list(services)
        lambdas = [s for s in services if isinstance(s, str) and s.lower() == LAMBDA_SERVICE]
        if not lambdas:
            continue
        statement["Principal"] = {"Service": LAMBDA_SERVICE}
        kept.append(statement)
        lambda_trusted = True
    if not lambda_trusted:
        kept.append({"Effect": "Allow", "Principal": {"Service": LAMBDA_SERVICE}, "Action": "sts:AssumeRole"})
    document["Statement"] = kept
    document.setdefault("Version", "2012-10-17")
    return document
