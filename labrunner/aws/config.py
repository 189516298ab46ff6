"""AWS Config for lab 4: the recorder, its delivery channel, managed rules and their verdicts.

Everything here reads or writes Config through its own API (as the console does); what a rule
*should* say about a bucket is worked out from the bucket's real settings, so a lab can check
that Config's verdicts agree with them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Any, Literal

from botocore.exceptions import ClientError

from labrunner.aws import s3_config_rules as s3_rules
from labrunner.aws.errors import is_access_denied, is_code
from labrunner.aws.fan_out import together
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
    missing_in: frozenset[str] = frozenset()  # regions where AWS does not offer the managed rule


# AWS Config Developer Guide, "s3-bucket-logging-enabled" (docs.aws.amazon.com/config/latest/developerguide/
# s3-bucket-logging-enabled.html): "All supported AWS regions except China (Beijing), Asia Pacific
# (Thailand), AWS GovCloud (US-East), AWS GovCloud (US-West), Mexico (Central), Asia Pacific (Taipei),
# China (Ningxia) Region".
LOGGING_RULE_MISSING_IN = frozenset(
    {"cn-north-1", "ap-southeast-7", "us-gov-east-1", "us-gov-west-1", "mx-central-1", "ap-east-2", "cn-northwest-1"}
)
LOGGING_RULE = RuleSpec(
    "s3-bucket-logging-enabled", "S3_BUCKET_LOGGING_ENABLED", "server access logging", LOGGING_RULE_MISSING_IN
)
ENCRYPTION_RULE = RuleSpec(
    "s3-bucket-server-side-encryption-enabled",
    "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED",
    "default encryption",
)
LAB_RULES = (LOGGING_RULE, ENCRYPTION_RULE)
# Buckets lab 4's solve creates (SPEC §4 names the demo bucket; the delivery bucket is tagged too).
DEMO_BUCKET_PREFIX = "immersion-config-demo-"
DELIVERY_BUCKET_PREFIX = "immersion-config-delivery-"


def missing_rules_line(region: str) -> str | None:
    """One line when a managed rule the lab needs does not exist in the region, else None."""
    missing = [spec for spec in LAB_RULES if region in spec.missing_in]
    if not missing:
        return None
    names = ", ".join(f"{spec.name} ({spec.source_identifier})" for spec in missing)
    return (
        f"AWS Config offers no managed rule {names} in {region} (AWS Config Developer Guide, "
        f'"{missing[0].name}": AWS Region), so lab 4 cannot be done there; run it in another region (--region)'
    )


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


def delivery_bucket_state(s3: Any, bucket: str) -> Literal["here", "elsewhere", "missing"]:
    """Does the channel's bucket exist? "elsewhere": it exists but this account may not even
    HeadBucket it (403) — another account's, such as AWS Control Tower's central log archive."""
    if not bucket:
        return "missing"
    try:
        return "here" if bucket_exists(s3, bucket) else "missing"
    except ClientError as exc:
        if is_code(exc, "403", "Forbidden") or is_access_denied(exc):
            return "elsewhere"
        raise


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
    created_by: str = ""  # a service's rule (e.g. securityhub.amazonaws.com); "" for the account's own

    @property
    def evaluates(self) -> bool:
        """ACTIVE, or EVALUATING right after StartConfigRulesEvaluation (API Reference, ConfigRule)."""
        return self.state in ("ACTIVE", "EVALUATING")

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
        created_by=str(raw.get("CreatedBy") or ""),
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
    rule: ConfigRule | None  # the account's own active managed rule with the right identifier (any name)
    misnamed: ConfigRule | None  # a rule with the lab's name that runs something else
    services: tuple[ConfigRule, ...] = ()  # rules a service created that run it too (not the student's)


def find_rule(rules: Iterable[ConfigRule], spec: RuleSpec) -> RuleFinding:
    """The account's own rule doing the lab rule's job. A rule another service created (Security
    Hub, conformance packs: CreatedBy set) is not the student's work and never counts."""
    everything = list(rules)
    services = tuple(r for r in everything if r.created_by and r.is_managed(spec))
    rules = [r for r in everything if not r.created_by]
    matching = [r for r in rules if r.is_managed(spec) and r.evaluates and r.covers_buckets]
    # The lab's own name first, so details name the rule the student expects.
    matching.sort(key=lambda r: (r.name != spec.name, r.name))
    same_name = next((r for r in rules if r.name == spec.name), None)
    misnamed = same_name if same_name is not None and not same_name.is_managed(spec) else None
    return RuleFinding(spec=spec, rule=matching[0] if matching else None, misnamed=misnamed, services=services)


def service_rules_note(finding: RuleFinding) -> str:
    """Say that a service's rule runs the same check, and why it does not count ("" when none)."""
    if not finding.services:
        return ""
    names = ", ".join(f"{r.name} (created by {r.created_by})" for r in finding.services)
    return f"; {names} runs it too, but belongs to that service, not to you or the lab"


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


class _EvaluationRefused(Exception):
    """Config refused the request (raised out of botocore's retries)."""


_REFUSED_CODES = ("LimitExceededException", "ResourceInUseException")


def _stop_retrying_a_refused_evaluation(response: Any = None, **_: Any) -> None:
    """botocore retries LimitExceededException as throttling (seven more tries, ~30 s of backoff);
    from StartConfigRulesEvaluation it means "running, or asked within the minute": the caller decides."""
    if response is not None and response[1].get("Error", {}).get("Code") in _REFUSED_CODES:
        raise _EvaluationRefused


class EvaluationRequest(Enum):
    STARTED = "started"
    RUNNING = "an evaluation is already running"
    TOO_SOON = "an evaluation was asked for less than a minute ago"


# API Reference, LimitExceededException: StartConfigRulesEvaluation is refused "if an evaluation is
# in progress or if you call the StartConfigRulesEvaluation API more than once per minute".
REQUEST_INTERVAL_S = 60.0


def start_evaluation(config: Any, rule_names: list[str]) -> EvaluationRequest:
    """Ask Config to re-evaluate the rules now; say why when Config refuses."""
    config.meta.events.register_first(
        "needs-retry.config-service.StartConfigRulesEvaluation",
        _stop_retrying_a_refused_evaluation,
        unique_id="labrunner-config-evaluation-refused",
    )
    try:
        config.start_config_rules_evaluation(ConfigRuleNames=rule_names)
    except _EvaluationRefused:
        return _refusal(config, rule_names)
    except ClientError as exc:
        if is_code(exc, *_REFUSED_CODES):
            return _refusal(config, rule_names)
        raise
    return EvaluationRequest.STARTED


def _refusal(config: Any, rule_names: list[str]) -> EvaluationRequest:
    states = {r.state for r in config_rules(config) if r.name in rule_names}
    return EvaluationRequest.RUNNING if "EVALUATING" in states else EvaluationRequest.TOO_SOON


def server_time(response: Mapping[str, Any]) -> datetime:
    """The time an AWS response was sent (its Date header; second resolution), else now."""
    raw = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    try:
        return parsedate_to_datetime(raw) if raw else datetime.now(UTC)
    except (TypeError, ValueError):
        return datetime.now(UTC)


def recorded_at(config: Any, bucket: str) -> datetime | None:
    """When Config last recorded the bucket's configuration (None: not recorded yet)."""
    try:
        items = config.get_resource_config_history(resourceType=S3_BUCKET, resourceId=bucket, limit=1).get(
            "configurationItems", []
        )
    except ClientError as exc:
        if is_code(exc, "ResourceNotDiscoveredException"):
            return None
        raise
    captured = items[0].get("configurationItemCaptureTime") if items else None
    return captured if isinstance(captured, datetime) else None


@dataclass(frozen=True)
class RecordingMark:
    """Before a change: AWS's clock, and when Config last recorded each bucket (None: never)."""

    since: datetime
    captured: Mapping[str, datetime | None]

    def recorded_since(self, bucket: str, at: datetime | None) -> bool:
        before = self.captured.get(bucket)
        return at is not None and at >= self.since and (before is None or at > before)


def recording_mark(config: Any, buckets: Iterable[str]) -> RecordingMark:
    since = server_time(config.describe_configuration_recorders())
    return RecordingMark(since, {bucket: recorded_at(config, bucket) for bucket in buckets})


def wait_until_recorded(
    config: Any, buckets: Iterable[str], mark: RecordingMark, deadline_s: float, interval_s: float = 3.0
) -> list[str]:
    """Wait until Config has recorded each bucket again since `mark` (an evaluation judges only
    the last *recorded* configuration); the buckets still unrecorded at the deadline."""
    end = time.monotonic() + deadline_s
    waiting = list(buckets)
    while True:
        waiting = [b for b in waiting if not mark.recorded_since(b, recorded_at(config, b))]
        if not waiting or time.monotonic() >= end:
            return waiting
        time.sleep(interval_s)


@dataclass(frozen=True)
class BucketView:
    """What the two S3 rules look at: the bucket's logging target, its default encryption, and
    whether its policy denies unencrypted uploads (labrunner.aws.s3_config_rules, AWS's rule pages)."""

    name: str
    log_target: str | None
    log_prefix: str
    sse_algorithm: str | None  # AES256, aws:kms, aws:kms:dsse; None: no default encryption
    policy_denies_unencrypted: bool = False

    def expected(self, rule: ConfigRule) -> str:
        """The verdict the managed rule reaches for this bucket (AWS's documented logic)."""
        if rule.source_identifier == LOGGING_RULE.source_identifier:
            return s3_rules.logging_verdict(self.log_target, self.log_prefix, rule.parameters).compliance
        if rule.source_identifier == ENCRYPTION_RULE.source_identifier:
            return s3_rules.encryption_verdict(self.sse_algorithm, self.policy_denies_unencrypted).compliance
        raise ValueError(f"no expectation for {rule.source_identifier}")

    def describe(self, rule: ConfigRule) -> str:
        if rule.source_identifier == LOGGING_RULE.source_identifier:
            if self.log_target is None:
                return "server access logging is off"
            return f"logs to s3://{self.log_target}/{self.log_prefix}"
        if self.sse_algorithm:
            return f"default encryption {self.sse_algorithm}"
        if self.policy_denies_unencrypted:
            return "no default encryption, but its bucket policy denies uploads without server-side encryption"
        return "no default encryption and no bucket policy denying unencrypted uploads"


def bucket_view(s3: Any, bucket: str) -> BucketView:
    """Read the settings the rules judge. Raises NoSuchBucket when the bucket is gone."""
    logging, encryption, policy = together(
        lambda: access_logging(s3, bucket), lambda: default_encryption(s3, bucket), lambda: bucket_policy(s3, bucket)
    )
    return BucketView(
        name=bucket,
        log_target=logging.target_bucket if logging else None,
        log_prefix=logging.target_prefix if logging else "",
        sse_algorithm=encryption.algorithm if encryption else None,
        policy_denies_unencrypted=s3_rules.policy_denies_unencrypted_puts(policy, bucket),
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
