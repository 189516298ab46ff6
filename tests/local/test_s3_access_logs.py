"""S3 server access logging as on AWS (fidelity/s3_access_logs.py).

What AWS checks at PutBucketLogging, and its answer:
- a missing target, or one of another account: HTTP 400 InvalidTargetBucketForLogging;
- a target whose ACLs are enabled (Object Ownership ObjectWriter or BucketOwnerPreferred, as
  buckets made before April 2023) that lets neither the logging service principal (bucket
  policy) nor the LogDelivery group (ACL) write: HTTP 400 InvalidTargetBucketForLogging ("You
  must give the log-delivery group WRITE and READ_ACP permissions to the target bucket");
- a target with ACLs disabled (BucketOwnerEnforced, the default for new buckets) is accepted
  without a policy: AWS's own CloudFormation example enables logging on the source bucket
  before the target's policy exists (that policy's aws:SourceArn is the source bucket's ARN).
  Logs are then delivered only once the policy lets the logging service write.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from labrunner.local import admin
from labrunner.local.lifecycle import Endpoint

ACCOUNT = "123456789012"
SOURCE = "logged-source-bucket"
TARGET = "access-logs-target-bucket"
PREFIX = "logs/"
LOG_DELIVERY_GROUP = "http://acs.amazonaws.com/groups/s3/LogDelivery"
_FIELD = re.compile(r'"(?:[^"\\]|\\.)*"|\[[^\]]*\]|\S+')


@dataclass(frozen=True)
class Entry:
    """The fields of one access log record a grader reads."""

    bucket: str
    requester: str
    operation: str
    key: str
    request_uri: str
    status: str
    error_code: str
    fields: tuple[str, ...]


def parse(line: str) -> Entry:
    fields = tuple(_FIELD.findall(line))
    assert len(fields) == 27, line  # AWS's current format: 27 fields, "-" when empty
    assert fields[2].startswith("[") and fields[2].endswith("+0000]")
    return Entry(
        bucket=fields[1],
        requester=fields[4],
        operation=fields[6],
        key=fields[7],
        request_uri=fields[8].strip('"'),
        status=fields[9],
        error_code=fields[10],
        fields=fields,
    )


def logging_policy(target: str, source: str, prefix: str = PREFIX, account: str = ACCOUNT) -> str:
    """The bucket policy AWS recommends for server access log delivery."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "S3ServerAccessLogsPolicy",
                    "Effect": "Allow",
                    "Principal": {"Service": "logging.s3.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": f"arn:aws:s3:::{target}/{prefix}*",
                    "Condition": {
                        "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{source}"},
                        "StringEquals": {"aws:SourceAccount": account},
                    },
                }
            ],
        }
    )


@pytest.fixture
def s3(fresh_server: Endpoint, admin_session: boto3.Session) -> Any:
    client = admin_session.client("s3", endpoint_url=fresh_server.url)
    client.create_bucket(Bucket=SOURCE)
    client.create_bucket(Bucket=TARGET)
    return client


def enable_logging(s3: Any, target: str = TARGET, prefix: str = PREFIX) -> None:
    s3.put_bucket_logging(
        Bucket=SOURCE,
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": prefix}},
    )


def log_objects(s3: Any, bucket: str = TARGET, prefix: str = PREFIX) -> list[str]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return [obj["Key"] for obj in listed]


def entries(s3: Any, bucket: str = TARGET, prefix: str = PREFIX) -> list[Entry]:
    found = []
    for key in log_objects(s3, bucket, prefix):
        text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        found += [parse(line) for line in text.splitlines() if line]
    return found


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_policy_allowed_target_receives_real_entries(s3: Any) -> None:
    s3.put_bucket_policy(Bucket=TARGET, Policy=logging_policy(TARGET, SOURCE))
    enable_logging(s3)
    assert s3.get_bucket_logging(Bucket=SOURCE)["LoggingEnabled"] == {
        "TargetBucket": TARGET,
        "TargetPrefix": PREFIX,
    }
    s3.put_object(Bucket=SOURCE, Key="uploads/Alice's Adventures.txt", Body=b"down the rabbit hole")
    s3.get_object(Bucket=SOURCE, Key="uploads/Alice's Adventures.txt")["Body"].read()
    s3.head_object(Bucket=SOURCE, Key="uploads/Alice's Adventures.txt")
    with pytest.raises(ClientError):
        s3.get_object(Bucket=SOURCE, Key="missing.txt")
    s3.list_objects_v2(Bucket=SOURCE)

    keys = log_objects(s3)
    assert keys and all(re.fullmatch(r"logs/\d{4}(-\d\d){5}-[0-9A-F]{16}", key) for key in keys)
    seen = [(e.operation, e.key, e.status) for e in entries(s3)]
    encoded = "uploads/Alice%27s%20Adventures.txt"
    assert ("REST.PUT.OBJECT", encoded, "200") in seen
    assert ("REST.GET.OBJECT", encoded, "200") in seen
    assert ("REST.HEAD.OBJECT", encoded, "200") in seen
    assert ("REST.GET.OBJECT", "missing.txt", "404") in seen
    assert ("REST.GET.BUCKET", "-", "200") in seen
    by_op = {e.operation: e for e in entries(s3)}
    assert all(e.bucket == SOURCE for e in entries(s3))
    assert by_op["REST.PUT.OBJECT"].request_uri.startswith(f"PUT /{SOURCE}/uploads/")
    missing = next(e for e in entries(s3) if e.key == "missing.txt")
    assert missing.error_code == "NoSuchKey"
    # The object size field of the PUT: the 20 bytes stored.
    assert by_op["REST.PUT.OBJECT"].fields[12] == "20"


def enable_acls(s3: Any, bucket: str = TARGET) -> None:
    """Object Ownership ObjectWriter: ACLs enabled, as on buckets made before April 2023."""
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})


def test_legacy_acl_grant_is_accepted(s3: Any) -> None:
    enable_acls(s3)
    s3.put_bucket_acl(
        Bucket=TARGET,
        GrantWrite=f"uri={LOG_DELIVERY_GROUP}",
        GrantReadACP=f"uri={LOG_DELIVERY_GROUP}",
    )
    enable_logging(s3)
    s3.put_object(Bucket=SOURCE, Key="a.txt", Body=b"a")
    assert ("REST.PUT.OBJECT", "a.txt") in [(e.operation, e.key) for e in entries(s3)]


@pytest.mark.parametrize(
    "policy",
    [
        pytest.param(None, id="no-policy"),
        pytest.param(logging_policy(TARGET, "some-other-bucket"), id="policy-for-another-source"),
        pytest.param(logging_policy(TARGET, SOURCE, account="210987654321"), id="policy-for-another-account"),
        pytest.param(logging_policy(TARGET, SOURCE, prefix="elsewhere/"), id="policy-for-another-prefix"),
    ],
)
def test_refused_without_permission(s3: Any, policy: str | None) -> None:
    enable_acls(s3)
    if policy is not None:
        s3.put_bucket_policy(Bucket=TARGET, Policy=policy)
    with pytest.raises(ClientError) as exc:
        enable_logging(s3)
    assert error_code(exc) == "InvalidTargetBucketForLogging"
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=SOURCE)


def test_explicit_deny_beats_the_acl_grant(s3: Any) -> None:
    enable_acls(s3)
    s3.put_bucket_acl(Bucket=TARGET, GrantWrite=f"uri={LOG_DELIVERY_GROUP}", GrantReadACP=f"uri={LOG_DELIVERY_GROUP}")
    deny = json.loads(logging_policy(TARGET, SOURCE))
    deny["Statement"][0]["Effect"] = "Deny"
    s3.put_bucket_policy(Bucket=TARGET, Policy=json.dumps(deny))
    with pytest.raises(ClientError) as exc:
        enable_logging(s3)
    assert error_code(exc) == "InvalidTargetBucketForLogging"


def test_target_with_acls_disabled_is_accepted_and_delivery_waits_for_the_policy(s3: Any) -> None:
    enable_logging(s3)  # no policy yet: accepted, as AWS's CloudFormation example needs
    assert s3.get_bucket_logging(Bucket=SOURCE)["LoggingEnabled"]["TargetBucket"] == TARGET
    s3.put_object(Bucket=SOURCE, Key="undelivered.txt", Body=b"1")
    # ACLs are disabled (BucketOwnerEnforced): a LogDelivery grant does not let logs in either.
    s3.put_bucket_acl(Bucket=TARGET, GrantWrite=f"uri={LOG_DELIVERY_GROUP}", GrantReadACP=f"uri={LOG_DELIVERY_GROUP}")
    s3.put_object(Bucket=SOURCE, Key="still-undelivered.txt", Body=b"2")
    assert log_objects(s3) == []
    s3.put_bucket_policy(Bucket=TARGET, Policy=logging_policy(TARGET, SOURCE))
    s3.put_object(Bucket=SOURCE, Key="delivered.txt", Body=b"3")
    logged = {e.key for e in entries(s3)}
    assert "delivered.txt" in logged
    assert not {"undelivered.txt", "still-undelivered.txt"} & logged


def test_policy_for_another_source_delivers_nothing(s3: Any) -> None:
    s3.put_bucket_policy(Bucket=TARGET, Policy=logging_policy(TARGET, "some-other-bucket"))
    enable_logging(s3)
    s3.put_object(Bucket=SOURCE, Key="a.txt", Body=b"a")
    assert log_objects(s3) == []


def test_missing_target_is_refused(s3: Any) -> None:
    with pytest.raises(ClientError) as exc:
        enable_logging(s3, target="no-such-log-bucket")
    assert error_code(exc) == "InvalidTargetBucketForLogging"


def test_turning_logging_off_stops_delivery(s3: Any) -> None:
    s3.put_bucket_policy(Bucket=TARGET, Policy=logging_policy(TARGET, SOURCE))
    enable_logging(s3)
    s3.put_object(Bucket=SOURCE, Key="before.txt", Body=b"1")
    s3.put_bucket_logging(Bucket=SOURCE, BucketLoggingStatus={})
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=SOURCE)
    count = len(log_objects(s3))
    s3.put_object(Bucket=SOURCE, Key="after.txt", Body=b"2")
    s3.get_object(Bucket=SOURCE, Key="after.txt")
    assert len(log_objects(s3)) == count
    logged = {e.key for e in entries(s3)}
    assert "before.txt" in logged and "after.txt" not in logged


def test_requests_of_an_iam_user_name_the_user(s3: Any, fresh_server: Endpoint, admin_session: boto3.Session) -> None:
    s3.put_bucket_policy(Bucket=TARGET, Policy=logging_policy(TARGET, SOURCE))
    enable_logging(s3)
    iam = admin_session.client("iam", endpoint_url=fresh_server.url)
    iam.create_user(UserName="alice")
    iam.attach_user_policy(UserName="alice", PolicyArn="arn:aws:iam::aws:policy/AmazonS3FullAccess")
    key = iam.create_access_key(UserName="alice")["AccessKey"]
    alice = boto3.client(
        "s3",
        endpoint_url=fresh_server.url,
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    alice.put_object(Bucket=SOURCE, Key="from-alice.txt", Body=b"hi")
    entry = next(e for e in entries(s3) if e.key == "from-alice.txt")
    assert entry.requester == f"arn:aws:iam::{ACCOUNT}:user/alice"


def test_copy_and_batch_delete_are_logged_as_aws_names_them(s3: Any) -> None:
    s3.put_bucket_policy(Bucket=TARGET, Policy=logging_policy(TARGET, SOURCE))
    enable_logging(s3)
    s3.put_object(Bucket=SOURCE, Key="one.txt", Body=b"1")
    s3.copy_object(Bucket=SOURCE, Key="two.txt", CopySource={"Bucket": SOURCE, "Key": "one.txt"})
    s3.delete_objects(Bucket=SOURCE, Delete={"Objects": [{"Key": "one.txt"}, {"Key": "two.txt"}]})
    seen = {(e.operation, e.key) for e in entries(s3)}
    assert ("REST.COPY.OBJECT", "two.txt") in seen
    assert ("REST.COPY.OBJECT_GET", "one.txt") in seen
    assert ("REST.POST.MULTI_OBJECT_DELETE", "-") in seen
    assert {("BATCH.DELETE.OBJECT", "one.txt"), ("BATCH.DELETE.OBJECT", "two.txt")} <= seen


def test_delayed_delivery_batches_records(s3: Any, fresh_server: Endpoint) -> None:
    s3.put_bucket_policy(Bucket=TARGET, Policy=logging_policy(TARGET, SOURCE))
    enable_logging(s3)
    admin.set_s3_access_log_delay(fresh_server.url, 0.6)
    s3.put_object(Bucket=SOURCE, Key="late-1.txt", Body=b"1")
    s3.put_object(Bucket=SOURCE, Key="late-2.txt", Body=b"2")
    assert log_objects(s3) == []  # not yet delivered
    deadline = time.monotonic() + 10
    while not log_objects(s3) and time.monotonic() < deadline:
        time.sleep(0.1)
    keys = log_objects(s3)
    assert len(keys) == 1  # one batch for both requests
    assert {"late-1.txt", "late-2.txt"} <= {e.key for e in entries(s3)}


def test_delay_is_back_to_immediate_after_reset(fresh_server: Endpoint) -> None:
    assert admin.call(fresh_server.url, "GET", "s3/access-log-delay")["seconds"] == 0
