"""How many S3 general purpose buckets the account has, and may have.

Amazon S3 User Guide, "General purpose bucket quotas, limitations, and restrictions"
(docs.aws.amazon.com/AmazonS3/latest/userguide/BucketRestrictions.html): "By default, you can create
up to 10,000 general purpose buckets per AWS account"; the quota is viewed through Service Quotas,
for commercial Regions only from US East (N. Virginia); ListBuckets should be paginated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from labrunner.aws.errors import error_code

DEFAULT_BUCKET_QUOTA = 10_000
# Where the quota is viewed, per partition (the User Guide names US East (N. Virginia) for commercial
# Regions, China (Beijing) for China, AWS GovCloud (US-West) for GovCloud).
QUOTA_REGIONS = {"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}
_QUOTA_NAMES = ("general purpose buckets", "buckets")


def quota_region(region: str) -> str:
    """The region whose Service Quotas shows the bucket quota of `region`'s partition."""
    from labrunner.aws.stack import partition

    return QUOTA_REGIONS.get(partition(region), region)


@dataclass(frozen=True)
class BucketQuota:
    limit: int
    source: str  # where the number comes from, for the report


def bucket_quota(quotas: Any) -> BucketQuota:
    """The account's bucket quota from Service Quotas, else AWS's documented default (and why)."""
    try:
        found: dict[str, float] = {}
        for page in quotas.get_paginator("list_service_quotas").paginate(ServiceCode="s3"):
            for quota in page.get("Quotas", []):
                found[str(quota.get("QuotaName", "")).lower()] = float(quota.get("Value", 0))
    except ClientError as exc:
        return BucketQuota(DEFAULT_BUCKET_QUOTA, f"AWS's default (Service Quotas: {error_code(exc)})")
    for name in _QUOTA_NAMES:
        if name in found:
            return BucketQuota(int(found[name]), "Service Quotas")
    return BucketQuota(DEFAULT_BUCKET_QUOTA, "AWS's default (Service Quotas lists no S3 bucket quota)")


def count_buckets(s3: Any) -> int:
    """The account's general purpose buckets (paginated ListBuckets, as AWS recommends)."""
    count = 0
    token: str | None = None
    while True:
        page = s3.list_buckets(MaxBuckets=1000, **({"ContinuationToken": token} if token else {}))
        count += len(page.get("Buckets", []))
        token = page.get("ContinuationToken")
        if not token:
            return count
