"""Empty and delete S3 buckets, versioned ones included (every version and delete marker)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

BATCH = 1000  # DeleteObjects takes at most 1000 keys


class ObjectsNotDeleted(ClientError):  # type: ignore[misc]
    """DeleteObjects refused some objects (Object Lock, a bucket policy…): carries the first error's code."""

    def __init__(self, bucket: str, code: str, key: str, message: str) -> None:
        super().__init__(
            {"Error": {"Code": code, "Message": f"{key!r} in {bucket}: {message}"}},
            "DeleteObjects",
        )


def empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every object version, delete marker and unfinished upload. Returns how many versions went."""
    deleted = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        versions = [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        for start in range(0, len(versions), BATCH):
            chunk = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions[start : start + BATCH]]
            response = s3.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})
            errors = response.get("Errors", [])
            if errors:
                first = errors[0]
                raise ObjectsNotDeleted(bucket, first.get("Code", ""), first.get("Key", ""), first.get("Message", ""))
            deleted += len(chunk)
    for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for upload in page.get("Uploads", []):
            s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    return deleted
