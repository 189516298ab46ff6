"""AWS Config for lab 4: the recorder, its delivery channel, managed rules and their verdicts.

Everything here reads or writes Config through its own API (as the console does); what a rule
*should* say about a bucket is worked out from the bucket's real settings, so a lab can check
that Config's verdicts agree with them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from botocore.exceptions import ClientError

from labrunner.aws.errors import is_code
from labrunner.aws.s3 import (
    BLOCK_PUBLIC_ACCESS,
    LAB_TAG,
    access_logging,
    bucket_exists,
    bucket_policy,
    default_encryption,
    public_access_block,
)
from labrunner.aws.stack import partition

S3_BUCKET = "AWS::S3::Bucket"
CONFIG_SERVICE = "config.amazonaws.com"
SERVICE_LINKED_ROLE = "AWSServiceRoleForConfig"
DEFAULT_NAME = "default"  # what the console names the recorder and the delivery channel

Note = Callable[[str], None]
Verdict = Literal["COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE", "INSUFFICIENT_DATA"]


@dataclass(frozen=True)
class RuleSpec:
    """A managed rule the lab adds: its lab name and the managed rule it runs."""

    name: str
    source_identifier: str
    what: str  # what the rule wants, for details and hints


LOGGING_RULE = RuleSpec("s3-bucket-logging-enabled", "S3_BUCKET_LOGGING_ENABLED", "server access logging")
ENCRYPTION_RULE = RuleSpec(
    "s3-bucket-server-side-encryption-enabled",
    "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED",
    "default encryption",
)
LAB_RULES = (LOGGING_RULE, ENCRYPTION_RULE)
# Buckets lab 4's solve creates (SPEC §4 names the demo bucket; the delivery bucket is tagged too).
DEMO_BUCKET_PREFIX = "immersion-config-demo-"
DELIVERY_BUCKET_PREFIX = "immersion-config-delivery-"


def demo_bucket_name(suffix: str) -> str:
    """The lab text's name of the demo bucket; solve adds a random part (aws/lab_buckets.py)."""
    return f"{DEMO_BUCKET_PREFIX}{suffix}"


def delivery_bucket_name(suffix: str) -> str:
    """The delivery bucket's name without the random part solve adds (aws/lab_buckets.py)."""
    return f"{DELIVERY_BUCKET_PREFIX}{suffix}"


# -- the recorder ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Recorder:
    name: str
    role_arn: str
    all_supported: bool
    resource_types: tuple[str, ...]  # recorded explicitly (inclusion strategy)
    excluded_types: tuple[str, ...]  # left out (exclusion strategy)
    recording: bool
    last_status: str  # PENDING, SUCCESS or FAILURE ("" when never started)
    last_error: str

    def records(self, resource_type: str) -> bool:
        if self.all_supported:
            return True
        if self.excluded_types:
            return resource_type not in self.excluded_types
        return resource_type in self.resource_types

    def scope(self) -> str:
        if self.all_supported:
            return "all supported resource types"
        if self.excluded_types:
            return f"all resource types except {', '.join(self.excluded_types)}"
        return ", ".join(self.resource_types) or "no resource types"


def describe_recorder(config: Any) -> Recorder | None:
    """The region's configuration recorder (AWS allows one customer-managed recorder), or None."""
    recorders = [
        r
        for r in config.describe_configuration_recorders().get("ConfigurationRecorders", [])
        # Service-linked recorders belong to other AWS services and record only for them.
        if not r.get("servicePrincipal")
    ]
    if not recorders:
        return None
    raw = recorders[0]
    name = raw["name"]
    statuses = config.describe_configuration_recorder_status(ConfigurationRecorderNames=[name]).get(
        "ConfigurationRecordersStatus", []
    )
    status = statuses[0] if statuses else {}
    group = raw.get("recordingGroup") or {}
    strategy = (group.get("recordingStrategy") or {}).get("useOnly", "")
    excluded = (group.get("exclusionByResourceTypes") or {}).get("resourceTypes", [])
    return Recorder(
        name=name,
        role_arn=raw.get("roleARN", ""),
        # A recorder without a recording group records everything (AWS's default).
        all_supported=bool(group.get("allSupported", not group)) or strategy == "ALL_SUPPORTED_RESOURCE_TYPES",
        resource_types=tuple(group.get("resourceTypes", [])),
        excluded_types=tuple(excluded) if strategy == "EXCLUSION_BY_RESOURCE_TYPES" else (),
        recording=bool(status.get("recording", False)),
        last_status=str(status.get("lastStatus", "")),
        last_error=" ".join(
            part for part in (status.get("lastErrorCode", ""), status.get("lastErrorMessage", "")) if part
        ),
    )


def recording_group_with(recorder: Recorder | None, resource_type: str) -> dict[str, Any]:
    """The recording group that keeps what the recorder records and adds `resource_type`."""
    if recorder is None:
        return {"allSupported": False, "includeGlobalResourceTypes": False, "resourceTypes": [resource_type]}
    if recorder.all_supported:
        return {"allSupported": True}
    if recorder.excluded_types:
        rest = [t for t in recorder.excluded_types if t != resource_type]
        if not rest:
            return {"allSupported": True}
        return {
            "allSupported": False,
            "exclusionByResourceTypes": {"resourceTypes": rest},
            "recordingStrategy": {"useOnly": "EXCLUSION_BY_RESOURCE_TYPES"},
        }
    types = sorted({*recorder.resource_types, resource_type})
    return {"allSupported": False, "includeGlobalResourceTypes": False, "resourceTypes": types}


@dataclass(frozen=True)
class DeliveryChannel:
    name: str
    bucket: str
    prefix: str


def delivery_channels(config: Any) -> list[DeliveryChannel]:
    return [
        DeliveryChannel(name=c["name"], bucket=c.get("s3BucketName", ""), prefix=c.get("s3KeyPrefix", "") or "")
        for c in config.describe_delivery_channels().get("DeliveryChannels", [])
    ]


def service_linked_role_arn(account: str, region: str) -> str:
    return f"arn:{partition(region)}:iam::{account}:role/aws-service-role/{CONFIG_SERVICE}/{SERVICE_LINKED_ROLE}"


def role_exists(iam: Any, role_arn: str) -> bool:
    name = role_arn.rsplit("/", 1)[-1]
    try:
        iam.get_role(RoleName=name)
    except ClientError as exc:
        if is_code(exc, "NoSuchEntity"):
            return False
        raise
    return True


def ensure_service_linked_role(iam: Any, account: str, region: str) -> bool:
    """Create AWSServiceRoleForConfig unless it exists. Returns whether it was created."""
    if role_exists(iam, service_linked_role_arn(account, region)):
        return False
    try:
        iam.create_service_linked_role(AWSServiceName=CONFIG_SERVICE)
    except ClientError as exc:
        if is_code(exc, "InvalidInput"):  # created meanwhile: "role name … has been taken"
            return False
        raise
    return True


def delivery_bucket_policy(bucket: str, account: str, region: str, prefix: str = "") -> dict[str, Any]:
    """The bucket policy AWS documents for a Config delivery bucket, plus TLS-only access."""
    arn = f"arn:{partition(region)}:s3:::{bucket}"
    key_prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
    same_account = {"StringEquals": {"aws:SourceAccount": account}}
    config_principal = {"Service": CONFIG_SERVICE}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AWSConfigBucketPermissionsCheck",
                "Effect": "Allow",
                "Principal": config_principal,
                "Action": "s3:GetBucketAcl",
                "Resource": arn,
                "Condition": same_account,
            },
            {
                "Sid": "AWSConfigBucketExistenceCheck",
                "Effect": "Allow",
                "Principal": config_principal,
                "Action": "s3:ListBucket",
                "Resource": arn,
                "Condition": same_account,
            },
            {
                "Sid": "AWSConfigBucketDelivery",
                "Effect": "Allow",
                "Principal": config_principal,
                "Action": "s3:PutObject",
                "Resource": f"{arn}/{key_prefix}AWSLogs/{account}/Config/*",
                "Condition": {
                    "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceAccount": account}
                },
            },
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }


# -- rules -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ConfigRule:
    name: str
    owner: str
    source_identifier: str
    state: str
    scope_types: tuple[str, ...]  # empty: every resource type the rule supports
    parameters: Mapping[str, str] = field(default_factory=dict)

    def is_managed(self, spec: RuleSpec) -> bool:
        return self.owner == "AWS" and self.source_identifier == spec.source_identifier

    @property
    def covers_buckets(self) -> bool:
        return not self.scope_types or S3_BUCKET in self.scope_types


def _rule(raw: Mapping[str, Any]) -> ConfigRule:
    source = raw.get("Source") or {}
    scope = raw.get("Scope") or {}
    try:
        params = json.loads(raw.get("InputParameters") or "{}")
    except ValueError:
        params = {}
    return ConfigRule(
        name=raw["ConfigRuleName"],
        owner=str(source.get("Owner", "")),
        source_identifier=str(source.get("SourceIdentifier", "")),
        state=str(raw.get("ConfigRuleState", "ACTIVE")),
        scope_types=tuple(scope.get("ComplianceResourceTypes", [])),
        parameters={str(k): str(v) for k, v in params.items()} if isinstance(params, dict) else {},
    )


def config_rules(config: Any) -> list[ConfigRule]:
    rules: list[ConfigRule] = []
    token: str | None = None
    while True:
        page = config.describe_config_rules(**({"NextToken": token} if token else {}))
        rules.extend(_rule(raw) for raw in page.get("ConfigRules", []))
        token = page.get("NextToken")
        if not token:
            return rules


@dataclass(frozen=True)
class RuleFinding:
    """Which rule of the account does the job of one lab rule, and what is wrong if none does."""

    spec: RuleSpec
    rule: ConfigRule | None  # an active managed rule with the right identifier (any name)
    misnamed: ConfigRule | None  # a rule with the lab's name that runs something else


def find_rule(rules: Iterable[ConfigRule], spec: RuleSpec) -> RuleFinding:
    rules = list(rules)
    matching = [r for r in rules if r.is_managed(spec) and r.state == "ACTIVE" and r.covers_buckets]
    # The lab's own name first, so details name the rule the student expects.
    matching.sort(key=lambda r: (r.name != spec.name, r.name))
    same_name = next((r for r in rules if r.name == spec.name), None)
    misnamed = same_name if same_name is not None and not same_name.is_managed(spec) else None
    return RuleFinding(spec=spec, rule=matching[0] if matching else None, misnamed=misnamed)


def managed_rule_request(spec: RuleSpec, tags: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "ConfigRule": {
            "ConfigRuleName": spec.name,
            "Description": f"Flags S3 buckets without {spec.what} (labrunner, lab 4).",
            "Scope": {"ComplianceResourceTypes": [S3_BUCKET]},
            "Source": {"Owner": "AWS", "SourceIdentifier": spec.source_identifier},
        },
        "Tags": tags,
    }


# -- verdicts --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Evaluation:
    bucket: str
    verdict: str
    recorded: datetime | None
    annotation: str = ""


def evaluations(config: Any, rule_name: str) -> dict[str, Evaluation]:
    """Config's latest verdict for every bucket the rule evaluated, by bucket name."""
    found: dict[str, Evaluation] = {}
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"ConfigRuleName": rule_name, "Limit": 100}
        if token:
            kwargs["NextToken"] = token
        page = config.get_compliance_details_by_config_rule(**kwargs)
        for row in page.get("EvaluationResults", []):
            qualifier = row.get("EvaluationResultIdentifier", {}).get("EvaluationResultQualifier", {})
            if qualifier.get("ResourceType") != S3_BUCKET:
                continue
            bucket = str(qualifier.get("ResourceId", ""))
            recorded = row.get("ResultRecordedTime")
            current = found.get(bucket)
            if current is None or (recorded and current.recorded and recorded > current.recorded):
                found[bucket] = Evaluation(
                    bucket, str(row.get("ComplianceType", "")), recorded, row.get("Annotation", "")
                )
        token = page.get("NextToken")
        if not token:
            return found


class _EvaluationRunning(Exception):
    """Config said an evaluation of the rules is already running (raised out of botocore's retries)."""


_RUNNING_CODES = ("LimitExceededException", "ResourceInUseException")


def _stop_retrying_a_running_evaluation(response: Any = None, **_: Any) -> None:
    """botocore retries LimitExceededException as throttling (seven more tries, ~30 s of backoff);
    from StartConfigRulesEvaluation it means "already running": there is nothing to wait for."""
    if response is not None and response[1].get("Error", {}).get("Code") in _RUNNING_CODES:
        raise _EvaluationRunning


def start_evaluation(config: Any, rule_names: list[str]) -> bool:
    """Ask Config to re-evaluate the rules now. False when an evaluation is already running."""
    config.meta.events.register_first(
        "needs-retry.config-service.StartConfigRulesEvaluation",
        _stop_retrying_a_running_evaluation,
        unique_id="labrunner-config-evaluation-running",
    )
    try:
        config.start_config_rules_evaluation(ConfigRuleNames=rule_names)
    except _EvaluationRunning:
        return False
    except ClientError as exc:
        # AWS allows one evaluation per rule at a time (LimitExceeded / ResourceInUse meanwhile).
        if is_code(exc, "LimitExceededException", "ResourceInUseException"):
            return False
        raise
    return True


@dataclass(frozen=True)
class BucketView:
    """What the two S3 rules look at: the bucket's logging target and its default encryption."""

    name: str
    log_target: str | None
    log_prefix: str
    sse_algorithm: str | None  # AES256, aws:kms, aws:kms:dsse; None: no default encryption

    def expected(self, rule: ConfigRule) -> str:
        """The verdict the managed rule reaches for this bucket (AWS's documented logic)."""
        if rule.source_identifier == LOGGING_RULE.source_identifier:
            if self.log_target is None:
                return "NON_COMPLIANT"
            wanted_bucket = rule.parameters.get("targetBucket")
            wanted_prefix = rule.parameters.get("targetPrefix")
            if wanted_bucket and wanted_bucket != self.log_target:
                return "NON_COMPLIANT"
            if wanted_prefix and wanted_prefix != self.log_prefix:
                return "NON_COMPLIANT"
            return "COMPLIANT"
        if rule.source_identifier == ENCRYPTION_RULE.source_identifier:
            return "COMPLIANT" if self.sse_algorithm else "NON_COMPLIANT"
        raise ValueError(f"no expectation for {rule.source_identifier}")

    def describe(self, rule: ConfigRule) -> str:
        if rule.source_identifier == LOGGING_RULE.source_identifier:
            if self.log_target is None:
                return "server access logging is off"
            return f"logs to s3://{self.log_target}/{self.log_prefix}"
        return f"default encryption {self.sse_algorithm}" if self.sse_algorithm else "no default encryption"


def bucket_view(s3: Any, bucket: str) -> BucketView:
    """Read the settings the rules judge. Raises NoSuchBucket when the bucket is gone."""
    logging = access_logging(s3, bucket)
    encryption = default_encryption(s3, bucket)
    return BucketView(
        name=bucket,
        log_target=logging.target_bucket if logging else None,
        log_prefix=logging.target_prefix if logging else "",
        sse_algorithm=encryption.algorithm if encryption else None,
    )


def ensure_delivery_bucket(s3: Any, name: str, *, account: str, region: str, note: Note) -> bool:
    """Create (if needed) and secure the bucket Config delivers to; True if anything changed.

    ACLs disabled, all four Block Public Access settings, SSE-S3 default encryption, AWS's
    documented delivery policy for config.amazonaws.com plus TLS-only access, the lab's tag.
    """
    changed = False
    if not bucket_exists(s3, name):
        params: dict[str, Any] = {"Bucket": name, "ObjectOwnership": "BucketOwnerEnforced"}
        if region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**params)
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [dict(LAB_TAG)]})
        note(f"created the Config delivery bucket {name} (ACLs disabled, tagged {LAB_TAG['Key']})")
        changed = True
    if not all(public_access_block(s3, name).values()):
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration={setting: True for setting in BLOCK_PUBLIC_ACCESS}
        )
        note(f"turned on all four Block Public Access settings of {name}")
        changed = True
    if default_encryption(s3, name) is None:
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        note(f"set default encryption SSE-S3 on {name}")
        changed = True
    wanted = delivery_bucket_policy(name, account, region)
    current = bucket_policy(s3, name)
    if current is None or json.loads(current) != wanted:
        s3.put_bucket_policy(Bucket=name, Policy=json.dumps(wanted, indent=2))
        note(f"bucket policy of {name}: {CONFIG_SERVICE} may deliver; requests without TLS are denied")
        changed = True
    return changed
