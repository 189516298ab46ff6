"""The workload's asset inventory (NIST CM-8): every stack resource observed live, plus the parts
that live outside the stack, each with its ARN and console link; and the findings worth noticing.

CloudFormation does not notice a resource deleted or changed by hand, so each resource is
looked up with its own service's read call and compared with what the stack's template says.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from botocore.exceptions import ClientError

from labrunner.aws import s3 as s3_settings
from labrunner.aws.errors import error_code
from labrunner.aws.fan_out import fan_out, together
from labrunner.aws.policy import (
    AccessRequest,
    PolicyParseError,
    caller_from,
    evaluate_resource_policy,
    trusted_principals,
)
from labrunner.aws.stack import StackInfo, StackResource, partition

Clients = Callable[[str], Any]
State = Literal["present", "missing", "drifted", "not created yet", "not checked"]

# "That resource does not exist" codes, per service.
GONE_CODES = frozenset(
    {
        "404",
        "NoSuchBucket",
        "NotFound",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "ResourceNotFoundException",
        "NoSuchEntity",
    }
)

# AWS managed policies that hand a role administrator-level or broad job-function power.
ADMIN_LEVEL_POLICIES = frozenset(
    {
        "AdministratorAccess",
        "PowerUserAccess",
        "SystemAdministrator",
        "IAMFullAccess",
        "DatabaseAdministrator",
        "NetworkAdministrator",
    }
)


# -- console links ------------------------------------------------------------------------------------
def console_domain(region: str) -> str:
    """console.aws.amazon.com, or the console domain of the region's partition."""
    return {
        "aws-cn": "console.amazonaws.cn",
        "aws-us-gov": "console.amazonaws-us-gov.com",
    }.get(partition(region), "console.aws.amazon.com")


def console_base(region: str, *, regional: bool = True) -> str:
    """https://<region>.console.aws.amazon.com, or the global https://console.aws.amazon.com."""
    domain = console_domain(region)
    return f"https://{region}.{domain}" if regional else f"https://{domain}"


def console_url(resource_type: str, physical_id: str, region: str, *, function: str = "") -> str:
    """The AWS console page of one resource (empty when the console has no page for the type)."""
    q = urllib.parse.quote
    base = console_base(region)
    if resource_type == "AWS::S3::Bucket":
        return f"https://s3.{console_domain(region)}/s3/buckets/{q(physical_id)}?region={region}"
    if resource_type == "AWS::S3::BucketPolicy":
        return f"https://s3.{console_domain(region)}/s3/buckets/{q(physical_id)}?region={region}&tab=permissions"
    if resource_type in ("AWS::SQS::Queue", "AWS::SQS::QueuePolicy"):
        return f"{base}/sqs/v3/home?region={region}#/queues/{q(physical_id, safe='')}"
    if resource_type == "AWS::DynamoDB::Table":
        return f"{base}/dynamodbv2/home?region={region}#table?name={q(physical_id)}"
    if resource_type == "AWS::IAM::Role":
        return f"{console_base(region, regional=False)}/iam/home#/roles/details/{q(physical_id)}"
    if resource_type == "AWS::Lambda::Function":
        return f"{base}/lambda/home?region={region}#/functions/{q(physical_id)}"
    if resource_type == "AWS::Lambda::EventSourceMapping":
        target = f"#/functions/{q(function)}?tab=configure" if function else "#/functions"
        return f"{base}/lambda/home?region={region}{target}"
    if resource_type == "AWS::Logs::LogGroup":
        # The CloudWatch console escapes the group name twice, with '$' for '%'.
        escaped = q(q(physical_id, safe=""), safe="").replace("%", "$")
        return f"{base}/cloudwatch/home?region={region}#logsV2:log-groups/log-group/{escaped}"
    if resource_type == "AWS::CloudFormation::Stack":
        return f"{base}/cloudformation/home?region={region}#/stacks/stackinfo?stackId={q(physical_id, safe='')}"
    return ""


# -- results ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Asset:
    """One part of the workload, as the stack declares it and as it is found live."""

    logical_id: str  # "" for parts outside the stack
    physical_id: str
    type: str
    arn: str
    console: str
    in_stack: bool
    state: State
    detail: str = ""

    @property
    def label(self) -> str:
        return self.logical_id or f"{self.type} {self.physical_id}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Finding:
    """Something a student should notice in the inventory (graded by a later lab, not here)."""

    resource: str  # "LogicalId (physical id)"
    summary: str
    fixed_in: str  # the lab that fixes it ("lab2", "lab3"), or "extra": only the template does
    fix: str = ""  # the same, said to a student

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Observed:
    state: State
    arn: str = ""
    detail: str = ""
    function: str = ""  # for a mapping: its function's name (console link)


# -- template references ------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Scope:
    stack: StackInfo
    template: Mapping[str, Any]
    region: str
    account: str

    def physical(self, logical_id: str) -> str | None:
        resource = self.stack.resources.get(logical_id)
        return resource.physical_id if resource and resource.physical_id else None

    def arn_of(self, logical_id: str) -> str | None:
        """The ARN that `Fn::GetAtt <logical_id>.Arn` stands for."""
        resource = self.stack.resources.get(logical_id)
        physical = self.physical(logical_id)
        if resource is None or physical is None:
            return None
        return arn_for(resource.type, physical, self.region, self.account) or None

    def resolve(self, value: Any) -> str | None:
        """A template value as text: literals, Ref to a resource or pseudo parameter, GetAtt X.Arn."""
        if isinstance(value, str):
            return value
        if not isinstance(value, Mapping) or len(value) != 1:
            return None
        ((fn, arg),) = value.items()
        if fn == "Ref" and isinstance(arg, str):
            pseudo = {
                "AWS::Region": self.region,
                "AWS::AccountId": self.account,
                "AWS::Partition": partition(self.region),
            }
            return pseudo.get(arg) or self.physical(arg) or self.stack.parameters.get(arg)
        if fn == "Fn::GetAtt" and isinstance(arg, list) and len(arg) == 2 and arg[1] == "Arn":
            return self.arn_of(str(arg[0]))
        return None

    def properties(self, logical_id: str) -> Mapping[str, Any]:
        declared = self.template.get("Resources", {}).get(logical_id, {})
        props = declared.get("Properties", {}) if isinstance(declared, Mapping) else {}
        return props if isinstance(props, Mapping) else {}


def arn_for(resource_type: str, physical_id: str, region: str, account: str) -> str:
    """The ARN of a resource from its physical id (empty for types without an ARN)."""
    p = partition(region)
    if resource_type == "AWS::S3::Bucket":
        return f"arn:{p}:s3:::{physical_id}"
    if resource_type == "AWS::SQS::Queue":
        return f"arn:{p}:sqs:{region}:{account}:{physical_id.rstrip('/').rsplit('/', 1)[-1]}"
    if resource_type == "AWS::DynamoDB::Table":
        return f"arn:{p}:dynamodb:{region}:{account}:table/{physical_id}"
    if resource_type == "AWS::IAM::Role":
        return f"arn:{p}:iam::{account}:role/{physical_id}"
    if resource_type == "AWS::Lambda::Function":
        return f"arn:{p}:lambda:{region}:{account}:function:{physical_id}"
    if resource_type == "AWS::Lambda::EventSourceMapping":
        return f"arn:{p}:lambda:{region}:{account}:event-source-mapping:{physical_id}"
    if resource_type == "AWS::Logs::LogGroup":
        return f"arn:{p}:logs:{region}:{account}:log-group:{physical_id}"
    return ""


def _function_name(arn_or_name: str) -> str:
    """my-fn from arn:aws:lambda:R:A:function:my-fn[:qualifier] or my-fn."""
    if ":function:" in arn_or_name:
        return arn_or_name.split(":function:", 1)[1].split(":", 1)[0]
    return arn_or_name


# -- live probes, one per resource type ---------------------------------------------------------------
def _gone(exc: ClientError, what: str) -> _Observed:
    if error_code(exc) in GONE_CODES:
        return _Observed("missing", detail=f"{what} no longer exists ({error_code(exc)}): deleted out of band")
    raise exc


def _bucket(client: Clients, res: StackResource, scope: _Scope) -> _Observed:
    s3 = client("s3")
    arn = arn_for(res.type, res.physical_id, scope.region, scope.account)
    if not s3_settings.bucket_exists(s3, res.physical_id):
        return _Observed("missing", detail=f"bucket {res.physical_id} no longer exists: deleted out of band")
    declared = scope.properties(res.logical_id).get("NotificationConfiguration", {})
    wanted = declared.get("QueueConfigurations", []) if isinstance(declared, Mapping) else []
    if wanted:
        live = s3.get_bucket_notification_configuration(Bucket=res.physical_id).get("QueueConfigurations", [])
        pairs = {(c.get("QueueArn"), event) for c in live for event in c.get("Events", [])}
        for config in wanted:
            queue, event = scope.resolve(config.get("Queue")), config.get("Event")
            if queue and (queue, event) not in pairs:
                return _Observed("drifted", arn, f"the S3 event notification {event} → {queue} of the template is gone")
    return _Observed("present", arn)


def _queue(client: Clients, res: StackResource, scope: _Scope) -> _Observed:
    try:
        attrs = client("sqs").get_queue_attributes(QueueUrl=res.physical_id, AttributeNames=["QueueArn"])
    except ClientError as exc:
        return _gone(exc, f"queue {res.physical_id}")
    return _Observed("present", str(attrs["Attributes"]["QueueArn"]))


def _queue_policy(client: Clients, res: StackResource, scope: _Scope) -> _Observed:
    queues = [scope.resolve(q) for q in scope.properties(res.logical_id).get("Queues", [])]
    if not queues or any(q is None for q in queues):
        return _Observed("not checked", detail="the template's Queues could not be resolved")
    sqs = client("sqs")
    for url in queues:
        assert url is not None
        try:
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy", "QueueArn"])["Attributes"]
        except ClientError as exc:
            return _gone(exc, f"the queue {url} of the policy")
        policy = attrs.get("Policy")
        if not policy:
            return _Observed("missing", detail=f"queue {attrs['QueueArn']} has no access policy: deleted out of band")
        if not _lets_s3_send(policy, str(attrs["QueueArn"]), scope):
            return _Observed(
                "drifted",
                detail=f"the access policy of {attrs['QueueArn']} no longer lets S3 send it event messages",
            )
    return _Observed("present")


def _lets_s3_send(policy: str, queue_arn: str, scope: _Scope) -> bool:
    """Does the queue policy let s3.amazonaws.com SendMessage for the stack's upload bucket?"""
    bucket = next((r.physical_id for r in scope.stack.resources.values() if r.type == "AWS::S3::Bucket"), "")
    context = {
        "aws:SourceAccount": scope.account,
        "aws:SourceArn": arn_for("AWS::S3::Bucket", bucket, scope.region, scope.account),
    }
    request = AccessRequest("sqs:SendMessage", queue_arn, caller=caller_from("s3.amazonaws.com"), context=context)
    try:
        return evaluate_resource_policy(policy, request).decision.allowed
    except PolicyParseError:
        return False


def _bucket_policy(client: Clients, res: StackResource, scope: _Scope) -> _Observed:
    bucket = scope.resolve(scope.properties(res.logical_id).get("Bucket"))
    if not bucket:
        return _Observed("not checked", detail="the template's Bucket could not be resolved")
    s3 = client("s3")
    if not s3_settings.bucket_exists(s3, bucket):
        return _Observed("missing", detail=f"its bucket {bucket} no longer exists: deleted out of band")
    if s3_settings.bucket_policy(s3, bucket) is None:
        return _Observed("missing", detail=f"bucket {bucket} has no bucket policy: deleted out of band")
    return _Observed("present")


def _table(client: Clients, res: StackResource, scope: _Scope) -> _Observed:
    try:
        table = client("dynamodb").describe_table(TableName=res.physical_id)["Table"]
    except ClientError as exc:
        return _gone(exc, f"table {res.physical_id}")
    return _Observed("present", str(table["TableArn"]), f"status {table.get('TableStatus', '?')}")


def _role(client: Clients, res: StackResource, scope: _Scope) -> _Observed:
    try:
        role = client("iam").get_role(RoleName=res.physical_id)["Role"]
    except ClientError as exc:
        return _gone(exc, f"role {res.physical_id}")
    return _Observed("present", str(role["Arn"]))


def _function(client: Clients, res: StackResource, scope: _Scope) -> _Observed:
    try:
        config = client("lambda").get_function(FunctionName=res.physical_id)["Configuration"]
    except ClientError as exc:
        return _gone(exc, f"function {res.physical_id}")
    arn = str(config["FunctionArn"])
    role = scope.resolve(scope.properties(res.logical_id).get("Role"))
    if role and config.get("Role") and role.rsplit("/", 1)[-1] != str(config["Role"]).rsplit("/", 1)[-1]:
        return _Observed("drifted", arn, f"it runs as {config['Role']}, not as the stack's role {role}")
    return _Observed("present", arn)


def _mapping(client: Clients, res: StackResource, scope: _Scope) -> _Observed:
    try:
        mapping = client("lambda").get_event_source_mapping(UUID=res.physical_id)
    except ClientError as exc:
        return _gone(exc, f"event source mapping {res.physical_id}")
    arn = str(mapping.get("EventSourceMappingArn") or arn_for(res.type, res.physical_id, scope.region, scope.account))
    function = _function_name(str(mapping.get("FunctionArn", "")))
    props = scope.properties(res.logical_id)
    source, target = scope.resolve(props.get("EventSourceArn")), scope.resolve(props.get("FunctionName"))
    problems = []
    if source and mapping.get("EventSourceArn") != source:
        problems.append(f"it reads {mapping.get('EventSourceArn')}, not the stack's queue {source}")
    if target and function != _function_name(target):
        problems.append(f"it invokes {function}, not the stack's function {_function_name(target)}")
    if props.get("Enabled", True) in (True, "true", "True") and mapping.get("State") in ("Disabled", "Disabling"):
        problems.append("it is disabled (the template enables it): uploads are no longer processed")
    if problems:
        return _Observed("drifted", arn, "; ".join(problems), function)
    return _Observed("present", arn, f"state {mapping.get('State', '?')}", function)


PROBES: dict[str, Callable[[Clients, StackResource, _Scope], _Observed]] = {
    "AWS::S3::Bucket": _bucket,
    "AWS::SQS::Queue": _queue,
    "AWS::SQS::QueuePolicy": _queue_policy,
    "AWS::DynamoDB::Table": _table,
    "AWS::IAM::Role": _role,
    "AWS::Lambda::Function": _function,
    "AWS::Lambda::EventSourceMapping": _mapping,
    "AWS::S3::BucketPolicy": _bucket_policy,
}


# -- the inventory ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Inventory:
    stack: StackInfo
    assets: tuple[Asset, ...]
    findings: tuple[Finding, ...]
    declared: tuple[str, ...]  # logical ids the stack's template declares (unconditional ones)

    @property
    def in_stack(self) -> tuple[Asset, ...]:
        return tuple(a for a in self.assets if a.in_stack)

    @property
    def outside(self) -> tuple[Asset, ...]:
        return tuple(a for a in self.assets if not a.in_stack)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": {"name": self.stack.name, "id": self.stack.stack_id, "status": self.stack.status},
            "assets": [a.as_dict() for a in self.assets],
            "findings": [f.as_dict() for f in self.findings],
        }


def stack_asset(stack: StackInfo, region: str) -> Asset:
    return Asset(
        logical_id="",
        physical_id=stack.name,
        type="AWS::CloudFormation::Stack",
        arn=stack.stack_id,
        console=console_url("AWS::CloudFormation::Stack", stack.stack_id, region),
        in_stack=False,
        state="present",
        detail=stack.status,
    )


def _observe(client: Clients, res: StackResource, scope: _Scope) -> Asset:
    probe = PROBES.get(res.type)
    observed = probe(client, res, scope) if probe else _Observed("not checked", detail="no live check for this type")
    arn = observed.arn or arn_for(res.type, res.physical_id, scope.region, scope.account)
    console_id = res.physical_id
    if res.type == "AWS::SQS::QueuePolicy":
        queues = [scope.resolve(q) for q in scope.properties(res.logical_id).get("Queues", [])]
        console_id = next((q for q in queues if q), "")
    elif res.type == "AWS::S3::BucketPolicy":
        console_id = scope.resolve(scope.properties(res.logical_id).get("Bucket")) or ""
    return Asset(
        logical_id=res.logical_id,
        physical_id=res.physical_id,
        type=res.type,
        arn=arn,
        console=console_url(res.type, console_id, scope.region, function=observed.function),
        in_stack=True,
        state=observed.state,
        detail=observed.detail,
    )


def _log_group(client: Clients, function: str, region: str, account: str) -> Asset:
    name = f"/aws/lambda/{function}"
    groups = client("logs").describe_log_groups(logGroupNamePrefix=name).get("logGroups", [])
    found = next((g for g in groups if g.get("logGroupName") == name), None)
    arn = arn_for("AWS::Logs::LogGroup", name, region, account)
    if found is None:
        state: State = "not created yet"
        detail = f"Lambda creates it on the first invocation of {function}"
    else:
        state, detail = "present", f"the output of {function}; {found.get('storedBytes', 0)} bytes stored"
    return Asset(
        "", name, "AWS::Logs::LogGroup", arn, console_url("AWS::Logs::LogGroup", name, region), False, state, detail
    )


def _log_bucket(client: Clients, bucket: str, region: str, in_stack: set[str]) -> Asset | None:
    """The bucket that receives `bucket`'s access logs, when it is not part of the stack."""
    target = s3_settings.access_logging(client("s3"), bucket)
    if target is None or target.target_bucket == bucket or target.target_bucket in in_stack:
        return None
    name = target.target_bucket
    exists = s3_settings.bucket_exists(client("s3"), name)
    return Asset(
        "",
        name,
        "AWS::S3::Bucket",
        s3_settings.bucket_arn(name, region),
        console_url("AWS::S3::Bucket", name, region),
        False,
        "present" if exists else "missing",
        f"receives the server access logs of {bucket} (lab 2)",
    )


# Who fixes what: lab 2 secures the upload bucket, lab 3 the function's role. Anything else in the
# stack (a custom-resource function's role, a second bucket, the table) only a template change fixes.
LAB_FIXES = {"FileUploadsBucket": "lab2", "MetadataLambdaRole": "lab3"}
TEMPLATE_ONLY = "extra"
TRUSTED_SERVICE = "lambda.amazonaws.com"


def fixed_by(logical_id: str, lab: str) -> str:
    """The lab that fixes a finding on this resource, or TEMPLATE_ONLY when no lab step does."""
    return lab if LAB_FIXES.get(logical_id) == lab else TEMPLATE_ONLY


def _finding(logical_id: str, physical_id: str, summary: str, lab: str) -> Finding:
    who = fixed_by(logical_id, lab)
    if who == TEMPLATE_ONLY:
        fix = "no lab step fixes it, only the template does (extra credit: `labrunner explain extra.template-secure`)"
    else:
        fix = f"{who} fixes it"
    return Finding(f"{logical_id} ({physical_id})" if logical_id else physical_id, summary, who, fix)


def _trust_findings(trust: Any, role: str, account: str) -> list[str]:
    """Who besides lambda.amazonaws.com the trust policy lets assume the role."""
    document = trust if isinstance(trust, str) else json.dumps(trust)
    try:
        principals = trusted_principals(urllib.parse.unquote(document) if document.startswith("%") else document)
    except PolicyParseError:
        return [f"the trust policy of {role} cannot be read"]
    out = []
    for principal in principals:
        if principal.kind == "service" and principal.value.lower() == TRUSTED_SERVICE:
            continue
        if principal.kind == "everyone":
            out.append("the trust policy lets anyone (*) assume the role")
            continue
        if principal.kind == "service":
            out.append(f"the trust policy lets the service {principal.value} assume the role, not only Lambda")
            continue
        owner = caller_from(principal.value).account or principal.value
        whose = "this account" if owner == account else "another account"
        what = "any user or role there that its admins allow" if principal.kind == "account" else "that principal"
        out.append(
            f"the trust policy lets {whose} ({owner}) assume the role, not only {TRUSTED_SERVICE}: "
            f"{principal.value} means {what}"
        )
    return out


def role_findings(client: Clients, role: str, account: str, logical_id: str = "") -> list[Finding]:
    """What is too broad about a role: admin-level managed policies, trust beyond Lambda, wildcard inline grants."""
    iam = client("iam")
    out: list[Finding] = []
    attached_answer, role_answer, inline_answer = together(
        lambda: iam.list_attached_role_policies(RoleName=role),
        lambda: iam.get_role(RoleName=role),
        lambda: iam.list_role_policies(RoleName=role),
    )
    attached = attached_answer.get("AttachedPolicies", [])
    for policy in attached:
        name = str(policy.get("PolicyName", ""))
        arn = str(policy.get("PolicyArn", ""))
        if name in ADMIN_LEVEL_POLICIES and ":iam::aws:policy/" in arn:
            summary = (
                f"the AWS managed policy {name} ({arn}) is attached: administrator-level power — way too "
                "much for a function that only writes items to one table"
                if logical_id == "MetadataLambdaRole"
                else f"the AWS managed policy {name} ({arn}) is attached: administrator-level power — way too much "
                "for a function that only does one job"
            )
            out.append(_finding(logical_id, role, summary, "lab3"))
    trust = role_answer["Role"].get("AssumeRolePolicyDocument")
    if trust:
        out += [_finding(logical_id, role, summary, "lab3") for summary in _trust_findings(trust, role, account)]
    names = inline_answer.get("PolicyNames", [])
    documents = fan_out(lambda name: iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"], names)
    for name, document in zip(names, documents, strict=True):
        statements = document.get("Statement", []) if isinstance(document, Mapping) else []
        statements = statements if isinstance(statements, list) else [statements]
        broad = sorted(
            {
                action
                for s in statements
                if isinstance(s, Mapping) and s.get("Effect") == "Allow" and s.get("Resource") in ("*", ["*"])
                for action in ([s.get("Action")] if isinstance(s.get("Action"), str) else s.get("Action") or [])
                if isinstance(action, str) and action.endswith("*")
            }
        )
        if broad:
            summary = f"the inline policy {name} allows {', '.join(broad)} on every resource (*)"
            out.append(_finding(logical_id, role, summary, "lab3"))
    return out


def bucket_findings(client: Clients, bucket: str, logical_id: str = "", *, log_target_of: str = "") -> list[Finding]:
    """Encryption and access logging, judged as lab 4 judges them: a log bucket (`log_target_of` names
    the bucket that logs into it) cannot log to itself, so it is exempt from logging."""
    s3 = client("s3")
    out = []
    encryption, logging = together(
        lambda: s3_settings.default_encryption(s3, bucket),
        lambda: None if log_target_of else s3_settings.access_logging(s3, bucket),
    )
    if encryption is None:
        summary = "the bucket has no default encryption: uploads are stored unencrypted"
        out.append(_finding(logical_id, bucket, summary, "lab2"))
    if not log_target_of and logging is None:
        summary = "server access logging is off: nobody can tell who read or wrote files"
        out.append(_finding(logical_id, bucket, summary, "lab2"))
    return out


def table_findings(client: Clients, table: str, logical_id: str = "") -> list[Finding]:
    """Beyond the labs: the table's encryption key and point-in-time recovery (only the template fixes them)."""
    dynamodb = client("dynamodb")
    out: list[Finding] = []
    try:
        described, backups = together(
            lambda: dynamodb.describe_table(TableName=table)["Table"],
            lambda: dynamodb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"],
        )
    except ClientError:
        return out
    if (described.get("SSEDescription") or {}).get("Status") not in ("ENABLED", "ENABLING"):
        summary = "the table is encrypted with an AWS owned key: its use is neither visible nor controllable here"
        out.append(_finding(logical_id, table, summary, TEMPLATE_ONLY))
    pitr = (backups.get("PointInTimeRecoveryDescription") or {}).get("PointInTimeRecoveryStatus")
    if pitr != "ENABLED":
        summary = "point-in-time recovery is off: a deleted or overwritten item cannot be restored"
        out.append(_finding(logical_id, table, summary, TEMPLATE_ONLY))
    return out


def build_inventory(
    client: Clients, stack: StackInfo, template: Mapping[str, Any], region: str, account: str
) -> Inventory:
    """Observe every stack resource live, the parts outside the stack, and the findings."""
    scope = _Scope(stack, template, region, account)
    resources = template.get("Resources", {})
    declared = tuple(lid for lid, body in resources.items() if not (isinstance(body, Mapping) and "Condition" in body))
    assets = fan_out(lambda res: _observe(client, res, scope), [r for r in stack.resources.values() if r.logical_id])
    findings: list[Finding] = []
    present = {a.logical_id: a for a in assets if a.state != "missing"}
    stack_ids = {a.physical_id for a in assets}
    buckets = [a for a in assets if a.type == "AWS::S3::Bucket" and a.logical_id in present]
    logs_into: dict[str, str] = {}  # log bucket -> a bucket that logs into it (lab 4's exemption)
    targets = fan_out(lambda bucket: s3_settings.access_logging(client("s3"), bucket.physical_id), buckets)
    for bucket, target in zip(buckets, targets, strict=True):
        if target is not None and target.target_bucket != bucket.physical_id:
            logs_into[target.target_bucket] = bucket.physical_id

    def parts_of(asset: Asset) -> tuple[Asset | None, list[Finding]]:
        """The asset outside the stack that belongs to `asset` (its log group or log bucket) and its findings."""
        if asset.type == "AWS::Lambda::Function":
            return _log_group(client, asset.physical_id, region, account), []
        if asset.type == "AWS::S3::Bucket":
            source = logs_into.get(asset.physical_id, "")
            log_bucket, found = together(
                lambda: _log_bucket(client, asset.physical_id, region, stack_ids),
                lambda: bucket_findings(client, asset.physical_id, asset.logical_id, log_target_of=source),
            )
            return log_bucket, found
        if asset.type == "AWS::IAM::Role":
            return None, role_findings(client, asset.physical_id, account, asset.logical_id)
        if asset.type == "AWS::DynamoDB::Table":
            return None, table_findings(client, asset.physical_id, asset.logical_id)
        return None, []

    for extra, found in fan_out(parts_of, [a for a in assets if a.logical_id in present]):
        if extra is not None:
            assets.append(extra)
        findings += found
    return Inventory(
        stack=stack, assets=(stack_asset(stack, region), *assets), findings=tuple(findings), declared=declared
    )
