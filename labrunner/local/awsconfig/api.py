"""The Config compliance APIs moto leaves unimplemented, with AWS's request checks and shapes.

Each handler takes the request's parameters and returns the response body (a dict that the
botocore model of the `config` service describes), or raises a moto JsonRESTError with AWS's
error code.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from moto.config.exceptions import (
    InvalidNextTokenException,
    InvalidParameterValueException,
    NoSuchConfigRuleException,
    ResourceInUseException,
    ResourceNotDiscoveredException,
)
from moto.core.exceptions import JsonRESTError

from labrunner.local.awsconfig import engine
from labrunner.local.awsconfig.engine import EvaluationResult
from labrunner.local.awsconfig.items import S3_BUCKET, BucketItem
from labrunner.local.awsconfig.rules import COMPLIANT, INSUFFICIENT_DATA, NON_COMPLIANT, NOT_APPLICABLE
from labrunner.local.faults.profile import time_scale

MAX_RULES_PER_EVALUATION = 25
COMPLIANCE_PAGE = 25  # DescribeComplianceByConfigRule has no Limit
DEFAULT_LIMIT = 10  # GetComplianceDetailsByConfigRule, DescribeComplianceByResource
MAX_LIMIT = 100
EVALUATION_STATUS_LIMIT = 50
# API Reference, LimitExceededException: "For StartConfigRulesEvaluation API, this exception is thrown
# if an evaluation is in progress or if you call the StartConfigRulesEvaluation API more than once per
# minute." AWS's fixed behaviour, always on; LABRUNNER_LOCAL_TIME_SCALE shrinks it for tests.
REQUEST_WINDOW_S = 60.0


def request_window_s() -> float:
    return REQUEST_WINDOW_S * time_scale()


CONTRIBUTOR_CAP = 100


class LimitExceededException(JsonRESTError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("LimitExceededException", message)


def epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def _without_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


# --- pagination -------------------------------------------------------------------------------


def encode_token(offset: int, what: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset, "w": what}).encode()).decode()


def decode_token(token: str | None, what: str) -> int:
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = int(data["o"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidNextTokenException() from None
    if data.get("w") != what or offset < 0:
        raise InvalidNextTokenException()
    return offset


def page(items: Sequence[Any], token: str | None, limit: int, what: str) -> tuple[list[Any], str | None]:
    start = decode_token(token, what)
    chunk = list(items[start : start + limit])
    more = start + limit < len(items)
    return chunk, encode_token(start + limit, what) if more else None


def limit_of(value: Any, default: int, maximum: int) -> int:
    if value in (None, 0, "0", ""):
        return default
    number = int(value)
    if number < 0 or number > maximum:
        raise InvalidParameterValueException(
            f"Value '{number}' at 'limit' failed to satisfy constraint: "
            f"Member must have value less than or equal to {maximum}"
        )
    return number


def compliance_types(value: Any, allowed: set[str]) -> set[str] | None:
    if not value:
        return None
    wanted = set(value)
    bad = wanted - allowed
    if bad:
        raise InvalidParameterValueException(
            f"ComplianceTypes {sorted(bad)} are not valid here; use {', '.join(sorted(allowed))}"
        )
    return wanted


# --- shared views -----------------------------------------------------------------------------


def _rules(backend: Any, names: Sequence[str] | None) -> list[str]:
    if not names:
        return sorted(backend.config_rules)
    for name in names:
        if name not in backend.config_rules:
            raise NoSuchConfigRuleException(name)
    return list(dict.fromkeys(names))


def _results(backend: Any, rule_name: str) -> list[EvaluationResult]:
    with engine.LOCK:
        state = engine.state_of(backend)
        return sorted(state.results.get(rule_name, {}).values(), key=lambda r: r.resource_id)


def summary(verdicts: Sequence[str]) -> dict[str, Any]:
    """Compliance of a rule over its resources, or of a resource over its rules."""
    non_compliant = sum(1 for v in verdicts if v == NON_COMPLIANT)
    if non_compliant:
        return {
            "ComplianceType": NON_COMPLIANT,
            "ComplianceContributorCount": {
                "CappedCount": min(non_compliant, CONTRIBUTOR_CAP),
                "CapExceeded": non_compliant > CONTRIBUTOR_CAP,
            },
        }
    if COMPLIANT in verdicts:
        return {"ComplianceType": COMPLIANT}
    return {"ComplianceType": INSUFFICIENT_DATA}


def evaluation_result(result: EvaluationResult) -> dict[str, Any]:
    return _without_none(
        {
            "EvaluationResultIdentifier": {
                "EvaluationResultQualifier": {
                    "ConfigRuleName": result.rule_name,
                    "ResourceType": result.resource_type,
                    "ResourceId": result.resource_id,
                    "EvaluationMode": "DETECTIVE",
                },
                "OrderingTimestamp": epoch(result.ordering_timestamp),
            },
            "ComplianceType": result.compliance,
            "ResultRecordedTime": epoch(result.recorded_at),
            "ConfigRuleInvokedTime": epoch(result.invoked_at),
            "Annotation": result.annotation,
        }
    )


# --- the operations ---------------------------------------------------------------------------


def start_config_rules_evaluation(account_id: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
    names = params.get("ConfigRuleNames") or []
    if not names:
        raise InvalidParameterValueException("ConfigRuleNames must name at least one rule")
    if len(names) > MAX_RULES_PER_EVALUATION:
        raise InvalidParameterValueException(
            f"At most {MAX_RULES_PER_EVALUATION} rules can be evaluated in one request"
        )
    with engine.LOCK:
        backend = engine.config_backend(account_id, region)
        rules = _rules(backend, names)
        state = engine.state_of(backend)
        clock = time.monotonic()
        for name in rules:
            rule = backend.config_rules[name]
            if rule.config_rule_state not in (engine.ACTIVE, engine.EVALUATING):
                raise ResourceInUseException(
                    f"The rule {name} is currently being deleted. Please retry after some time"
                )
            status = state.statuses.get(name)
            mine = status if status is not None and status.rule_id == rule.config_rule_id else None
            if rule.config_rule_state == engine.EVALUATING or (mine is not None and mine.pending_requested):
                # AWS: an earlier StartConfigRulesEvaluation of the rule must complete first.
                raise LimitExceededException(
                    f"An evaluation of the rule {name} is already in progress; retry when it completes"
                )
            last = mine.last_requested if mine is not None else None
            if last is not None and clock - last < request_window_s():
                raise LimitExceededException(
                    f"StartConfigRulesEvaluation was called for the rule {name} less than a minute ago; retry later"
                )
        for name in rules:
            engine.ensure_status(backend, name, backend.config_rules[name]).last_requested = clock
            engine.schedule(account_id, region, name, None, requested=True)
    return {}


def describe_compliance_by_config_rule(account_id: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
    wanted = compliance_types(params.get("ComplianceTypes"), {COMPLIANT, NON_COMPLIANT, INSUFFICIENT_DATA})
    backend = engine.config_backend(account_id, region)
    rows = []
    for name in _rules(backend, params.get("ConfigRuleNames")):
        compliance = summary([r.compliance for r in _results(backend, name)])
        if wanted is None or compliance["ComplianceType"] in wanted:
            rows.append({"ConfigRuleName": name, "Compliance": compliance})
    chunk, token = page(rows, params.get("NextToken"), COMPLIANCE_PAGE, "by-rule")
    return _without_none({"ComplianceByConfigRules": chunk, "NextToken": token})


def get_compliance_details_by_config_rule(account_id: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
    name = params.get("ConfigRuleName") or ""
    wanted = compliance_types(params.get("ComplianceTypes"), {COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE})
    wanted = wanted or {COMPLIANT, NON_COMPLIANT}  # AWS's default
    limit = limit_of(params.get("Limit"), DEFAULT_LIMIT, MAX_LIMIT)
    backend = engine.config_backend(account_id, region)
    _rules(backend, [name])
    rows = [evaluation_result(r) for r in _results(backend, name) if r.compliance in wanted]
    chunk, token = page(rows, params.get("NextToken"), limit, f"details:{name}")
    return _without_none({"EvaluationResults": chunk, "NextToken": token})


def describe_compliance_by_resource(account_id: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
    resource_type = params.get("ResourceType")
    resource_id = params.get("ResourceId")
    if resource_id and not resource_type:
        raise InvalidParameterValueException("ResourceType is required when ResourceId is given")
    wanted = compliance_types(params.get("ComplianceTypes"), {COMPLIANT, NON_COMPLIANT, INSUFFICIENT_DATA})
    limit = limit_of(params.get("Limit"), DEFAULT_LIMIT, MAX_LIMIT)
    backend = engine.config_backend(account_id, region)
    verdicts: dict[tuple[str, str], list[str]] = {}
    for name in sorted(backend.config_rules):
        for result in _results(backend, name):
            if resource_type and result.resource_type != resource_type:
                continue
            if resource_id and result.resource_id != resource_id:
                continue
            verdicts.setdefault((result.resource_type, result.resource_id), []).append(result.compliance)
    if resource_id and resource_type and not verdicts:
        verdicts[(resource_type, resource_id)] = []  # AWS answers INSUFFICIENT_DATA for it
    rows = []
    for (rtype, rid), found in sorted(verdicts.items()):
        compliance = summary(found)
        if wanted is None or compliance["ComplianceType"] in wanted:
            rows.append({"ResourceType": rtype, "ResourceId": rid, "Compliance": compliance})
    chunk, token = page(rows, params.get("NextToken"), limit, f"by-resource:{resource_type}:{resource_id}")
    return _without_none({"ComplianceByResources": chunk, "NextToken": token})


def describe_config_rule_evaluation_status(account_id: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
    limit = limit_of(params.get("Limit"), EVALUATION_STATUS_LIMIT, EVALUATION_STATUS_LIMIT)
    backend = engine.config_backend(account_id, region)
    rows = []
    with engine.LOCK:
        for name in _rules(backend, params.get("ConfigRuleNames")):
            rule = backend.config_rules[name]
            status = engine.ensure_status(backend, name, rule)
            rows.append(
                _without_none(
                    {
                        "ConfigRuleName": name,
                        "ConfigRuleArn": rule.config_rule_arn,
                        "ConfigRuleId": rule.config_rule_id,
                        "LastSuccessfulInvocationTime": epoch(status.last_invocation),
                        "LastSuccessfulEvaluationTime": epoch(status.last_evaluation),
                        "FirstActivatedTime": epoch(status.first_activated),
                        "FirstEvaluationStarted": status.first_evaluation_started,
                    }
                )
            )
    chunk, token = page(rows, params.get("NextToken"), limit, "evaluation-status")
    return _without_none({"ConfigRulesEvaluationStatus": chunk, "NextToken": token})


def configuration_item(account_id: str, region: str, item: BucketItem) -> dict[str, Any]:
    """A recorded bucket as GetResourceConfigHistory shows it (what Config recorded, not the live bucket)."""
    logging = (
        {"destinationBucketName": item.logging_target, "logFilePrefix": item.logging_prefix}
        if item.logging_target
        else {}
    )
    encryption = (
        {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": item.sse_algorithm}}]}
        if item.sse_algorithm
        else None
    )
    supplementary: dict[str, str] = {"BucketLoggingConfiguration": json.dumps(logging)}
    if encryption is not None:
        supplementary["ServerSideEncryptionConfiguration"] = json.dumps(encryption)
    return _without_none(
        {
            "version": "1.3",
            "accountId": account_id,
            "configurationItemCaptureTime": epoch(item.captured_at),
            "configurationItemStatus": "ResourceDeleted" if item.deleted else "OK",
            "arn": item.arn,
            "resourceType": S3_BUCKET,
            "resourceId": item.name,
            "resourceName": item.name,
            "awsRegion": region,
            "tags": dict(item.tags),
            "configuration": None if item.deleted else json.dumps({"name": item.name}),
            "supplementaryConfiguration": {} if item.deleted else supplementary,
        }
    )


def get_bucket_config_history(account_id: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
    """GetResourceConfigHistory of an S3 bucket: the items the recorder captured, newest first
    (chronologicalOrder Forward: oldest first); ResourceNotDiscoveredException before the first."""
    resource_id = str(params.get("resourceId") or "")
    limit = limit_of(params.get("limit"), DEFAULT_LIMIT, MAX_LIMIT)
    with engine.LOCK:
        state = engine.state_of(engine.config_backend(account_id, region))
        items = list(state.history.get(resource_id, []))
    if not items:
        raise ResourceNotDiscoveredException(S3_BUCKET, resource_id)
    if params.get("chronologicalOrder") != "Forward":
        items.reverse()
    rows = [configuration_item(account_id, region, item) for item in items]
    chunk, token = page(rows, params.get("nextToken"), limit, f"history:{resource_id}")
    return _without_none({"configurationItems": chunk, "nextToken": token})


OPERATIONS = {
    "start_config_rules_evaluation": start_config_rules_evaluation,
    "describe_compliance_by_config_rule": describe_compliance_by_config_rule,
    "get_compliance_details_by_config_rule": get_compliance_details_by_config_rule,
    "describe_compliance_by_resource": describe_compliance_by_resource,
    "describe_config_rule_evaluation_status": describe_config_rule_evaluation_status,
}
