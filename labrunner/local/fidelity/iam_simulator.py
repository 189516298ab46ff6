"""iam:SimulatePrincipalPolicy and iam:SimulateCustomPolicy (moto lacks both), answered with the
same evaluator that authorizes requests, in the IAM API's own response shape.

Shape as of the current IAM API: one EvaluationResult per action; with ResourceArns, its
EvalDecision is the most restrictive of the per-resource decisions listed in
ResourceSpecificResults, and EvalResourceName is the ARN template of the resource type
(`*` when no resource was given). Paginated over EvaluationResults with MaxItems/Marker.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from labrunner.aws.policy import (
    AccessRequest,
    Decision,
    MatchedStatement,
    Policy,
    PolicyParseError,
    caller_from,
    evaluate,
    parse_policy,
)
from labrunner.aws.policy.conditions import ContextValue
from labrunner.local.fidelity.iam_enforcement import read_body
from labrunner.local.hooks import ServerHooks, WSGIApp
from labrunner.local.iam.policies import (
    PrincipalPolicies,
    group_policies,
    iam_backend,
    role_policies,
    user_policies,
)

ORDER = 20  # inside iam_enforcement: the caller is authenticated and allowed to simulate
XMLNS = "https://iam.amazonaws.com/doc/2010-05-08/"
_OPERATIONS = {"SimulatePrincipalPolicy", "SimulateCustomPolicy"}
_STRICTNESS = {"allowed": 0, "implicitDeny": 1, "explicitDeny": 2}
_ENTITY = re.compile(
    r"^arn:(?P<partition>[\w-]+):iam::(?P<account>\d{12}):(?P<type>user|role|group)(?:/.*)?/(?P<name>[^/]+)$"
)

# ARN templates of the resource types the workload uses (Service Authorization Reference).
_TEMPLATES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), template)
    for pattern, template in (
        (r"^arn:[\w-]+:s3:::[^/]+$", "arn:${Partition}:s3:::${BucketName}"),
        (r"^arn:[\w-]+:s3:::[^/]+/.+$", "arn:${Partition}:s3:::${BucketName}/${ObjectName}"),
        (
            r"^arn:[\w-]+:dynamodb:[^:]*:\d*:table/[^/]+$",
            "arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}",
        ),
        (
            r"^arn:[\w-]+:dynamodb:[^:]*:\d*:table/[^/]+/index/.+$",
            "arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}/index/${IndexName}",
        ),
        (
            r"^arn:[\w-]+:dynamodb:[^:]*:\d*:table/[^/]+/stream/.+$",
            "arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}/stream/${StreamLabel}",
        ),
        (r"^arn:[\w-]+:sqs:[^:]*:\d*:[^:]+$", "arn:${Partition}:sqs:${Region}:${Account}:${QueueName}"),
        (
            r"^arn:[\w-]+:logs:[^:]*:\d*:log-group:[^:]*:log-stream:.+$",
            "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}:log-stream:${LogStreamName}",
        ),
        (
            r"^arn:[\w-]+:logs:[^:]*:\d*:log-group:.+$",
            "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}",
        ),
        (
            r"^arn:[\w-]+:lambda:[^:]*:\d*:function:.+$",
            "arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName}",
        ),
        (r"^arn:[\w-]+:iam::\d*:role/.+$", "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}"),
        (r"^arn:[\w-]+:iam::\d*:user/.+$", "arn:${Partition}:iam::${Account}:user/${UserNameWithPath}"),
        (r"^arn:[\w-]+:iam::\d*:group/.+$", "arn:${Partition}:iam::${Account}:group/${GroupNameWithPath}"),
        (r"^arn:[\w-]+:iam::(?:\d*|aws):policy/.+$", "arn:${Partition}:iam::${Account}:policy/${PolicyNameWithPath}"),
        (r"^arn:[\w-]+:sns:[^:]*:\d*:[^:]+$", "arn:${Partition}:sns:${Region}:${Account}:${TopicName}"),
        (r"^arn:[\w-]+:kms:[^:]*:\d*:key/.+$", "arn:${Partition}:kms:${Region}:${Account}:key/${KeyId}"),
        (
            r"^arn:[\w-]+:cloudformation:[^:]*:\d*:stack/.+$",
            "arn:${Partition}:cloudformation:${Region}:${Account}:stack/${StackName}/${Id}",
        ),
    )
)


class SimulationError(Exception):
    """An IAM error answer (code and HTTP status as IAM sends them)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class SimulationInput:
    """The request parameters both operations share."""

    action_names: tuple[str, ...]
    resource_arns: tuple[str, ...]
    context: Mapping[str, ContextValue]
    resource_policy: Policy | None
    resource_owner: str | None
    caller_arn: str | None
    max_items: int
    marker: int


@dataclass(frozen=True)
class ResourceResult:
    resource: str
    decision: Decision
    boundary_allows: bool | None


@dataclass(frozen=True)
class ActionResult:
    action: str
    template: str
    decision: Decision  # the aggregate (most restrictive) decision
    resources: tuple[ResourceResult, ...]  # empty when no ResourceArns were given
    boundary_allows: bool | None


def _members(params: Mapping[str, str], name: str) -> list[str]:
    """Values of a query-protocol list parameter (`Name.member.1`, `Name.member.2`, …)."""
    found = []
    i = 1
    while f"{name}.member.{i}" in params:
        found.append(params[f"{name}.member.{i}"])
        i += 1
    return found


def _context_entries(params: Mapping[str, str]) -> dict[str, ContextValue]:
    context: dict[str, ContextValue] = {}
    i = 1
    while f"ContextEntries.member.{i}.ContextKeyName" in params:
        prefix = f"ContextEntries.member.{i}"
        values = _members(params, f"{prefix}.ContextKeyValues")
        kind = params.get(f"{prefix}.ContextKeyType", "string")
        key = params[f"{prefix}.ContextKeyName"]
        context[key] = values if kind.endswith("List") or len(values) != 1 else values[0]
        i += 1
    return context


def _parse(text: str, name: str, kind: Any, arn: str | None = None) -> Policy:
    try:
        return Policy(name=name, document=parse_policy(text), type=kind, arn=arn)
    except PolicyParseError as exc:
        raise SimulationError("InvalidInput", f"The policy {name} is not valid: {exc}") from None


def _input(params: Mapping[str, str]) -> SimulationInput:
    actions = _members(params, "ActionNames")
    if not actions:
        raise SimulationError("ValidationError", "1 validation error detected: ActionNames must not be empty")
    resource_policy = params.get("ResourcePolicy")
    try:
        max_items = int(params.get("MaxItems", "100"))
        marker = int(params.get("Marker", "0") or 0)
    except ValueError:
        raise SimulationError("InvalidInput", "Invalid MaxItems or Marker") from None
    return SimulationInput(
        action_names=tuple(actions),
        resource_arns=tuple(_members(params, "ResourceArns")),
        context=_context_entries(params),
        resource_policy=_parse(resource_policy, "ResourcePolicy", "resource") if resource_policy else None,
        resource_owner=params.get("ResourceOwner") or None,
        caller_arn=params.get("CallerArn") or None,
        max_items=max(1, min(max_items, 1000)),
        marker=max(0, marker),
    )


def template_for(action: str, resource: str) -> str:
    """The ARN template of the resource's type when it is the action's service's, else `*`."""
    parts = resource.split(":")
    if len(parts) < 6 or parts[2].lower() != action.partition(":")[0].lower():
        return "*"
    for pattern, template in _TEMPLATES:
        if pattern.match(resource):
            return template
    return "*"


def _strictest(decisions: Sequence[Decision]) -> Decision:
    worst = max(decisions, key=lambda d: _STRICTNESS[d.decision])
    missing = tuple(dict.fromkeys(k for d in decisions for k in d.missing_context_keys))
    if worst.decision == "implicitDeny":
        return Decision("implicitDeny", (), missing, worst.denied_by)
    same = [d for d in decisions if d.decision == worst.decision]
    statements = tuple(dict.fromkeys(s for d in same for s in d.matched_statements))
    return Decision(worst.decision, statements, missing, worst.denied_by)


def simulate(
    identity: Sequence[Policy],
    boundary: Policy | None,
    sim: SimulationInput,
    caller_account: str,
) -> list[ActionResult]:
    """Evaluate every action on every resource."""
    caller = caller_from(sim.caller_arn) if sim.caller_arn else None
    owner = sim.resource_owner or (caller.account if caller and caller.account else caller_account)
    results = []
    for action in sim.action_names:
        per_resource = []
        for resource in sim.resource_arns or ("*",):
            request = AccessRequest(action=action, resource=resource, caller=caller, context=sim.context)
            decision = evaluate(
                request,
                identity,
                resource_policy=sim.resource_policy,
                permissions_boundaries=[boundary] if boundary else (),
                resource_account=owner if caller is not None else None,
            )
            boundary_allows = None
            if boundary is not None:
                boundary_allows = evaluate(AccessRequest(action, resource, caller, sim.context), [boundary]).allowed
            per_resource.append(ResourceResult(resource, decision, boundary_allows))
        aggregate = _strictest([r.decision for r in per_resource])
        bounds = [r.boundary_allows for r in per_resource if r.boundary_allows is not None]
        results.append(
            ActionResult(
                action=action,
                template=template_for(action, sim.resource_arns[0]) if sim.resource_arns else "*",
                decision=aggregate,
                resources=tuple(per_resource) if sim.resource_arns else (),
                boundary_allows=all(bounds) if bounds else None,
            )
        )
    return results


# --- XML ------------------------------------------------------------------------------------------


def _statements_xml(statements: Iterable[MatchedStatement]) -> str:
    members = []
    for s in statements:
        kind = "none" if s.policy_type in ("session", "boundary") else s.policy_type
        parts = [
            f"<SourcePolicyId>{escape(s.policy_name)}</SourcePolicyId>",
            f"<SourcePolicyType>{kind}</SourcePolicyType>",
        ]
        if s.start is not None and s.end is not None:
            parts.append(f"<StartPosition><Line>{s.start.line}</Line><Column>{s.start.column}</Column></StartPosition>")
            parts.append(f"<EndPosition><Line>{s.end.line}</Line><Column>{s.end.column}</Column></EndPosition>")
        members.append("<member>" + "".join(parts) + "</member>")
    return "<MatchedStatements>" + "".join(members) + "</MatchedStatements>"


def _missing_xml(keys: Iterable[str]) -> str:
    return "<MissingContextValues>" + "".join(f"<member>{escape(k)}</member>" for k in keys) + "</MissingContextValues>"


def _boundary_xml(allowed: bool | None) -> str:
    if allowed is None:
        return ""
    flag = "true" if allowed else "false"
    detail = f"<AllowedByPermissionsBoundary>{flag}</AllowedByPermissionsBoundary>"
    return f"<PermissionsBoundaryDecisionDetail>{detail}</PermissionsBoundaryDecisionDetail>"


def _result_xml(result: ActionResult) -> str:
    parts = [
        f"<EvalActionName>{escape(result.action)}</EvalActionName>",
        f"<EvalResourceName>{escape(result.template)}</EvalResourceName>",
        f"<EvalDecision>{result.decision.decision}</EvalDecision>",
        _statements_xml(result.decision.matched_statements),
        _missing_xml(result.decision.missing_context_keys),
        _boundary_xml(result.boundary_allows),
    ]
    if result.resources:
        parts.append("<EvalDecisionDetails/>")
        members = []
        for r in result.resources:
            members.append(
                "<member>"
                f"<EvalResourceName>{escape(r.resource)}</EvalResourceName>"
                f"<EvalResourceDecision>{r.decision.decision}</EvalResourceDecision>"
                + _statements_xml(r.decision.matched_statements)
                + _missing_xml(r.decision.missing_context_keys)
                + _boundary_xml(r.boundary_allows)
                + "</member>"
            )
        parts.append("<ResourceSpecificResults>" + "".join(members) + "</ResourceSpecificResults>")
    return "<member>" + "".join(parts) + "</member>"


def response_xml(operation: str, results: Sequence[ActionResult], marker: int, max_items: int) -> bytes:
    page = results[marker : marker + max_items]
    truncated = marker + max_items < len(results)
    body = "".join(_result_xml(r) for r in page)
    next_marker = f"<Marker>{marker + max_items}</Marker>" if truncated else ""
    return (
        f'<{operation}Response xmlns="{XMLNS}"><{operation}Result>'
        f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>{next_marker}"
        f"<EvaluationResults>{body}</EvaluationResults>"
        f"</{operation}Result><ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        f"</{operation}Response>"
    ).encode()


def error_xml(error: SimulationError) -> bytes:
    return (
        f'<ErrorResponse xmlns="{XMLNS}"><Error><Type>Sender</Type><Code>{escape(error.code)}</Code>'
        f"<Message>{escape(error.message)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    ).encode()


# --- the two operations ----------------------------------------------------------------------------


def _principal_policies(source_arn: str) -> PrincipalPolicies:
    match = _ENTITY.match(source_arn)
    if match is None:
        raise SimulationError("InvalidInput", f"Invalid ARN for PolicySourceArn: {source_arn}")
    backend = iam_backend(match["account"], match["partition"])
    kind, name = match["type"], match["name"]
    gathered = {"user": user_policies, "role": role_policies, "group": group_policies}[kind](backend, name)
    if not gathered.exists:
        raise SimulationError("NoSuchEntity", f"The {kind} with name {name} cannot be found.", 404)
    return gathered


def simulate_principal_policy(params: Mapping[str, str], caller_account: str) -> bytes:
    source = params.get("PolicySourceArn", "")
    sim = _input(params)
    gathered = _principal_policies(source)
    extra = [_parse(t, f"PolicyInputList.{i}", "none") for i, t in enumerate(_members(params, "PolicyInputList"), 1)]
    boundaries = _members(params, "PermissionsBoundaryPolicyInputList")
    boundary = (
        _parse(boundaries[0], "PermissionsBoundaryPolicyInputList.1", "boundary") if boundaries else gathered.boundary
    )
    if sim.caller_arn is None and source.split(":")[-1].startswith("user/"):
        sim = SimulationInput(**{**sim.__dict__, "caller_arn": source})
    if sim.resource_policy is not None and sim.caller_arn is None:
        raise SimulationError("InvalidInput", "CallerArn is required when a ResourcePolicy is simulated for a role")
    results = simulate(list(gathered.identity) + extra, boundary, sim, caller_account)
    return response_xml("SimulatePrincipalPolicy", results, sim.marker, sim.max_items)


def simulate_custom_policy(params: Mapping[str, str], caller_account: str) -> bytes:
    texts = _members(params, "PolicyInputList")
    if not texts:
        raise SimulationError("ValidationError", "1 validation error detected: PolicyInputList must not be empty")
    sim = _input(params)
    policies = [_parse(t, f"PolicyInputList.{i}", "none") for i, t in enumerate(texts, 1)]
    boundaries = _members(params, "PermissionsBoundaryPolicyInputList")
    boundary = _parse(boundaries[0], "PermissionsBoundaryPolicyInputList.1", "boundary") if boundaries else None
    if sim.resource_policy is not None and sim.caller_arn is None:
        raise SimulationError("InvalidInput", "CallerArn is required when a ResourcePolicy is simulated")
    results = simulate(policies, boundary, sim, caller_account)
    return response_xml("SimulateCustomPolicy", results, sim.marker, sim.max_items)


_HANDLERS: dict[str, Callable[[Mapping[str, str], str], bytes]] = {
    "SimulatePrincipalPolicy": simulate_principal_policy,
    "SimulateCustomPolicy": simulate_custom_policy,
}


def _iam_params(environ: dict[str, Any]) -> dict[str, str] | None:
    """The form parameters of an IAM query request for one of our operations, else None."""
    if "/iam/aws4_request" not in environ.get("HTTP_AUTHORIZATION", "") or environ.get("REQUEST_METHOD") != "POST":
        return None
    body = read_body(environ)
    if b"Simulate" not in body:
        return None
    params = {k: v[0] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
    return params if params.get("Action") in _OPERATIONS else None


class IAMSimulator:
    """Answers the two simulator operations; passes everything else to moto."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        params = _iam_params(environ)
        if params is None:
            return self.app(environ, start_response)
        account = environ.get("HTTP_X_MOTO_ACCOUNT_ID", "123456789012")
        try:
            payload = _HANDLERS[params["Action"]](params, account)
            status = "200 OK"
        except SimulationError as exc:
            payload = error_xml(exc)
            status = {400: "400 Bad Request", 404: "404 Not Found"}.get(exc.status, f"{exc.status} Error")
        start_response(status, [("Content-Type", "text/xml"), ("Content-Length", str(len(payload)))])
        return [payload]


def install(hooks: ServerHooks) -> None:
    hooks.add_middleware(IAMSimulator, order=ORDER, name="iam-simulator")
