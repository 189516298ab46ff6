"""Extra credit: every fix of labs 2 and 3 in the CloudFormation template, reviewed and deployed as code."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labrunner import paths
from labrunner.aws.cfn import deployed_template, first_failure_reason, load_template, wait_for_stack
from labrunner.aws.errors import error_code
from labrunner.aws.iam.checks import (
    admin_checks,
    basic_execution_checks,
    dynamodb_least_privilege_checks,
    sqs_least_privilege_checks,
    trust_policy_checks,
)
from labrunner.aws.iam.evaluators import StaticEvaluator
from labrunner.aws.iam.names import LAMBDA_SERVICE
from labrunner.aws.iam.resources import LabResources
from labrunner.aws.iam.roles import NamedPolicy, managed_policy_document
from labrunner.aws.inventory import ADMIN_LEVEL_POLICIES
from labrunner.aws.pipeline import upload_after
from labrunner.aws.policy import AccessRequest, PolicyParseError, caller_from, evaluate_resource_policy
from labrunner.aws.s3 import BLOCK_PUBLIC_ACCESS, LOG_DELIVERY_SERVICE, DefaultEncryption, log_bucket_encryption_problem
from labrunner.aws.template_source import TEMPLATE_ENV, StudentTemplate, env_template_path, student_template
from labrunner.aws.template_values import Names, Unresolvable, ref_target, resolve, template_resources, template_types
from labrunner.context import Context
from labrunner.discovery import load_labs_from
from labrunner.lint import cfn_lint
from labrunner.model import Check, Status, status_of
from labrunner.step import Lab, Poll, Step

SECURE_TEMPLATE = "cloudformation_template_secure.yaml"  # the reference `solve extra` deploys
LAB_LOGICAL_IDS = {
    "FileUploadsBucket": "AWS::S3::Bucket",
    "S3NotificationQueue": "AWS::SQS::Queue",
    "S3NotificationQueuePolicy": "AWS::SQS::QueuePolicy",
    "MetadataLambda": "AWS::Lambda::Function",
    "MetadataLambdaRole": "AWS::IAM::Role",
    "QueueLambdaSourceMapping": "AWS::Lambda::EventSourceMapping",
    "ObjectMetadataTable": "AWS::DynamoDB::Table",
}
# The lab 2 and 3 steps whose live checks the deployed stack must pass. Not included: the steps that
# wait on AWS's asynchronous delivery (lab2.encrypted-upload, lab2.logs-delivered) or replay a
# demo (lab3.access-denied).
LIVE_STEPS = (
    "lab2.encryption",
    "lab2.log-bucket",
    "lab2.access-logging",
    "lab3.trust-policy",
    "lab3.no-admin",
    "lab3.basic-execution",
    "lab3.dynamodb-least-privilege",
    "lab3.sqs-least-privilege",
    "lab3.pipeline",
)
PROBE_FILE = "The Lighthouse Keeper's Log.txt"
OTHER_ACCOUNT = "999999999999"
CHANGE_SET_PREFIX = "labrunner-secure-"


def template_path() -> Path:
    """The hardened template `solve extra` deploys: $LABRUNNER_SECURE_TEMPLATE, else the bundled reference."""
    return env_template_path() or paths.content_root() / SECURE_TEMPLATE


# -- the template's security findings ----------------------------------------------------------
@dataclass(frozen=True)
class Audit:
    """One template, with what its intrinsic functions evaluate to, and how to fix it (hint style)."""

    template: Mapping[str, Any]
    names: Names
    where: str  # "the template" / "the stack's deployed template"
    iam: Any

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return template_resources(self.template)

    def props(self, logical: str) -> dict[str, Any]:
        body = self.resources.get(logical) or {}
        props = body.get("Properties") or {}
        return props if isinstance(props, dict) else {}

    def prop(self, logical: str, *path: str) -> Any:
        value: Any = self.props(logical)
        for key in path:
            if isinstance(value, list):
                value = value[0] if value else None
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value

    def fix(self, text: str) -> str:
        return f"Edit {self.where}: {text}"


def _bucket_policy_of(audit: Audit, bucket_logical: str) -> tuple[str | None, Any]:
    """(logical id, resolved document) of the AWS::S3::BucketPolicy attached to a template bucket."""
    for logical, body in audit.resources.items():
        if body.get("Type") != "AWS::S3::BucketPolicy":
            continue
        if ref_target(audit.props(logical).get("Bucket")) == bucket_logical:
            return logical, resolve(audit.props(logical).get("PolicyDocument"), audit.names)
    return None, None


def _encryption(audit: Audit, logical: str) -> DefaultEncryption | None:
    default = audit.prop(
        logical, "BucketEncryption", "ServerSideEncryptionConfiguration", "ServerSideEncryptionByDefault"
    )
    if not isinstance(default, dict) or not default.get("SSEAlgorithm"):
        return None
    key = default.get("KMSMasterKeyID")
    return DefaultEncryption(str(default["SSEAlgorithm"]), str(resolve(key, audit.names)) if key else None)


def logical_id_checks(audit: Audit) -> list[Check]:
    types = template_types(audit.template)
    wrong = [f"{lid} ({kind})" for lid, kind in LAB_LOGICAL_IDS.items() if types.get(lid) != kind]
    if wrong:
        return [
            Check.fail(
                "lab logical ids kept",
                f"missing or of another type: {', '.join(wrong)}; a stack update would replace or delete them",
                audit.fix(f"keep the logical ids of cloudformation_template.yaml ({', '.join(LAB_LOGICAL_IDS)})."),
            )
        ]
    return [Check.ok("lab logical ids kept", "an update keeps the same seven lab resources")]


def upload_bucket_checks(audit: Audit) -> list[Check]:
    checks = []
    encryption = _encryption(audit, "FileUploadsBucket")
    if encryption is None:
        checks.append(
            Check.fail(
                "upload bucket default encryption",
                "FileUploadsBucket has no BucketEncryption",
                audit.fix(
                    "add to FileUploadsBucket's Properties: BucketEncryption → ServerSideEncryptionConfiguration → "
                    "- ServerSideEncryptionByDefault: {SSEAlgorithm: AES256}."
                ),
            )
        )
    else:
        checks.append(Check.ok("upload bucket default encryption", f"FileUploadsBucket: {encryption.label}"))
    return checks


def log_bucket_checks(audit: Audit) -> tuple[list[Check], str | None]:
    """Access logging to a separate, secured log bucket of the template; also its logical id."""
    destination = audit.prop("FileUploadsBucket", "LoggingConfiguration", "DestinationBucketName")
    log_logical = ref_target(destination)
    prefix = str(audit.prop("FileUploadsBucket", "LoggingConfiguration", "LogFilePrefix") or "")
    add_logging = audit.fix(
        "add a log bucket resource (e.g. AccessLogsBucket) and give FileUploadsBucket "
        "LoggingConfiguration: {DestinationBucketName: !Ref AccessLogsBucket, LogFilePrefix: upload-bucket/}."
    )
    if destination is None:
        return [Check.fail("access logging", "FileUploadsBucket has no LoggingConfiguration", add_logging)], None
    if log_logical == "FileUploadsBucket":
        return [
            Check.fail(
                "access logging",
                "FileUploadsBucket logs to itself: every log delivery would be logged again, without end",
                add_logging,
            )
        ], None
    if log_logical is None or template_types(audit.template).get(log_logical) != "AWS::S3::Bucket":
        return [
            Check.fail(
                "access logging",
                f"FileUploadsBucket logs to {destination!r}, which is not a bucket of this template",
                add_logging,
            )
        ], None
    checks = [Check.ok("access logging", f"FileUploadsBucket logs to {log_logical}/{prefix}")]
    body = audit.resources[log_logical]
    blocked = audit.prop(log_logical, "PublicAccessBlockConfiguration") or {}
    off = [name for name in BLOCK_PUBLIC_ACCESS if not (isinstance(blocked, dict) and blocked.get(name) is True)]
    if off:
        checks.append(
            Check.fail(
                "log bucket blocks public access",
                f"{log_logical} lacks {', '.join(off)}",
                audit.fix(f"give {log_logical} PublicAccessBlockConfiguration with all four settings true."),
            )
        )
    else:
        checks.append(Check.ok("log bucket blocks public access", f"{log_logical}: all four settings on"))
    problem = log_bucket_encryption_problem(_encryption(audit, log_logical))
    if problem:
        checks.append(
            Check.fail(
                "log bucket encrypted",
                f"{log_logical}: {problem}",
                audit.fix(f"give {log_logical} BucketEncryption with SSEAlgorithm AES256 (SSE-S3)."),
            )
        )
    else:
        encryption = _encryption(audit, log_logical)
        label = encryption.label if encryption else "?"
        checks.append(Check.ok("log bucket encrypted", f"{log_logical}: {label}"))
    if body.get("DeletionPolicy") == "Retain":
        checks.append(Check.ok("log bucket retained", f"{log_logical} has DeletionPolicy: Retain"))
    else:
        checks.append(
            Check.fail(
                "log bucket retained",
                f"{log_logical} would be deleted with the stack, and the audit trail with it",
                audit.fix(f"add DeletionPolicy: Retain (and UpdateReplacePolicy: Retain) to {log_logical}."),
            )
        )
    checks.append(_log_delivery_check(audit, log_logical, prefix))
    return checks, log_logical


def _log_delivery_check(audit: Audit, log_logical: str, prefix: str) -> Check:
    name = "log delivery allowed, scoped"
    policy_logical, document = _bucket_policy_of(audit, log_logical)
    log_arn = audit.names.attribute(log_logical, "Arn")
    source_arn = audit.names.attribute("FileUploadsBucket", "Arn")
    add = audit.fix(
        f"add an AWS::S3::BucketPolicy for {log_logical}: Allow Service {LOG_DELIVERY_SERVICE} s3:PutObject on "
        f"${{{log_logical}.Arn}}/{prefix}*, Condition ArnLike aws:SourceArn !GetAtt FileUploadsBucket.Arn and "
        "StringEquals aws:SourceAccount !Ref AWS::AccountId."
    )
    if document is None:
        return Check.fail(name, f"{log_logical} has no bucket policy: S3 cannot deliver logs to it", add)

    def allowed(source: str, account: str) -> bool:
        request = AccessRequest(
            "s3:PutObject",
            f"{log_arn}/{prefix}2024-01-01-00-00-00-0123456789ABCDEF",
            caller=caller_from(LOG_DELIVERY_SERVICE),
            context={"aws:SourceArn": source, "aws:SourceAccount": account},
        )
        return evaluate_resource_policy(document, request).decision.allowed

    try:
        ours = allowed(source_arn, audit.names.account)
        foreign = allowed(f"arn:{audit.names.partition}:s3:::someone-elses-bucket", OTHER_ACCOUNT)
    except PolicyParseError as exc:
        return Check.fail(name, f"the bucket policy {policy_logical} cannot be read: {exc}", add)
    if not ours:
        return Check.fail(
            name, f"{policy_logical} does not let {LOG_DELIVERY_SERVICE} put FileUploadsBucket's logs", add
        )
    if foreign:
        return Check.fail(
            name,
            f"{policy_logical} lets {LOG_DELIVERY_SERVICE} put logs of any bucket of any account (confused deputy)",
            audit.fix(
                "scope the log delivery statement with Condition ArnLike aws:SourceArn !GetAtt "
                "FileUploadsBucket.Arn and StringEquals aws:SourceAccount !Ref AWS::AccountId."
            ),
        )
    return Check.ok(name, f"{policy_logical} lets {LOG_DELIVERY_SERVICE} deliver FileUploadsBucket's logs only")


def tls_only_checks(audit: Audit, buckets: Iterable[str]) -> list[Check]:
    """Beyond the lab (SC-8): every request without TLS is denied, with TLS the policy denies nothing."""
    checks = []
    for bucket in buckets:
        policy_logical, document = _bucket_policy_of(audit, bucket)
        name = f"{bucket} TLS only"
        hint = audit.fix(
            f"add to {bucket}'s bucket policy: Effect Deny, Principal '*', Action s3:*, Resource the bucket and "
            "its objects, Condition Bool aws:SecureTransport false."
        )
        if document is None:
            checks.append(Check.fail(name, f"{bucket} has no bucket policy: plain HTTP requests are accepted", hint))
            continue
        arn = audit.names.attribute(bucket, "Arn")

        def decision(secure: str, arn: str = arn, document: Any = document) -> Any:
            caller = caller_from(f"arn:{audit.names.partition}:iam::{audit.names.account}:root")
            request = AccessRequest(
                "s3:GetObject", f"{arn}/any-key", caller=caller, context={"aws:SecureTransport": secure}
            )
            return evaluate_resource_policy(document, request).decision

        try:
            plain, secure = decision("false"), decision("true")
        except PolicyParseError as exc:
            checks.append(Check.fail(name, f"the bucket policy {policy_logical} cannot be read: {exc}", hint))
            continue
        if not plain.explicit_deny:
            checks.append(Check.fail(name, f"{policy_logical} does not deny requests without TLS", hint))
        elif secure.explicit_deny:
            checks.append(
                Check.fail(
                    name,
                    f"{policy_logical} denies requests over TLS too: the workload could not use {bucket}",
                    audit.fix(f"limit the Deny of {policy_logical} with Condition Bool aws:SecureTransport false."),
                )
            )
        else:
            checks.append(Check.ok(name, f"{policy_logical} denies every request to {bucket} without TLS"))
    return checks


def data_checks(audit: Audit) -> list[Check]:
    """Beyond the lab: DynamoDB encryption and point-in-time recovery, SQS encryption."""
    checks = []
    sse = audit.prop("ObjectMetadataTable", "SSESpecification") or {}
    if isinstance(sse, dict) and (sse.get("SSEEnabled") is True or str(sse.get("SSEEnabled")).lower() == "true"):
        checks.append(Check.ok("table encrypted with KMS", "ObjectMetadataTable: SSESpecification SSEEnabled"))
    else:
        checks.append(
            Check.fail(
                "table encrypted with KMS",
                "ObjectMetadataTable uses the AWS owned key: its use is not visible or controllable in the account",
                audit.fix("give ObjectMetadataTable SSESpecification: {SSEEnabled: true}."),
            )
        )
    pitr = audit.prop("ObjectMetadataTable", "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled")
    if pitr is True or str(pitr).lower() == "true":
        checks.append(Check.ok("table point-in-time recovery", "ObjectMetadataTable can be restored to any second"))
    else:
        checks.append(
            Check.fail(
                "table point-in-time recovery",
                "ObjectMetadataTable has no point-in-time recovery: a bad write cannot be undone",
                audit.fix(
                    "give ObjectMetadataTable PointInTimeRecoverySpecification: {PointInTimeRecoveryEnabled: true}."
                ),
            )
        )
    queue = audit.props("S3NotificationQueue")
    managed = queue.get("SqsManagedSseEnabled")
    if managed is True or str(managed).lower() == "true" or queue.get("KmsMasterKeyId"):
        how = "SSE-KMS" if queue.get("KmsMasterKeyId") else "SSE-SQS"
        checks.append(Check.ok("queue encrypted", f"S3NotificationQueue: {how}"))
    else:
        checks.append(
            Check.fail(
                "queue encrypted",
                "S3NotificationQueue does not say how its messages are encrypted at rest",
                audit.fix("give S3NotificationQueue SqsManagedSseEnabled: true."),
            )
        )
    return checks


def role_policies(audit: Audit) -> tuple[dict[str, Any], list[NamedPolicy], list[NamedPolicy]]:
    """The role's trust policy, inline policies and managed policies, resolved."""
    props = audit.props("MetadataLambdaRole")
    trust = resolve(props.get("AssumeRolePolicyDocument") or {}, audit.names)
    inline = [
        NamedPolicy(str(p.get("PolicyName", f"policy{i}")), "role", resolve(p.get("PolicyDocument") or {}, audit.names))
        for i, p in enumerate(props.get("Policies") or [], start=1)
        if isinstance(p, dict)
    ]
    managed = []
    for value in props.get("ManagedPolicyArns") or []:
        arn = str(resolve(value, audit.names))
        managed.append(
            NamedPolicy(arn.rsplit("/", 1)[-1], _managed_source(arn), managed_policy_document(audit.iam, arn), arn)
        )
    return trust, inline, managed


def _managed_source(arn: str) -> str:
    return "aws-managed" if ":iam::aws:policy/" in arn else "user-managed"


def role_checks(audit: Audit) -> list[Check]:
    """Lab 3's semantic checks, on the template's role policies.

    A template is a document, not a principal: its policies are judged by the same evaluator the
    local AWS enforces with (labrunner.aws.policy; tests/aws/test_iam_checks.py holds it to IAM's
    simulator), client-side — no dozen simulator round trips for a static file. The live role of
    the deployed stack is still judged by IAM's simulator (extra.stack-secure re-uses lab 3)."""
    names = audit.names
    res = LabResources(
        account=names.account,
        region=names.region,
        role_name=names.name_of("MetadataLambdaRole"),
        table=names.name_of("ObjectMetadataTable"),
        queue=names.name_of("S3NotificationQueue"),
        function=names.name_of("MetadataLambda"),
    )
    trust, inline, managed = role_policies(audit)
    evaluator = StaticEvaluator(inline + managed)
    found = [
        *trust_policy_checks(trust, role=res.role_name),
        *admin_checks(evaluator, res, managed),
        *basic_execution_checks(evaluator, res, inline + managed),
        *dynamodb_least_privilege_checks(evaluator, res),
        *sqs_least_privilege_checks(evaluator, res),
    ]
    return [_in_template(check, audit) for check in found]


def _in_template(check: Check, audit: Audit) -> Check:
    """A lab-3 check about the template: the fix is an edit of MetadataLambdaRole, not a console click."""
    if check.passed:
        return Check.ok(f"role: {check.name}", check.detail)
    edits = {
        "only Lambda may assume the role": f"keep only Principal Service {LAMBDA_SERVICE} in AssumeRolePolicyDocument.",
        "Lambda may assume the role": (
            f"allow Principal Service {LAMBDA_SERVICE} sts:AssumeRole in AssumeRolePolicyDocument."
        ),
        "no administrator policy attached": "remove administrator / job-function ARNs from ManagedPolicyArns.",
        "the function may write its logs": (
            "add !Sub arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole "
            "to ManagedPolicyArns."
        ),
    }
    hint = edits.get(
        check.name,
        "give MetadataLambdaRole exactly: inline DynamoDbPutItemOnly (dynamodb:PutItem on !GetAtt "
        "ObjectMetadataTable.Arn), inline RetrieveSqsMessages (sqs:GetQueueAttributes, ReceiveMessage, "
        "DeleteMessage on !GetAtt S3NotificationQueue.Arn), AWSLambdaBasicExecutionRole; nothing else.",
    )
    return Check.fail(f"role: {check.name}", check.detail, audit.fix(f"in MetadataLambdaRole, {hint}"))


def other_role_checks(audit: Audit) -> list[Check]:
    """Every other role of the template (e.g. a custom-resource function's): least privilege too.

    No lab step secures them — lab 3 is about MetadataLambdaRole — so only the template can."""
    checks = []
    for logical, body in audit.resources.items():
        if body.get("Type") != "AWS::IAM::Role" or logical == "MetadataLambdaRole":
            continue
        props = audit.props(logical)
        admin = sorted(
            {
                arn.rsplit("/", 1)[-1]
                for arn in (str(resolve(v, audit.names)) for v in props.get("ManagedPolicyArns") or [])
                if ":iam::aws:policy/" in arn and arn.rsplit("/", 1)[-1] in ADMIN_LEVEL_POLICIES
            }
        )
        wide = sorted(
            {
                f"{action} on *"
                for policy in props.get("Policies") or []
                if isinstance(policy, dict)
                for statement in _statements(resolve(policy.get("PolicyDocument") or {}, audit.names))
                if statement.get("Effect") == "Allow" and statement.get("Resource") in ("*", ["*"])
                for action in _as_list(statement.get("Action"))
                if isinstance(action, str) and action.endswith("*")
            }
        )
        name = f"role {logical}: least privilege"
        if admin or wide:
            parts = ([f"carries {', '.join(admin)} (administrator-level)"] if admin else []) + (
                [f"allows {', '.join(wide)}"] if wide else []
            )
            checks.append(
                Check.fail(
                    name,
                    f"{logical} {'; '.join(parts)} — no lab step fixes this role, only the template",
                    audit.fix(
                        f"in {logical}, remove administrator / job-function ARNs from ManagedPolicyArns and wildcard "
                        "statements; keep AWSLambdaBasicExecutionRole and only the actions its function calls, on "
                        "its resources (e.g. s3:PutBucketNotification on !GetAtt FileUploadsBucket.Arn)."
                    ),
                )
            )
        else:
            checks.append(Check.ok(name, f"{logical}: no administrator policy, no wildcard action on *"))
    return checks


def _statements(document: Any) -> list[dict[str, Any]]:
    raw = document.get("Statement", []) if isinstance(document, dict) else []
    return [st for st in _as_list(raw) if isinstance(st, dict)]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def queue_policy_checks(audit: Audit) -> list[Check]:
    """The queue policy lets S3 send the upload bucket's events, and no other bucket's (confused deputy)."""
    name = "queue policy: only the upload bucket may send"
    document = None
    for logical, body in audit.resources.items():
        if body.get("Type") == "AWS::SQS::QueuePolicy" and any(
            ref_target(q) == "S3NotificationQueue" for q in _as_list(audit.props(logical).get("Queues"))
        ):
            document = resolve(audit.props(logical).get("PolicyDocument"), audit.names)
    scope = audit.fix(
        "keep in S3NotificationQueuePolicy's statement for Service s3.amazonaws.com a Condition ArnLike "
        "aws:SourceArn (the upload bucket's ARN) and StringEquals aws:SourceAccount !Ref AWS::AccountId."
    )
    if document is None:
        return [Check.fail(name, "S3NotificationQueue has no queue policy: S3 cannot send it events", scope)]
    queue_arn = audit.names.attribute("S3NotificationQueue", "Arn")

    def allowed(source: str, account: str) -> bool:
        request = AccessRequest(
            "sqs:SendMessage",
            queue_arn,
            caller=caller_from("s3.amazonaws.com"),
            context={"aws:SourceArn": source, "aws:SourceAccount": account},
        )
        return evaluate_resource_policy(document, request).decision.allowed

    try:
        ours = allowed(audit.names.attribute("FileUploadsBucket", "Arn"), audit.names.account)
        foreign = allowed(f"arn:{audit.names.partition}:s3:::someone-elses-bucket", OTHER_ACCOUNT)
    except PolicyParseError as exc:
        return [Check.fail(name, f"the queue policy cannot be read: {exc}", scope)]
    if not ours:
        return [Check.fail(name, "the queue policy does not let S3 send FileUploadsBucket's events", scope)]
    if foreign:
        return [
            Check.fail(
                name,
                "the queue policy lets s3.amazonaws.com send without aws:SourceArn or aws:SourceAccount: any "
                "bucket of any account could send events into the pipeline (confused deputy)",
                scope,
            )
        ]
    return [Check.ok(name, "s3.amazonaws.com may send FileUploadsBucket's events only (aws:SourceArn/SourceAccount)")]


def audit_checks(audit: Audit) -> list[Check]:
    """Every fix of labs 2 and 3, and the extras, in the template."""
    checks = logical_id_checks(audit)
    if not checks[0].passed:
        return checks
    checks += upload_bucket_checks(audit)
    logging_checks, log_logical = log_bucket_checks(audit)
    checks += logging_checks
    checks += tls_only_checks(audit, ["FileUploadsBucket"] + ([log_logical] if log_logical else []))
    checks += queue_policy_checks(audit)
    checks += role_checks(audit)
    checks += other_role_checks(audit)
    checks += data_checks(audit)
    return checks


def lint_checks(text: str, region: str) -> list[Check]:
    """cfn-lint (errors and warnings; informational findings do not fail)."""
    matches = cfn_lint(text, region)
    if not matches:
        return [Check.ok("cfn-lint", "no errors or warnings")]
    shown = "; ".join(f"{m.rule} line {m.line}: {m.message}" for m in matches[:5])
    more = f" (+{len(matches) - 5} more)" if len(matches) > 5 else ""
    return [
        Check.fail(
            "cfn-lint",
            f"{len(matches)} finding(s): {shown}{more}",
            "Run `cfn-lint` on the template and fix what it reports (line numbers above).",
        )
    ]


# -- the live checks of labs 2 and 3 -------------------------------------------------------------
def live_steps() -> dict[str, Step]:
    """The lab 2 and 3 steps whose verify extra.stack-secure re-uses (as loaded by the catalogue)."""
    found: dict[str, Step] = {}
    for module in list(sys.modules.values()):
        lab = getattr(module, "LAB", None)
        if isinstance(lab, Lab) and lab.id in ("lab2", "lab3"):
            found.update({s.id: s for s in lab.steps})
    if not all(step_id in found for step_id in LIVE_STEPS):
        for lab in load_labs_from(paths.labs_dir()):
            if lab.id in ("lab2", "lab3"):
                found.update({s.id: s for s in lab.steps})
    return found


def live_check(ctx: Context, step: Step, *, template_fixed: bool) -> Check:
    """One lab step's verdict on the live account, as one check.

    When the deployed template carries the fixes, a live failure is drift (changed outside
    CloudFormation); otherwise the stack simply has not been updated yet.
    """
    name = f"{step.id} live"
    try:
        checks = ctx.verify_step(step)
    except Exception as exc:  # the step's own errors: reported, the others still run
        code = error_code(exc) or type(exc).__name__
        return Check.fail(name, f"{step.id} could not be checked ({code}: {exc})", step.hint)
    status = status_of(checks)
    if status is Status.PASS:
        return Check.ok(name, f"{step.title}: met")
    bad = next((c for c in checks if not c.passed and not c.pending), None)
    if bad is None:
        waiting = next(c for c in checks if c.pending)
        return Check.waiting(name, f"{step.title}: {waiting.detail}", waiting.hint)
    if template_fixed:
        return Check.fail(
            name,
            f"{step.title}: {bad.detail} — the live account differs from the stack's template (a change made "
            "outside CloudFormation: drift, CM-3)",
            f"{bad.hint} (CloudFormation → the stack → Stack actions → Detect drift shows such changes.)",
        )
    return Check.fail(
        name,
        f"{step.title}: {bad.detail}",
        "Update the stack from the hardened template (`labrunner solve extra`), which fixes this too.",
    )


# -- steps -----------------------------------------------------------------------------------
def _read_template(path: Path) -> tuple[str, dict[str, Any]]:
    text = path.read_text()
    return text, load_template(text)


class TemplateSecure(Step):
    id = "extra.template-secure"
    title = "The hardened template codifies every fix of labs 2 and 3"
    controls = ("CM-2", "CM-3")
    why = """
        A fix made in the console is undone by the next stack update and is invisible to review.
        Written into the template, security becomes part of the baseline configuration (CM-2)
        and goes through change control like any code (CM-3). Graded is YOUR template: the one
        deployed in the stack (CloudFormation → the stack → Template, as uploaded), or the file
        named with $LABRUNNER_SECURE_TEMPLATE — never labrunner's own answer key. Without a stack
        and without such a file there is nothing to grade, and the step fails.

        Your template must keep the lab's seven logical ids (FileUploadsBucket, S3NotificationQueue,
        S3NotificationQueuePolicy, MetadataLambda, MetadataLambdaRole, QueueLambdaSourceMapping,
        ObjectMetadataTable) and contain:
        - FileUploadsBucket: BucketEncryption (SSE-S3 or SSE-KMS) and a LoggingConfiguration to a
          separate log bucket of the template;
        - the log bucket: all four PublicAccessBlockConfiguration settings, BucketEncryption
          AES256 (SSE-S3), DeletionPolicy Retain, and an AWS::S3::BucketPolicy that lets
          logging.s3.amazonaws.com put objects, scoped with aws:SourceArn (the upload bucket)
          and aws:SourceAccount;
        - S3NotificationQueuePolicy: S3 may send only the upload bucket's events (aws:SourceArn
          and/or aws:SourceAccount — no confused deputy);
        - MetadataLambdaRole: trusted by lambda.amazonaws.com only, no administrator or
          job-function policy, AWSLambdaBasicExecutionRole, PutItem on the table and the three
          SQS actions on the queue, nothing else (the same semantic checks as lab 3, statically);
        - every other role (e.g. a custom resource's function role): no administrator policy and
          no wildcard action on *;
        - beyond the lab: TLS-only bucket policies, table SSESpecification and point-in-time
          recovery, SqsManagedSseEnabled (or a KMS key) on the queue.
        It must also parse (a syntax error fails with its line and column; unquoted YAML dates
        such as Version: 2012-10-17 are fine, as in CloudFormation) and pass cfn-lint.
    """
    console = """
        Start from the template your stack runs (CloudFormation → the stack → Template → copy) and
        edit it: BucketEncryption on FileUploadsBucket; a new AWS::S3::Bucket for logs with
        PublicAccessBlockConfiguration, BucketEncryption and DeletionPolicy: Retain, and an
        AWS::S3::BucketPolicy allowing logging.s3.amazonaws.com; LoggingConfiguration on
        FileUploadsBucket; in MetadataLambdaRole only the lambda.amazonaws.com trust statement,
        ManagedPolicyArns AWSLambdaBasicExecutionRole, inline policies DynamoDbPutItemOnly and
        RetrieveSqsMessages; the same care for any other role; TLS-only bucket policies,
        SSESpecification and PointInTimeRecoverySpecification on the table, SqsManagedSseEnabled
        on the queue. Run `cfn-lint` on it, then update the stack with it (CloudFormation → Update
        → Replace existing template), or point LABRUNNER_SECURE_TEMPLATE at the file to have it
        graded before you deploy it.
    """
    automation = """
        Updates the stack from labrunner's reference hardened template
        (cloudformation_template_secure.yaml) through a reviewed change set — the answer key, which
        is then what the stack runs and what is graded. With $LABRUNNER_SECURE_TEMPLATE set, the
        file is the student's: solve changes nothing here and grades it.
    """
    hint = (
        "Write your hardened template with every fix of labs 2 and 3 and update the stack with it "
        "(or name the file with LABRUNNER_SECURE_TEMPLATE); see `labrunner explain extra.template-secure`."
    )
    poll = Poll(deadline_s=90, interval_s=1)

    def apply(self, ctx: Context) -> bool:
        if env_template_path() is not None or ctx.find_stack() is None:
            return False  # a student's file is theirs to write; without a stack there is nothing to update
        return update_stack(ctx, paths.content_root() / SECURE_TEMPLATE)

    def verify(self, ctx: Context) -> Iterable[Check]:
        source = student_template(ctx)
        if source is None:
            yield Check.fail(
                "template to grade",
                f"there is no stack {ctx.stack_name} and no file named with {TEMPLATE_ENV}: nothing to grade",
                f"Deploy the workload (`labrunner up`) and update it with your hardened template, or set "
                f"{TEMPLATE_ENV}=path/to/your-template.yaml.",
            )
            return
        if source.template is None:
            yield Check.fail(
                "template parses",
                f"{source.origin} does not parse: {source.error}",
                f"Fix the YAML / JSON syntax of {source.short} at that line and column (`cfn-lint` shows it too).",
            )
            return
        yield Check.ok("template to grade", f"grading {source.origin}")
        yield from lint_checks(source.text, ctx.region)
        audit = Audit(source.template, self._names(ctx, source), source.short, ctx.client("iam"))
        try:
            yield from audit_checks(audit)
        except Unresolvable as exc:
            yield Check.fail(
                "template analysis",
                f"{source.short} uses {exc}, which cannot be evaluated statically",
                "Write the security-relevant properties without conditions or imports.",
            )

    @staticmethod
    def _names(ctx: Context, source: StudentTemplate) -> Names:
        assert source.template is not None
        info = ctx.find_stack() if env_template_path() is None else None
        if info is not None:
            return Names.deployed(source.template, info, ctx.account_id, ctx.region)
        return Names.static(source.template, ctx.account_id, ctx.region, ctx.stack_name)


def update_stack(ctx: Context, path: Path) -> bool:
    """Update the stack from a template through a reviewed change set; prove the pipeline still works."""
    cfn = ctx.client("cloudformation")
    info = ctx.stack()
    text, template = _read_template(path)
    if deployed_template(cfn, info.stack_id) == template:
        ctx.note(f"stack {info.name} already runs {path.name}")
        return False
    changes = _change_set(ctx, cfn, info.name, text, path.name)
    if changes is None:
        return False
    started = time.time() - 1
    cfn.execute_change_set(ChangeSetName=changes, StackName=info.name)
    final = wait_for_stack(cfn, info.name, ctx.note, since=started)
    if final != "UPDATE_COMPLETE":
        raise RuntimeError(f"stack {info.name} ended {final}: {first_failure_reason(cfn, info.name)}")
    ctx.refresh()
    bucket = ctx.workload().bucket
    # The update changed the role's permissions: lab3.pipeline accepts only an upload in a later
    # second than that change, and the stack's last event is no earlier than it.
    events = cfn.describe_stack_events(StackName=info.name)["StackEvents"]  # newest first
    updated = max(e["Timestamp"] for e in events)
    key = upload_after(ctx.client("s3"), bucket, paths.sample_files_dir() / PROBE_FILE, updated)
    ctx.note(f"uploaded {key!r} to s3://{bucket} to prove the pipeline works with the hardened stack")
    return True


def _change_set(ctx: Context, cfn: Any, stack: str, text: str, file: str) -> str | None:
    """Create the change set and note its changes; its name, or None when it changes nothing."""
    name = f"{CHANGE_SET_PREFIX}{int(time.time())}"
    cfn.create_change_set(
        StackName=stack,
        ChangeSetName=name,
        TemplateBody=text,
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        ChangeSetType="UPDATE",
        Description=f"labrunner: update {stack} from {file}",
    )
    described = _wait_for_change_set(cfn, stack, name)
    changes = [c["ResourceChange"] for c in described.get("Changes", []) if "ResourceChange" in c]
    if described["Status"] == "FAILED":
        cfn.delete_change_set(ChangeSetName=name, StackName=stack)
        reason = described.get("StatusReason", "no reason given")
        if not changes:
            # CloudFormation fails a change set that changes nothing; verify judges the rest.
            ctx.note(f"change set {name} changes nothing ({reason})")
            return None
        raise RuntimeError(f"change set {name} failed: {reason}")
    ctx.note(f"change set {name} ({len(changes)} change(s)):")
    for change in changes:
        ctx.note("  " + _describe_change(change))
    ctx.emit("change_set", {"name": name, "changes": [_describe_change(c) for c in changes]})
    return name


class StackSecure(Step):
    id = "extra.stack-secure"
    title = "The live stack runs the hardened template"
    controls = ("CM-2", "CM-6")
    prefetch = ("role", "buckets")
    requires = ("setup.stack", "extra.template-secure")
    why = """
        The hardened template only protects what it is deployed to. Passes when the stack's
        deployed template carries every fix (the same checks as extra.template-secure, on the
        template CloudFormation holds), and the live checks of labs 2 and 3 pass on the account — so a
        change made in the console afterwards (e.g. SystemAdministrator attached again) fails it as
        drift, and a fix made only in the console (not in the template) fails it too: the next
        update would undo it (CM-3).
    """
    console = """
        CloudFormation → Stacks → immersion → Update → Replace existing template → Upload a
        template file → cloudformation_template_secure.yaml → Next → Next → acknowledge IAM
        resources → review the change set (the role's policies, the buckets, the queue and the
        table are modified; an access-log bucket and two bucket policies are added) → Submit.
        Wait for UPDATE_COMPLETE, then upload a file to check the pipeline still works.
    """
    automation = """
        Creates a change set from the hardened template (no change set when the stack already runs
        it), notes every change, executes it and waits for UPDATE_COMPLETE, then uploads
        sample_s3_files/The Lighthouse Keeper's Log.txt to prove the pipeline works with the
        least-privilege role.
    """
    hint = "Update the stack with the hardened template: `labrunner solve extra`, or CloudFormation → Update."
    poll = Poll(deadline_s=90, interval_s=1)

    def apply(self, ctx: Context) -> bool:
        return update_stack(ctx, template_path())

    def verify(self, ctx: Context) -> Iterable[Check]:
        info = ctx.stack()
        cfn = ctx.client("cloudformation")
        template = deployed_template(cfn, info.stack_id)
        names = Names.deployed(template, info, ctx.account_id, ctx.region)
        audit = Audit(
            template, names, f"the template of stack {info.name} (update it from {SECURE_TEMPLATE})", ctx.client("iam")
        )
        try:
            findings = audit_checks(audit)
        except Unresolvable as exc:
            findings = [Check.fail("deployed template", f"uses {exc}", self.hint)]
        missing = [c for c in findings if not c.passed]
        if missing:
            listed = "; ".join(f"{c.name}: {c.detail}" for c in missing[:6])
            more = f" (+{len(missing) - 6} more)" if len(missing) > 6 else ""
            yield Check.fail(
                "deployed template carries the fixes",
                f"{len(missing)} fix(es) missing from the stack's template: {listed}{more}. Fixes made only in "
                "the console are undone by the next stack update (CM-3).",
                f"Update the stack {info.name} from {SECURE_TEMPLATE}: `labrunner solve extra`, or CloudFormation → "
                f"{info.name} → Update → Replace existing template → upload {SECURE_TEMPLATE} → Submit.",
            )
        else:
            yield Check.ok(
                "deployed template carries the fixes", f"{len(findings)} checks on the stack's template pass"
            )
        yield live_queue_policy_check(ctx)
        steps = live_steps()
        for step_id in LIVE_STEPS:
            step = steps.get(step_id)
            if step is None:
                yield Check.fail(f"{step_id} live", f"the step {step_id} is not installed", "Reinstall labrunner.")
                continue
            yield live_check(ctx, step, template_fixed=not missing)


def live_queue_policy_check(ctx: Context) -> Check:
    """The live queue policy still keeps other buckets and accounts out (confused deputy)."""
    name = "queue policy live: only the upload bucket may send"
    workload = ctx.workload()
    attrs = ctx.client("sqs").get_queue_attributes(QueueUrl=workload.queue_url, AttributeNames=["Policy"])
    policy = attrs.get("Attributes", {}).get("Policy")
    hint = (
        f"SQS → {workload.queue_name} → Access policy: give the s3.amazonaws.com statement Condition ArnLike "
        "aws:SourceArn (the upload bucket's ARN) and StringEquals aws:SourceAccount (this account), or update "
        "the stack from a template that does."
    )
    if not policy:
        return Check.fail(name, f"{workload.queue_name} has no access policy: S3 cannot send it events", hint)
    foreign = AccessRequest(
        "sqs:SendMessage",
        workload.queue_arn,
        caller=caller_from("s3.amazonaws.com"),
        context={"aws:SourceArn": "arn:aws:s3:::someone-elses-bucket", "aws:SourceAccount": OTHER_ACCOUNT},
    )
    try:
        open_to_all = evaluate_resource_policy(policy, foreign).decision.allowed
    except PolicyParseError as exc:
        return Check.fail(name, f"the access policy of {workload.queue_name} cannot be read: {exc}", hint)
    if open_to_all:
        return Check.fail(
            name,
            f"{workload.queue_name} lets s3.amazonaws.com send without aws:SourceArn or aws:SourceAccount: any "
            "bucket of any account could send events into the pipeline (confused deputy)",
            hint,
        )
    return Check.ok(name, f"{workload.queue_name}: S3 may send only for this account's upload bucket")


def _wait_for_change_set(cfn: Any, stack: str, name: str, timeout_s: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    delay = 0.2
    while True:
        described: dict[str, Any] = cfn.describe_change_set(ChangeSetName=name, StackName=stack)
        if described["Status"] in ("CREATE_COMPLETE", "FAILED"):
            pages = [described]
            while pages[-1].get("NextToken"):
                pages.append(
                    cfn.describe_change_set(ChangeSetName=name, StackName=stack, NextToken=pages[-1]["NextToken"])
                )
            described["Changes"] = [c for page in pages for c in page.get("Changes", [])]
            return described
        if time.monotonic() > deadline:
            raise TimeoutError(f"change set {name} still {described['Status']} after {timeout_s:.0f} s")
        time.sleep(delay)
        delay = min(delay * 1.5, 3.0)


def _describe_change(change: Mapping[str, Any]) -> str:
    action = change.get("Action", "?")
    what = f"{action} {change.get('LogicalResourceId', '?')} ({change.get('ResourceType', '?')})"
    if action == "Modify":
        scopes = ", ".join(change.get("Scope", []))
        props = sorted(
            {
                d["Target"].get("Name", "")
                for d in change.get("Details", [])
                if isinstance(d.get("Target"), dict) and d["Target"].get("Name")
            }
        )
        replacement = change.get("Replacement", "False")
        what += f": {scopes or 'properties'}"
        if props:
            what += f" ({', '.join(props)})"
        if replacement not in ("False", False):
            what += f" — replacement: {replacement}"
    return what


LAB = Lab(
    id="extra",
    title="Extra credit: secure the workload in CloudFormation",
    order=50,
    summary=(
        "Codify every fix of labs 2 and 3 (and TLS-only buckets, DynamoDB and SQS encryption) in the template, "
        "check it statically, and update the live stack from it through a reviewed change set."
    ),
    steps=(TemplateSecure(), StackSecure()),
)
