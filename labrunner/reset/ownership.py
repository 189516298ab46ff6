"""The rules that decide what is the lab's (SPEC §7). Reset touches nothing these do not claim.

A thing is the lab's when
- it is the workload's stack (named --stack-name, and tagged labrunner:lab=immersion or holding
  the workload's logical ids), or one of that stack's resources;
- solve made it: tagged labrunner:lab=immersion, or named as SPEC §4 names it
  (`immersion-upload-logs-…`, `immersion-config-demo-…`, `immersion-…-<suffix>[-<random>]`, the
  two rule names) — unless a tag says another stack owns it (CloudFormation's
  aws:cloudformation:stack-name, or labrunner:stack that solve gives the buckets of one stack);
- a student made it for the lab, found by what it is: the bucket a lab bucket logs to, when it
  holds nothing but those access logs; the lab's Config rules by their names; the function's
  log groups by the function's name.
AWS Config allows one customer recorder per region, so a recorder (with its delivery channel
and bucket) is the lab's only when solve marked it: the recorder carries the lab tag, or its
delivery channel delivers to a bucket the lab owns by tag or name. A recorder set up by anyone
else — including by hand, before or during the lab — is kept, and the plan says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from labrunner.aws.config import DEMO_BUCKET_PREFIX, LAB_RULES
from labrunner.aws.lab_buckets import STACK_TAG_KEY
from labrunner.aws.s3 import LAB_TAG, LOG_BUCKET_PREFIX

LAB_TAG_KEY = LAB_TAG["Key"]
LAB_TAG_VALUE = LAB_TAG["Value"]
STACK_NAME_TAG = "aws:cloudformation:stack-name"  # CloudFormation's own tag on what a stack made
STACK_TAG = STACK_TAG_KEY  # the stack solve (or the hardened template) made a thing for
LAB_BUCKET_PREFIXES = (LOG_BUCKET_PREFIX, DEMO_BUCKET_PREFIX)
LAB_RULE_NAMES = frozenset(rule.name for rule in LAB_RULES)
# Enough of the workload to recognise its stack even when half of it is gone.
WORKLOAD_LOGICAL_IDS = ("FileUploadsBucket", "MetadataLambda", "ObjectMetadataTable")
FUNCTION_TYPE = "AWS::Lambda::Function"
BUCKET_TYPE = "AWS::S3::Bucket"
LOG_GROUP_TYPE = "AWS::Logs::LogGroup"
# S3 server access log object keys: TargetPrefix + date-time-unique, or the partitioned form.
_LOG_FILE = r"\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9A-F]{16}"
_PARTITION = r"\d{12}/[a-z0-9-]+/[a-z0-9.-]+/\d{4}/\d{2}/\d{2}/"
# Service-linked recorders (AWS services record through them) are never a customer's to delete.
SERVICE_LINKED_RECORDER_PREFIX = "AWSConfigurationRecorderFor"


def tag_dict(tags: Iterable[Mapping[str, str]]) -> dict[str, str]:
    """[{"Key": k, "Value": v}] (any capitalisation) as {k: v}."""
    out: dict[str, str] = {}
    for tag in tags:
        key = tag.get("Key", tag.get("key"))
        if key is not None:
            out[str(key)] = str(tag.get("Value", tag.get("value", "")))
    return out


def lab_tagged(tags: Mapping[str, str]) -> bool:
    return tags.get(LAB_TAG_KEY) == LAB_TAG_VALUE


def owner_stack(tags: Mapping[str, str]) -> str | None:
    """The stack this was made for: CloudFormation's tag, else the one solve puts."""
    return tags.get(STACK_NAME_TAG) or tags.get(STACK_TAG) or None


def other_stack(tags: Mapping[str, str], stack_name: str) -> str | None:
    """The stack that made this, when a tag names one that is not ours."""
    owner = owner_stack(tags)
    return owner if owner and owner != stack_name else None


def lab_bucket_name(name: str, suffix: str) -> str | None:
    """Why a bucket's name is the lab's (SPEC §4 names), or None."""
    if name.startswith(LOG_BUCKET_PREFIX):
        return f"named as the lab names the log bucket ({LOG_BUCKET_PREFIX}…)"
    if name.startswith(DEMO_BUCKET_PREFIX):
        return f"named as the lab names the Config demo bucket ({DEMO_BUCKET_PREFIX}…)"
    # solve adds a random part per deployment (S3 holds a deleted bucket's name for hours)
    if re.fullmatch(rf"immersion-[a-z0-9.-]+-{re.escape(suffix)}(?:-[0-9a-f]{{8}})?", name):
        return f"named as labrunner names buckets in this account (immersion-…-{suffix}[-…])"
    return None


def is_access_log_key(key: str, prefixes: Iterable[str]) -> bool:
    """Is this object key an S3 server access log file written under one of these target prefixes?"""
    return any(
        key.startswith(prefix) and re.fullmatch(rf"(?:{_PARTITION})?{_LOG_FILE}", key[len(prefix) :]) is not None
        for prefix in prefixes
    )


def workload_stack(logical_ids: Iterable[str]) -> bool:
    """Does a stack holding these logical ids hold the lab's workload?"""
    present = set(logical_ids)
    return all(lid in present for lid in WORKLOAD_LOGICAL_IDS)


def function_log_group(stack_name: str, logical_ids: Iterable[str], group: str) -> bool:
    """Is `group` the log group of a function CloudFormation named for this stack (stack-LogicalId-RANDOM)?

    Covers the functions of earlier deployments of the stack too: each gets a new random part.
    """
    names = "|".join(re.escape(lid) for lid in sorted(set(logical_ids)))
    if not names:
        return False
    return re.fullmatch(rf"/aws/lambda/{re.escape(stack_name)}-(?:{names})-[A-Za-z0-9]+", group) is not None


def service_linked_recorder(raw: Mapping[str, object]) -> bool:
    return bool(raw.get("servicePrincipal")) or str(raw.get("name", "")).startswith(SERVICE_LINKED_RECORDER_PREFIX)
