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

"Made after the stack" reads ListBuckets' CreationDate, which has a second's resolution on AWS
(ListAllMyBucketsResult shows 2011-10-13T15:02:48.000Z) while the stack's CreationTime has
sub-seconds: a bucket made in the stack's second counts as made after it. CreationDate "can
change when making changes to your bucket, such as editing its bucket policy" (Amazon S3 API
Reference, Bucket): an older bucket edited since may look new, so lab4.remediated names the
bucket it took and why (or, taking none, the buckets it passed over and why). In an account
several students share, a bucket named as the lab does (or solve's) is the sure way: a
hand-named bucket of another student made after this stack could be taken for this one's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
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


class Rank(IntEnum):
    """Which passed-over buckets a student reads first."""

    MAYBE_DEMO = 0  # made since the stack, yet not taken: what a student looks for first
    OLDER = 1  # made before the stack: perhaps the student's, made too early (newest first)
    INFRASTRUCTURE = 2  # the lab's, a stack's or a tool's own: the detail already says these do not count


@dataclass(frozen=True)
class PassedOver:
    """A bucket not taken for the demo bucket, and why."""

    name: str
    why: str
    rank: Rank


@dataclass(frozen=True)
class DemoSearch:
    """The demo bucket found (None: none), and the buckets newer than it that were passed over,
    newest first: what a student who made their own and is told "no demo bucket" needs to read."""

    bucket: str | None
    passed_over: tuple[PassedOver, ...] = ()

    def explain(self, at_most: int = 3) -> str:
        """The newest buckets passed over and why, in one clause ('' when there are none): buckets
        a student may have made for the demo first, then older buckets, then infrastructure."""
        ordered = sorted(self.passed_over, key=lambda p: p.rank)
        shown = [f"{p.name} ({p.why})" for p in ordered[:at_most]]
        more = len(ordered) - at_most
        if more > 0:
            shown.append(f"{more} more")
        return "; ".join(shown)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _infrastructure(name: str, stack_buckets: set[str], stack_logs: dict[str, str], delivery: set[str]) -> str | None:
    """Why this bucket is the lab's, the stack's or a tool's own, by name alone (None: it may be the demo)."""
    if name in stack_buckets:
        return "a bucket of the workload's stack"
    if name in stack_logs:
        return f"a log bucket: {stack_logs[name]} logs to it"
    if name in delivery:
        return "AWS Config's delivery bucket"
    if name.startswith(CONSOLE_TEMPLATE_PREFIX):
        return "the CloudFormation console's template bucket"
    if name.startswith(NOT_DEMO_PREFIXES):
        return "named as the lab's log or delivery bucket"
    return None


def _tagged(tags: dict[str, str]) -> str | None:
    """Why a bucket's tags say it is a stack's or solve's own (None: they do not)."""
    if CFN_STACK_TAG in tags:
        return f"a bucket of the CloudFormation stack {tags[CFN_STACK_TAG]}"
    if made.STACK_TAG_KEY in tags:
        return f"made by labrunner's solve for the stack {tags[made.STACK_TAG_KEY]}"
    if tags.get(LAB_TAG["Key"]) == LAB_TAG["Value"]:
        return "made by labrunner's solve for the lab"
    return None


def students_demo_bucket(
    s3: Any,
    config: Any,
    *,
    region: str,
    since: datetime | None,
    not_these: Iterable[str],
) -> DemoSearch:
    """The newest bucket the student made for the demo (see the module's docstring), and why each
    newer bucket is not it.

    `since`: when the workload's stack was made (None: no stack, any age); `not_these`: buckets
    known not to be the demo bucket (the stack's own)."""
    stack_buckets = set(not_these)
    delivery = {c.bucket for c in delivery_channels(config)}
    stack_logs = {t: b for b in stack_buckets if (t := _log_target(s3, b))}
    cutoff = since.replace(microsecond=0) if since is not None else None  # CreationDate's resolution
    passed: dict[str, PassedOver] = {}
    candidates: list[OwnBucket] = []
    newest = own_buckets(s3, region)
    for b in newest:
        if (why := _infrastructure(b.name, stack_buckets, stack_logs, delivery)) is not None:
            passed[b.name] = PassedOver(b.name, why, Rank.INFRASTRUCTURE)
        elif cutoff is not None and b.created is not None and b.created < cutoff:
            why = f"made {_utc(b.created)}, before the stack ({_utc(cutoff)})"
            passed[b.name] = PassedOver(b.name, why, Rank.OLDER)
        else:
            candidates.append(b)
    remaining: list[OwnBucket] = []
    for b in candidates:
        if (why := _tagged(made.bucket_tags(s3, b.name))) is not None:
            passed[b.name] = PassedOver(b.name, why, Rank.INFRASTRUCTURE)
        else:
            remaining.append(b)
    log_sources = {t: b.name for b in remaining if (t := _log_target(s3, b.name))}
    found: str | None = None
    for b in remaining:
        if b.name in log_sources:
            passed[b.name] = PassedOver(b.name, f"a log bucket: {log_sources[b.name]} logs to it", Rank.MAYBE_DEMO)
        elif recorded_at(config, b.name) is None:
            why = "AWS Config has not recorded it yet; it does within minutes while the recorder is on"
            passed[b.name] = PassedOver(b.name, why, Rank.MAYBE_DEMO)
        else:
            found = b.name
            break
    names = [b.name for b in newest]
    newer = names[: names.index(found)] if found is not None else names
    return DemoSearch(found, tuple(passed[name] for name in newer))
