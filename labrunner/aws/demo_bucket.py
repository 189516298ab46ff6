"""Lab 4's demo bucket, found by what it is (SPEC §4: check finds things by what they are).

The lab text asks for a new bucket for the demo, "any name will do". So the demo bucket is, first,
the one solve made for this stack (its tags) or one named as the lab names it
(immersion-config-demo-…; lab_buckets.find); else the newest bucket of this account and region
that the student made for the demo:
- made after the workload's stack (an older bucket predates the lab), and
- recorded by AWS Config (the demo is Config judging it: before Config records a bucket, no rule
  can evaluate it), and none of
- a bucket of a CloudFormation stack (tag aws:cloudformation:stack-name): the upload bucket, the
  hardened template's log bucket, another student's stack;
- a bucket solve made for the lab (tag labrunner:lab=immersion) or for another stack
  (labrunner:stack), or named as the lab's log or delivery buckets;
- a log bucket: where the upload bucket or any other candidate sends its server access logs;
- Config's delivery bucket (any delivery channel's);
- the bucket the CloudFormation console makes for uploaded templates, cf-templates-… (CloudFormation
  User Guide, "Select a stack template": "If you upload a local template file, CloudFormation
  uploads it to an S3 bucket in your AWS account. If you don't already have an S3 bucket that was
  created by CloudFormation, it creates a unique bucket for each Region").

"Made after the stack" reads ListBuckets' CreationDate, which "can change when making changes to
your bucket, such as editing its bucket policy" (Amazon S3 API Reference, Bucket): an older bucket
edited since may look new, so lab4.remediated names the bucket it took and why. In an account
several students share, a bucket named as the lab does (or solve's) is the sure way:
a hand-named bucket of another student made after this stack could be taken for this one's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from labrunner.aws import lab_buckets as made
from labrunner.aws.config import delivery_channels, recorded_at
from labrunner.aws.errors import is_access_denied, is_code
from labrunner.aws.s3 import LAB_TAG, access_logging

CONSOLE_TEMPLATE_PREFIX = "cf-templates-"
CFN_STACK_TAG = "aws:cloudformation:stack-name"
NOT_DEMO_PREFIXES = (CONSOLE_TEMPLATE_PREFIX, made.LOG.prefix, made.DELIVERY.prefix)
OLDEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class OwnBucket:
    name: str
    created: datetime | None


def own_buckets(s3: Any, region: str) -> list[OwnBucket]:
    """This account's buckets in `region`, newest first."""
    found: list[OwnBucket] = []
    params: dict[str, Any] = {"BucketRegion": region}
    while True:
        page = s3.list_buckets(**params)
        for bucket in page.get("Buckets", []):
            if bucket.get("BucketRegion", region) == region:  # filtered here too: an endpoint may ignore it
                created = bucket.get("CreationDate")
                found.append(OwnBucket(str(bucket["Name"]), created if isinstance(created, datetime) else None))
        token = page.get("ContinuationToken")
        if not token:
            break
        params["ContinuationToken"] = token
    return sorted(found, key=lambda b: b.created or OLDEST, reverse=True)


def _log_target(s3: Any, bucket: str) -> str | None:
    try:
        logging = access_logging(s3, bucket)
    except ClientError as exc:
        if is_code(exc, "NoSuchBucket") or is_access_denied(exc):
            return None
        raise
    return logging.target_bucket if logging else None


def students_demo_bucket(
    s3: Any,
    config: Any,
    *,
    region: str,
    since: datetime | None,
    not_these: Iterable[str],
) -> str | None:
    """The newest bucket the student made for the demo (see the module's docstring), or None.

    `since`: when the workload's stack was made (None: no stack, any age); `not_these`: buckets
    known not to be the demo bucket (the stack's own)."""
    excluded = set(not_these) | {c.bucket for c in delivery_channels(config)}
    excluded |= {t for t in (_log_target(s3, b) for b in not_these) if t}
    candidates = [
        b
        for b in own_buckets(s3, region)
        if b.name not in excluded
        and not b.name.startswith(NOT_DEMO_PREFIXES)
        and (since is None or b.created is None or b.created >= since)
    ]
    tagged_out: set[str] = set()
    for b in candidates:
        tags = made.bucket_tags(s3, b.name)
        if CFN_STACK_TAG in tags or made.STACK_TAG_KEY in tags or tags.get(LAB_TAG["Key"]) == LAB_TAG["Value"]:
            tagged_out.add(b.name)
    candidates = [b for b in candidates if b.name not in tagged_out]
    log_targets = {t for t in (_log_target(s3, b.name) for b in candidates) if t}
    for b in candidates:
        if b.name not in log_targets and recorded_at(config, b.name) is not None:
            return b.name
    return None
