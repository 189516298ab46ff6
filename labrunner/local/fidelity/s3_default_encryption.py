"""New S3 buckets are encrypted with SSE-S3 by default, as on AWS since January 2023.

moto creates buckets without default encryption (`get_bucket_encryption` answers
ServerSideEncryptionConfigurationNotFoundError, objects are stored unencrypted) and
`delete_bucket_encryption` leaves none. On AWS every bucket, whether made through the API or by
CloudFormation, has `AES256` with BucketKeyEnabled false, and deleting the configuration puts
that default back. Objects keep the encryption in force when they were written (moto records it
per object), so objects written before and after a change differ as on AWS.

A bucket without default encryption (pre-2023) cannot be made on AWS any more; tests that need
one call `POST /_labrunner/s3/legacy-unencrypted?bucket=NAME`
(`labrunner.local.admin.make_legacy_unencrypted_bucket`).
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from labrunner.local import s3_changes
from labrunner.local.app import AdminError, AdminRequest, register_admin_endpoint
from labrunner.local.hooks import ServerHooks

LEGACY_ENDPOINT = "s3/legacy-unencrypted"

# moto's stored shape of a bucket encryption configuration (what PutBucketEncryption parses to).
# BucketKeyEnabled is left out: moto answers it as false, and it only matters for SSE-KMS.
SSE_S3_DEFAULT: dict[str, Any] = {
    "@xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
    "Rule": {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}},
}


def default_encryption() -> dict[str, Any]:
    """A fresh copy, so that no two buckets share (and mutate) one dict."""
    return copy.deepcopy(SSE_S3_DEFAULT)


def install(hooks: ServerHooks) -> None:
    from moto.s3.models import FakeBucket, S3Backend

    original_init = FakeBucket.__init__

    @functools.wraps(original_init)
    def init_encrypted(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        # Set at construction, before create_bucket returns, so that anything watching
        # bucket creation (AWS Config) already sees the default.
        self.encryption = default_encryption()

    def delete_bucket_encryption(self: Any, bucket_name: str) -> None:
        """AWS: deleting the configuration reverts the bucket to SSE-S3, it never leaves none."""
        self.put_bucket_encryption(bucket_name, default_encryption())

    setattr(FakeBucket, "__init__", init_encrypted)  # noqa: B010 (mypy forbids assigning a method)
    # Replaced, not wrapped: through put_bucket_encryption, whatever watches that method sees it.
    setattr(S3Backend, "delete_bucket_encryption", delete_bucket_encryption)  # noqa: B010
    register_admin_endpoint("POST", LEGACY_ENDPOINT, make_legacy_unencrypted)


def make_legacy_unencrypted(request: AdminRequest) -> dict[str, Any]:
    """Admin: strip a bucket's default encryption, as buckets made before 2023 had none."""
    from moto.s3.models import s3_backends

    name = request.query.get("bucket", "")
    if not name:
        raise AdminError(400, "give ?bucket=NAME")
    owner = s3_backends.bucket_accounts.get(name)
    if owner is None:
        raise AdminError(404, f"no bucket {name!r} in any account")
    partition, account_id = owner
    bucket = s3_backends[account_id][partition].buckets.get(name)
    if bucket is None:
        raise AdminError(404, f"no bucket {name!r} in any account")
    bucket.encryption = None
    s3_changes.publish(s3_changes.BucketChange(account_id, bucket.region_name, name))
    return {"bucket": name, "account": account_id, "default_encryption": None}
