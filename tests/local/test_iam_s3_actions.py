"""S3 REST operations are authorized as their real IAM actions (ListObjectsV2 -> s3:ListBucket, …).

Each case gives a user exactly one IAM action: the operation must pass; a user with everything
but that action must be refused. This proves the operation -> action mapping through the whole
request path (moto's botocore router, our table, the evaluator).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from labrunner.local.lifecycle import Endpoint
from tests.local.iam_support import ACCOUNT, client, create_user, unique

ENCRYPTION = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
BLOCK_ALL = {k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")}

Call = Callable[[Any, str], Any]
CASES: list[tuple[str, str, Call]] = [
    ("ListObjectsV2", "s3:ListBucket", lambda s3, b: s3.list_objects_v2(Bucket=b)),
    ("ListObjects", "s3:ListBucket", lambda s3, b: s3.list_objects(Bucket=b)),
    ("HeadBucket", "s3:ListBucket", lambda s3, b: s3.head_bucket(Bucket=b)),
    ("HeadObject", "s3:GetObject", lambda s3, b: s3.head_object(Bucket=b, Key="seed.txt")),
    ("GetObject", "s3:GetObject", lambda s3, b: s3.get_object(Bucket=b, Key="seed.txt")),
    ("PutObject", "s3:PutObject", lambda s3, b: s3.put_object(Bucket=b, Key="new.txt", Body=b"x")),
    ("DeleteObject", "s3:DeleteObject", lambda s3, b: s3.delete_object(Bucket=b, Key="seed.txt")),
    ("ListBuckets", "s3:ListAllMyBuckets", lambda s3, b: s3.list_buckets()),
    ("GetBucketLocation", "s3:GetBucketLocation", lambda s3, b: s3.get_bucket_location(Bucket=b)),
    (
        "PutBucketEncryption",
        "s3:PutEncryptionConfiguration",
        lambda s3, b: s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration=ENCRYPTION),
    ),
    ("GetBucketEncryption", "s3:GetEncryptionConfiguration", lambda s3, b: s3.get_bucket_encryption(Bucket=b)),
    (
        "GetBucketNotificationConfiguration",
        "s3:GetBucketNotification",
        lambda s3, b: s3.get_bucket_notification_configuration(Bucket=b),
    ),
    (
        "PutBucketNotificationConfiguration",
        "s3:PutBucketNotification",
        lambda s3, b: s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration={}),
    ),
    ("GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock", lambda s3, b: s3.get_public_access_block(Bucket=b)),
    (
        "PutPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
        lambda s3, b: s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration=BLOCK_ALL),
    ),
    ("GetBucketLogging", "s3:GetBucketLogging", lambda s3, b: s3.get_bucket_logging(Bucket=b)),
    ("GetBucketVersioning", "s3:GetBucketVersioning", lambda s3, b: s3.get_bucket_versioning(Bucket=b)),
    ("GetBucketTagging-or-none", "s3:GetBucketTagging", lambda s3, b: s3.get_bucket_tagging(Bucket=b)),
    ("DeleteBucketTagging", "s3:PutBucketTagging", lambda s3, b: s3.delete_bucket_tagging(Bucket=b)),
    ("GetBucketPolicy", "s3:GetBucketPolicy", lambda s3, b: s3.get_bucket_policy(Bucket=b)),
]


@pytest.fixture(scope="module")
def bucket(local_server: Endpoint) -> str:
    name = unique("s3-actions")
    client(local_server, "s3").create_bucket(Bucket=name)
    return name


def s3_with(endpoint: Endpoint, statement: dict[str, Any]) -> Any:
    _, creds = create_user(endpoint, statement)
    return client(endpoint, "s3", creds)


def seed(endpoint: Endpoint, bucket: str) -> None:
    client(endpoint, "s3").put_object(Bucket=bucket, Key="seed.txt", Body=b"seed")


def code_of(call: Callable[[], Any]) -> str | None:
    """The error code, or None when AWS would have answered (service errors other than 403 count as passed)."""
    try:
        call()
    except ClientError as exc:
        status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
        return str(exc.response["Error"]["Code"]) if status == 403 else None
    return None


@pytest.mark.parametrize(("operation", "action", "call"), [pytest.param(o, a, c, id=o) for o, a, c in CASES])
def test_operation_needs_exactly_its_iam_action(
    operation: str, action: str, call: Call, local_server: Endpoint, bucket: str
) -> None:
    seed(local_server, bucket)
    allowed = s3_with(local_server, {"Effect": "Allow", "Action": action, "Resource": "*"})
    everything_else = s3_with(local_server, {"Effect": "Allow", "NotAction": action, "Resource": "*"})
    assert code_of(lambda: call(allowed, bucket)) is None
    assert code_of(lambda: call(everything_else, bucket)) in ("AccessDenied", "403")


def test_copy_object_needs_put_on_target_and_get_on_source(local_server: Endpoint, bucket: str) -> None:
    seed(local_server, bucket)
    source = {"Bucket": bucket, "Key": "seed.txt"}
    both = s3_with(local_server, {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "*"})
    both.copy_object(Bucket=bucket, Key="copy.txt", CopySource=source)
    put_only = s3_with(local_server, {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"})
    assert code_of(lambda: put_only.copy_object(Bucket=bucket, Key="copy.txt", CopySource=source)) == "AccessDenied"
    get_only = s3_with(local_server, {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
    assert code_of(lambda: get_only.copy_object(Bucket=bucket, Key="copy.txt", CopySource=source)) == "AccessDenied"


def test_delete_objects_checks_each_key(local_server: Endpoint, bucket: str) -> None:
    seed(local_server, bucket)
    scoped = s3_with(
        local_server, {"Effect": "Allow", "Action": "s3:DeleteObject", "Resource": f"arn:aws:s3:::{bucket}/tmp/*"}
    )
    scoped.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "tmp/a"}, {"Key": "tmp/b"}]})
    both = {"Objects": [{"Key": "tmp/a"}, {"Key": "seed.txt"}]}
    assert code_of(lambda: scoped.delete_objects(Bucket=bucket, Delete=both)) == "AccessDenied"


@pytest.mark.parametrize("signature", ["s3v4", "s3"], ids=["sigv4", "sigv2"])
def test_expired_presigned_url(signature: str, local_server: Endpoint, bucket: str) -> None:
    seed(local_server, bucket)
    _, creds = create_user(local_server, {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
    reader = client(local_server, "s3", creds, config=Config(signature_version=signature))
    params = {"Bucket": bucket, "Key": "seed.txt"}
    with urllib.request.urlopen(reader.generate_presigned_url("get_object", Params=params, ExpiresIn=600)) as resp:
        assert resp.read() == b"seed"
    stale = reader.generate_presigned_url("get_object", Params=params, ExpiresIn=-10)
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(stale)
    assert info.value.code == 403
    assert b"<Code>AccessDenied</Code>" in info.value.read()


@pytest.mark.parametrize(
    ("action", "call"),
    [
        ("s3:GetAccountPublicAccessBlock", lambda c, a: c.get_public_access_block(AccountId=a)),
        (
            "s3:PutAccountPublicAccessBlock",
            lambda c, a: c.put_public_access_block(AccountId=a, PublicAccessBlockConfiguration=BLOCK_ALL),
        ),
        ("s3:PutAccountPublicAccessBlock", lambda c, a: c.delete_public_access_block(AccountId=a)),
    ],
    ids=["GetPublicAccessBlock", "PutPublicAccessBlock", "DeletePublicAccessBlock"],
)
def test_account_block_public_access_needs_the_account_actions(
    action: str, call: Callable[[Any, str], Any], local_server: Endpoint
) -> None:
    """S3 Control's account-level operations (signed for s3) are the account actions, not bucket or object ones."""
    from labrunner.aws.session import strip_account_host

    def s3control(statement: dict[str, Any]) -> Any:
        _, creds = create_user(local_server, statement)
        made = client(local_server, "s3control", creds)
        made.meta.events.register("before-sign.s3-control", strip_account_host)  # one host: 127.0.0.1
        return made

    account = ACCOUNT
    allowed = s3control({"Effect": "Allow", "Action": action, "Resource": "*"})
    everything_else = s3control({"Effect": "Allow", "NotAction": action, "Resource": "*"})
    assert code_of(lambda: call(allowed, account)) is None
    assert code_of(lambda: call(everything_else, account)) in ("AccessDenied", "403")
