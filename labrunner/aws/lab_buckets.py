"""The buckets solve makes for the lab: named anew for each deployment, found again by tag.

S3 holds a deleted bucket's name for hours ("A conflicting conditional operation is currently in
progress against this resource", OperationAborted, 409 — AWS Knowledge Center
"s3-conflicting-conditional-operation", which advises applications that create buckets to choose
a different name when one is not available). A name fixed per account and region would make
`solve` fail after `reset` on the same day (a rehearsal, then the class). So every bucket solve
makes gets a fresh random part after the lab's prefix and the account/region suffix
(immersion-upload-logs-<account>-<hash>-<token>), and carries tags that find it again:
labrunner:lab=immersion, plus labrunner:stack=<stack name> for the buckets that belong to one
workload (the log bucket, the demo bucket). The Config delivery bucket serves every stack in an
account and region (one recorder per region), so it carries the lab tag only.

A bucket a student named as the lab text does (the prefix, any ending) is found too, unless its
tag says another stack's solve made it.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import ClientError

from labrunner.aws import s3 as s3s
from labrunner.aws.config import DELIVERY_BUCKET_PREFIX, DEMO_BUCKET_PREFIX
from labrunner.aws.errors import is_code
from labrunner.aws.s3 import LAB_TAG, LOG_BUCKET_PREFIX, Note

STACK_TAG_KEY = "labrunner:stack"
MAX_NAME = 63  # S3 bucket naming rules
TOKEN_BYTES = 4  # 8 hex characters: the per-deployment part


class Where(Protocol):
    """What names and finds a lab bucket (a Context has all three)."""

    @property
    def suffix(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def stack_name(self) -> str: ...


@dataclass(frozen=True)
class Kind:
    """One kind of bucket solve makes."""

    prefix: str
    what: str
    per_stack: bool  # one per workload stack (else shared by the account and region)

    def label(self, suffix: str) -> str:
        """How hints name it: the prefix and suffix, then the per-deployment part."""
        return f"{self.prefix}{suffix}-…"


LOG = Kind(LOG_BUCKET_PREFIX, "access-log bucket", per_stack=True)
DEMO = Kind(DEMO_BUCKET_PREFIX, "Config demo bucket", per_stack=True)
DELIVERY = Kind(DELIVERY_BUCKET_PREFIX, "Config delivery bucket", per_stack=False)


def new_name(kind: Kind, suffix: str) -> str:
    """A name nobody has used: the lab's prefix, the account/region suffix, a random part."""
    name = f"{kind.prefix}{suffix}-{secrets.token_hex(TOKEN_BYTES)}"
    if len(name) > MAX_NAME:
        raise ValueError(f"bucket name {name} is longer than {MAX_NAME} characters")
    return name


def tags(kind: Kind, stack_name: str) -> list[dict[str, str]]:
    """The tags solve gives a bucket of this kind."""
    own = [dict(LAB_TAG)]
    if kind.per_stack:
        own.append({"Key": STACK_TAG_KEY, "Value": stack_name})
    return own


def bucket_tags(s3: Any, bucket: str) -> dict[str, str]:
    """A bucket's tags as a dict ({} when it has none or is gone)."""
    try:
        tag_set = s3.get_bucket_tagging(Bucket=bucket).get("TagSet", [])
    except ClientError as exc:
        if is_code(exc, "NoSuchTagSet", "NoSuchBucket", "404"):
            return {}
        raise
    return {str(t["Key"]): str(t.get("Value", "")) for t in tag_set}


def buckets_named(s3: Any, prefix: str, region: str) -> list[str]:
    """This account's buckets in `region` whose names start with `prefix` (in creation order)."""
    found: list[tuple[Any, str]] = []
    params: dict[str, Any] = {"Prefix": prefix, "BucketRegion": region}
    while True:
        page = s3.list_buckets(**params)
        for bucket in page.get("Buckets", []):
            name = str(bucket["Name"])
            # Filtered here too: an endpoint may ignore Prefix / BucketRegion.
            if name.startswith(prefix) and bucket.get("BucketRegion", region) == region:
                found.append((bucket.get("CreationDate") or "", name))
        token = page.get("ContinuationToken")
        if not token:
            break
        params["ContinuationToken"] = token
    return [name for _, name in sorted(found, key=lambda pair: str(pair[0]))]


def find(s3: Any, kind: Kind, where: Where, *, any_ending: bool = False) -> str | None:
    """The bucket of this kind solve made here (by its tags), else one a student named as the lab does.

    Solve's own: labrunner:lab=immersion and, for per-stack kinds, labrunner:stack=<this stack>.
    Otherwise the newest untagged bucket named prefix+suffix… (with `any_ending`, prefix…: the lab
    text leaves the ending to the student). A bucket whose labrunner:stack tag names another stack
    is never this stack's.
    """
    prefix = kind.prefix if any_ending else f"{kind.prefix}{where.suffix}"
    names = buckets_named(s3, prefix, where.region)
    fallback: str | None = None
    for name in reversed(names):  # newest first
        found = bucket_tags(s3, name)
        owner = found.get(STACK_TAG_KEY)
        if owner is not None and owner != where.stack_name:
            continue
        if found.get(LAB_TAG["Key"]) == LAB_TAG["Value"] and (not kind.per_stack or owner == where.stack_name):
            return name
        if fallback is None and owner is None:
            fallback = name
    return fallback


def find_or_name(s3: Any, kind: Kind, where: Where) -> str:
    """The bucket to use for solve: the one found, else a new name (created by the caller)."""
    return find(s3, kind, where) or new_name(kind, where.suffix)


def mark(s3: Any, bucket: str, kind: Kind, stack_name: str) -> bool:
    """Give the bucket solve's tags (other tags kept); True if anything changed."""
    current = bucket_tags(s3, bucket)
    wanted = {t["Key"]: t["Value"] for t in tags(kind, stack_name)}
    if all(current.get(key) == value for key, value in wanted.items()):
        return False
    merged = {**current, **wanted}
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in merged.items()]})
    return True


def ensure_log_bucket(
    s3: Any, name: str, where: Where, *, account: str, source_buckets: Sequence[str], note: Note
) -> bool:
    """Create (if needed) and secure the log bucket for `source_buckets` (see s3.ensure_log_bucket);
    a bucket with the lab's name also gets solve's tags, so that the next solve and reset find it."""
    changed = s3s.ensure_log_bucket(
        s3, name, region=where.region, account=account, source_buckets=source_buckets, note=note
    )
    if name.startswith(LOG.prefix) and mark(s3, name, LOG, where.stack_name):
        note(f"tagged {name} as the log bucket of stack {where.stack_name} ({STACK_TAG_KEY})")
        changed = True
    return changed
