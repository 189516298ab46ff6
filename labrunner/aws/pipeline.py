"""The workload's end-to-end behaviour: an upload becomes an item in the metadata table."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from labrunner.aws.stack import Workload
from labrunner.model import Check

# Lambda normally records an upload within seconds; past this, a missing item is a failure.
DELIVERY_GRACE = timedelta(seconds=90)
# eventTime (in the item) and LastModified (on the object) are set by the same PUT.
SAME_UPLOAD_SLACK = timedelta(seconds=5)


@dataclass(frozen=True)
class Upload:
    key: str
    size: int
    last_modified: datetime


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 time as S3 events write it (with or without Z / fraction)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def newest_uploads(s3: Any, bucket: str, limit: int = 3) -> list[Upload]:
    """The most recently written objects of the bucket, newest first."""
    uploads: list[Upload] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            uploads.append(Upload(key=obj["Key"], size=int(obj["Size"]), last_modified=obj["LastModified"]))
    uploads.sort(key=lambda u: u.last_modified, reverse=True)
    return uploads[:limit]


def item_for(dynamodb: Any, table: str, key: str) -> dict[str, Any] | None:
    item = dynamodb.get_item(TableName=table, Key={"S3ObjectName": {"S": key}}, ConsistentRead=True).get("Item")
    return item if isinstance(item, dict) else None


def _attr(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    if not isinstance(value, dict) or not value:
        return None
    return str(next(iter(value.values())))


def record_problems(item: dict[str, Any] | None, bucket: str, upload: Upload) -> list[str]:
    """What is wrong with the table's record of an upload (empty: it is right)."""
    if item is None:
        return ["no item"]
    problems = []
    if _attr(item, "Bucket") != bucket:
        problems.append(f"Bucket is {_attr(item, 'Bucket')!r}, not {bucket!r}")
    size = _attr(item, "Size")
    if size is None or not size.isdigit() or int(size) != upload.size:
        problems.append(f"Size is {size!r}, not {upload.size}")
    created = parse_time(_attr(item, "CreatedTime"))
    if created is None:
        problems.append("CreatedTime is missing")
    elif created < upload.last_modified - SAME_UPLOAD_SLACK:
        problems.append(f"the item is from an earlier upload ({created:%H:%M:%S}) of the same key")
    return problems


def pipeline_check(s3: Any, dynamodb: Any, workload: Workload, *, name: str, since: datetime | None = None) -> Check:
    """Does the newest upload (after `since`, if given) appear in the metadata table?"""
    uploads = [u for u in newest_uploads(s3, workload.bucket) if since is None or u.last_modified >= since]
    where = f"s3://{workload.bucket}"
    if not uploads:
        after = f" since {since:%Y-%m-%d %H:%M:%S} UTC" if since else ""
        return Check.fail(
            name,
            f"no object was uploaded to {where}{after}",
            f"Upload a file (e.g. one from sample_s3_files/) to the S3 bucket {workload.bucket}, "
            "then look for its item in the DynamoDB table.",
        )
    newest = uploads[0]
    problems = record_problems(item_for(dynamodb, workload.table, newest.key), workload.bucket, newest)
    if not problems:
        return Check.ok(
            name,
            f"{newest.key!r} (uploaded {newest.last_modified:%H:%M:%S} UTC) is in table {workload.table}",
        )
    age = datetime.now(UTC) - newest.last_modified
    detail = f"the newest upload {newest.key!r} is not recorded in {workload.table}: {'; '.join(problems)}"
    if age < DELIVERY_GRACE:
        return Check.waiting(
            name,
            f"{detail} (uploaded {age.total_seconds():.0f} s ago; Lambda may still be working)",
            "Wait a few seconds and check again.",
        )
    return Check.fail(
        name,
        detail,
        f"Open the CloudWatch log group {workload.log_group} and look for [ERROR] lines of the function "
        f"{workload.function}; check its role's permissions and the queue's trigger, then upload again.",
    )


# Lambda's states of a mapping on its way to polling ("it may take several minutes to start polling").
STARTING_STATES = ("Creating", "Enabling", "Updating")


def trigger_starting(lambda_client: Any, function: str) -> str | None:
    """The state of the function's queue trigger when it is still on its way to polling, else None."""
    pages = lambda_client.get_paginator("list_event_source_mappings").paginate(FunctionName=function)
    for page in pages:
        for mapping in page.get("EventSourceMappings", []):
            if ":sqs:" in str(mapping.get("EventSourceArn", "")) and mapping.get("State") in STARTING_STATES:
                return str(mapping["State"])
    return None


def upload_file(s3: Any, bucket: str, path: Path, key: str | None = None) -> str:
    key = key or path.name
    s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), ContentType="text/plain")
    return key


def later_second(moment: datetime, than: datetime) -> bool:
    """Is `moment` provably after `than`? AWS keeps whole seconds (S3 LastModified, IAM and
    CloudFormation times), so a moment in the same second proves nothing: it must fall in a later one."""
    return moment.replace(microsecond=0) > than.replace(microsecond=0)


def upload_after(s3: Any, bucket: str, path: Path, after: datetime, *, patience_s: float = 10) -> str:
    """Upload `path` so that its LastModified falls in a later second than `after` (e.g. a permission
    change), re-uploading for up to `patience_s` while S3 still stamps the same second."""
    deadline = time.monotonic() + patience_s
    while True:
        key = upload_file(s3, bucket, path)
        uploaded = s3.head_object(Bucket=bucket, Key=key)["LastModified"]
        if later_second(uploaded, after) or time.monotonic() > deadline:
            return key
        time.sleep(0.25)
