"""Gap: deleting a stack whose bucket still holds objects silently leaves the bucket behind.

AWS cannot delete a non-empty bucket either, but it says so: the bucket's resource goes
DELETE_FAILED with S3's reason "The bucket you tried to delete is not empty", the stack
DELETE_FAILED; deleting the stack again once the bucket is empty succeeds.
"""

from __future__ import annotations

from typing import Any

from labrunner.local.cfn.models import s3_backend
from labrunner.local.hooks import ServerHooks


def delete_bucket(
    cls: Any, /, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
) -> None:
    from moto.s3.exceptions import BucketNotEmpty

    backend = s3_backend(account_id, region_name)
    bucket = backend.buckets.get(resource_name)
    if bucket is None:
        return  # already gone: nothing to delete
    if bucket.keys:
        raise BucketNotEmpty(resource_name)
    backend.delete_bucket(resource_name)


def install(hooks: ServerHooks) -> None:
    from moto.s3.models import FakeBucket

    setattr(FakeBucket, "delete_from_cloudformation_json", classmethod(delete_bucket))  # noqa: B010 (patching moto)
