"""A deleted bucket's name is held for a while: CreateBucket with it gets `OperationAborted` (409).

moto frees a bucket's name the moment the bucket is deleted, so deleting and re-creating a bucket
of the same name always works locally. On AWS it does not:

- AWS Knowledge Center, "Why do I get the error 'A conflicting conditional operation is currently
  in progress against this resource' when I try to re-create an S3 bucket?"
  (https://repost.aws/knowledge-center/s3-conflicting-conditional-operation): "After you send a
  request to delete a bucket, Amazon S3 queues the bucket name for deletion ... In many cases, you
  can create a bucket within a few hours after the previous bucket is deleted. However, it might
  take 48-72 hours ... Until Amazon S3 completely deletes the bucket, you can't use the same bucket
  name." and "after the bucket is deleted and the name is available, other accounts can use the
  bucket name"; applications that create buckets should "choose a different bucket name when a
  bucket name isn't available".
- Amazon S3 API Reference, "Error responses" (List of error codes): `OperationAborted`, 409
  Conflict, "A conflicting conditional operation is currently in progress against this resource.
  Try again."
- Amazon S3 API Reference, CreateBucket (Errors): `BucketAlreadyExists` (409) "The requested bucket
  name is not available. The bucket namespace is shared by all users of the system."; and
  `BucketAlreadyOwnedByYou` (409) in every Region but us-east-1, where re-creating a bucket you own
  "returns 200 OK" for legacy compatibility. moto already answers all three of these the AWS way
  (bucket names are global across the accounts of one server).
- Amazon S3 User Guide, "General purpose bucket naming rules" / "Bucket restrictions and
  limitations": a bucket name is unique across all AWS accounts in a partition, and after a bucket
  is deleted it "might take some time before the name can be reused".

So here: after DeleteBucket (through the API or a stack deletion, both end in the backend's
`delete_bucket`), every account — the one that deleted it included — gets `OperationAborted` for
CreateBucket with that name for `bucket_name_hold_s` seconds (the fault knob, default 60; read at
creation time, so lowering it releases held names at once). After that anyone may take the name.
POST /_labrunner/reset releases every held name.
"""

from __future__ import annotations

import functools
import threading
import time
from typing import Any

from labrunner.local.faults import BUCKET_NAME_HOLD, FAULTS
from labrunner.local.hooks import ServerHooks

CODE = "OperationAborted"
STATUS = 409
MESSAGE = "A conflicting conditional operation is currently in progress against this resource. Please try again."


class NameHolds:
    """Names of deleted buckets and when they were deleted (bucket names are global: one table)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deleted_at: dict[str, float] = {}

    def deleted(self, name: str) -> None:
        with self._lock:
            self._deleted_at[name] = time.monotonic()

    def held(self, name: str) -> bool:
        """Is the name still refused? Drops it from the table once the hold is over."""
        hold = FAULTS.value(BUCKET_NAME_HOLD)
        with self._lock:
            since = self._deleted_at.get(name)
            if since is None:
                return False
            if time.monotonic() - since < hold:
                return True
            del self._deleted_at[name]
            return False

    def clear(self) -> None:
        with self._lock:
            self._deleted_at.clear()


HOLDS = NameHolds()


def operation_aborted() -> Exception:
    from moto.s3.exceptions import S3ClientError

    class OperationAborted(S3ClientError):
        code = CODE

    return OperationAborted(MESSAGE)


def install(hooks: ServerHooks) -> None:
    from moto.core import serialize
    from moto.core.errors import ErrorShape
    from moto.s3.models import S3Backend, s3_backends

    original_create = S3Backend.create_bucket
    original_delete = S3Backend.delete_bucket
    original_error_model = getattr(serialize, "get_error_model")  # noqa: B009 (not exported)

    @functools.wraps(original_create)
    def create_bucket(self: Any, bucket_name: str, *args: Any, **kwargs: Any) -> Any:
        # A name that exists gets moto's answer (BucketAlreadyExists / BucketAlreadyOwnedByYou).
        if bucket_name not in s3_backends.bucket_accounts and HOLDS.held(bucket_name):
            FAULTS.count("bucket_name_holds")
            raise operation_aborted()
        return original_create(self, bucket_name, *args, **kwargs)

    @functools.wraps(original_delete)
    def delete_bucket(self: Any, bucket_name: str) -> Any:
        deleted = original_delete(self, bucket_name)
        if deleted is not None:  # moto returns None when the bucket still holds objects
            HOLDS.deleted(bucket_name)
        return deleted

    @functools.wraps(original_error_model)
    def error_model(exception: Exception, default_service_model: Any) -> Any:
        # S3's service model has no shape for OperationAborted; without one moto would answer 400.
        if getattr(exception, "code", None) == CODE:
            return ErrorShape(
                shape_name=CODE,
                shape_model={
                    "exception": True,
                    "type": "structure",
                    "members": {},
                    "error": {"code": CODE, "httpStatusCode": STATUS},
                },
            )
        return original_error_model(exception, default_service_model)

    setattr(S3Backend, "create_bucket", create_bucket)  # noqa: B010 (patching moto)
    setattr(S3Backend, "delete_bucket", delete_bucket)  # noqa: B010 (patching moto)
    setattr(serialize, "get_error_model", error_model)  # noqa: B010 (patching moto)
    hooks.on_reset(HOLDS.clear)
