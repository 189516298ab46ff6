"""Lab 2 graded semantically: states built by hand with boto3 against the local AWS, then solve."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError

from labrunner.aws import lab_buckets
from labrunner.aws.s3 import enable_access_logging, ensure_log_bucket, lab_log_bucket_name, log_delivery
from labrunner.aws.session import Identity, OpenTarget
from labrunner.context import Context, Settings
from labrunner.local.admin import make_legacy_unencrypted_bucket, set_s3_access_log_delay
from labrunner.model import Report, Status
from tests.helpers import cli, run, statuses, step

LAB2 = ("lab2.encryption", "lab2.encrypted-upload", "lab2.log-bucket", "lab2.access-logging", "lab2.logs-delivered")
BLOCK_ALL = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


# -- building student states by hand ------------------------------------------------------------------
def upload_bucket(ctx: Context) -> str:
    return ctx.workload().bucket


def delivery_policy(log_bucket: str, source: str, account: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AllowAccessLogs",
                    "Effect": "Allow",
                    "Principal": {"Service": "logging.s3.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": f"arn:aws:s3:::{log_bucket}/*",
                    "Condition": {
                        "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{source}"},
                        "StringEquals": {"aws:SourceAccount": account},
                    },
                }
            ],
        }
    )


def make_log_bucket(
    ctx: Context, name: str, *, block: dict[str, bool] | None = None, encrypted: bool = True, policy: bool = True
) -> str:
    """A log bucket as a student would click it together."""
    s3 = ctx.client("s3")
    s3.create_bucket(Bucket=name, ObjectOwnership="BucketOwnerEnforced")
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=block or BLOCK_ALL)
    if policy:
        s3.put_bucket_policy(Bucket=name, Policy=delivery_policy(name, upload_bucket(ctx), ctx.account_id))
    if not encrypted:
        assert ctx.target.endpoint_url is not None
        make_legacy_unencrypted_bucket(ctx.target.endpoint_url, name)
    return name


def log_to(ctx: Context, target: str, prefix: str = "logs/") -> None:
    ctx.client("s3").put_bucket_logging(
        Bucket=upload_bucket(ctx),
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": prefix}},
    )


def check(ctx: Context) -> Report:
    return run(ctx, "check", ["lab2"])


def assert_fail_hints(report: Report) -> None:
    """Every failing step and every failing check says what to do."""
    for result in report.steps:
        if result.status is Status.FAIL:
            assert result.hint, result.id
            for c in result.checks:
                if not c.passed and not c.pending:
                    assert c.hint, (result.id, c.name)


def failed_detail(report: Report, step_id: str) -> str:
    return " ".join(c.detail for c in step(report, step_id).checks if not c.passed)


def passed_detail(report: Report, step_id: str) -> str:
    return " ".join(c.detail for c in step(report, step_id).checks if c.passed)


def next_second(after: datetime) -> None:
    """Wait until S3's one-second LastModified clock has moved past `after` (objects order by it)."""
    deadline = time.monotonic() + 5
    while datetime.now(UTC) < after.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1):
        assert time.monotonic() < deadline
        time.sleep(0.05)


def newest_object_time(ctx: Context, bucket: str) -> datetime:
    contents = ctx.client("s3").list_objects_v2(Bucket=bucket).get("Contents", [])
    return max((o["LastModified"] for o in contents), default=datetime.now(UTC))


# -- the fresh workload -------------------------------------------------------------------------------
def test_fresh_workload_is_encrypted_by_aws_but_not_logged(deployed: Context) -> None:
    report = check(deployed)
    assert statuses(report) == {
        "lab2.encryption": Status.PASS,  # AWS's SSE-S3 default since January 2023
        "lab2.encrypted-upload": Status.PASS,
        "lab2.log-bucket": Status.FAIL,
        "lab2.access-logging": Status.FAIL,
        "lab2.logs-delivered": Status.FAIL,
    }
    assert "January 2023" in passed_detail(report, "lab2.encryption")
    assert "SSE-S3" in passed_detail(report, "lab2.encryption")
    assert "January 2023" in passed_detail(report, "lab2.encrypted-upload")
    assert "is off" in failed_detail(report, "lab2.access-logging")
    assert "Server access logging" in step(report, "lab2.access-logging").hint
    assert_fail_hints(report)


def test_solve_passes_every_step_and_a_second_solve_changes_nothing(deployed: Context) -> None:
    first = run(deployed, "solve", ["lab1", "lab2"])
    assert set(statuses(first).values()) == {Status.PASS}, first
    assert step(first, "lab2.log-bucket").changed and step(first, "lab2.access-logging").changed
    s3 = deployed.client("s3")
    log_bucket = lab_buckets.find(s3, lab_buckets.LOG, deployed)
    # A name of its own for this deployment (S3 holds a deleted bucket's name for hours), found by tag.
    assert log_bucket is not None and log_bucket.startswith(f"{lab_log_bucket_name(deployed.suffix)}-")
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=log_bucket)["TagSet"]}
    assert tags == {"labrunner:lab": "immersion", "labrunner:stack": deployed.stack_name}
    assert s3.get_bucket_logging(Bucket=upload_bucket(deployed))["LoggingEnabled"]["TargetBucket"] == log_bucket
    policy = json.loads(s3.get_bucket_policy(Bucket=log_bucket)["Policy"])
    statement = policy["Statement"][0]
    assert statement["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == deployed.account_id
    assert s3.get_bucket_ownership_controls(Bucket=log_bucket)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}
    ]
    assert {"Key": "labrunner:lab", "Value": "immersion"} in s3.get_bucket_tagging(Bucket=log_bucket)["TagSet"]

    second = run(deployed, "solve", ["lab1", "lab2"])
    assert set(statuses(second).values()) == {Status.PASS}, second
    assert [r.id for r in second.steps if r.changed] == []
    assert set(statuses(check(deployed)).values()) == {Status.PASS}


# -- hand-made states ---------------------------------------------------------------------------------
def test_logging_into_the_upload_bucket_itself_fails(deployed: Context) -> None:
    upload = upload_bucket(deployed)
    deployed.client("s3").put_bucket_policy(Bucket=upload, Policy=delivery_policy(upload, upload, deployed.account_id))
    log_to(deployed, upload)
    report = check(deployed)
    assert statuses(report)["lab2.access-logging"] is Status.FAIL
    assert statuses(report)["lab2.log-bucket"] is Status.FAIL
    assert statuses(report)["lab2.logs-delivered"] is Status.FAIL
    assert "logs into itself" in failed_detail(report, "lab2.access-logging")
    assert "Destination" in step(report, "lab2.access-logging").hint
    assert_fail_hints(report)


def test_log_bucket_missing_one_block_public_access_setting_fails_naming_it(deployed: Context) -> None:
    name = make_log_bucket(
        deployed, lab_log_bucket_name(deployed.suffix), block={**BLOCK_ALL, "BlockPublicPolicy": False}
    )
    log_to(deployed, name)
    report = check(deployed)
    assert statuses(report)["lab2.log-bucket"] is Status.FAIL
    assert statuses(report)["lab2.access-logging"] is Status.PASS
    detail = failed_detail(report, "lab2.log-bucket")
    assert "BlockPublicPolicy" in detail and "BlockPublicAcls" not in detail
    assert "Block public access" in step(report, "lab2.log-bucket").hint
    assert_fail_hints(report)


def test_log_bucket_without_encryption_fails(deployed: Context) -> None:
    name = make_log_bucket(deployed, lab_log_bucket_name(deployed.suffix), encrypted=False)
    log_to(deployed, name)
    report = check(deployed)
    assert statuses(report)["lab2.log-bucket"] is Status.FAIL
    assert "no default encryption" in failed_detail(report, "lab2.log-bucket")
    assert "Default encryption" in step(report, "lab2.log-bucket").hint
    assert_fail_hints(report)


def test_log_bucket_without_delivery_permission_fails(deployed: Context) -> None:
    make_log_bucket(deployed, lab_log_bucket_name(deployed.suffix), policy=False)
    report = check(deployed)
    assert statuses(report)["lab2.log-bucket"] is Status.FAIL
    assert "logging.s3.amazonaws.com" in failed_detail(report, "lab2.log-bucket")
    assert_fail_hints(report)


def test_a_differently_named_equivalent_log_bucket_passes_and_says_so(deployed: Context) -> None:
    name = make_log_bucket(deployed, f"audit-trail-{deployed.account_id}")
    log_to(deployed, name)
    report = check(deployed)
    assert statuses(report)["lab2.log-bucket"] is Status.PASS
    assert statuses(report)["lab2.access-logging"] is Status.PASS
    assert f"{lab_log_bucket_name(deployed.suffix)}-…" in passed_detail(report, "lab2.log-bucket")


def test_a_log_bucket_made_with_aws_defaults_is_private_and_encrypted(deployed: Context) -> None:
    """Since 2023 a new bucket blocks public access, disables ACLs and encrypts by default: a student
    who only adds the delivery policy has a good log bucket."""
    s3, name = deployed.client("s3"), f"plain-logs-{deployed.account_id}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_policy(Bucket=name, Policy=delivery_policy(name, upload_bucket(deployed), deployed.account_id))
    log_to(deployed, name)
    report = check(deployed)
    assert statuses(report)["lab2.log-bucket"] is Status.PASS, failed_detail(report, "lab2.log-bucket")
    assert "all four Block Public Access settings" in passed_detail(report, "lab2.log-bucket")


def test_logging_switched_off_after_being_on_fails(deployed: Context) -> None:
    name = make_log_bucket(deployed, lab_log_bucket_name(deployed.suffix))
    log_to(deployed, name)
    before = check(deployed)
    assert statuses(before)["lab2.access-logging"] is Status.PASS
    assert statuses(before)["lab2.log-bucket"] is Status.PASS
    deployed.client("s3").put_bucket_logging(Bucket=upload_bucket(deployed), BucketLoggingStatus={})
    after = check(deployed)
    assert statuses(after)["lab2.access-logging"] is Status.FAIL
    assert statuses(after)["lab2.logs-delivered"] is Status.FAIL
    assert "is off" in failed_detail(after, "lab2.access-logging")
    assert_fail_hints(after)


def test_sse_kms_default_encryption_passes_as_stronger(deployed: Context) -> None:
    key = deployed.client("kms").create_key(Description="lab2 test")["KeyMetadata"]["Arn"]
    s3, upload = deployed.client("s3"), upload_bucket(deployed)
    s3.put_bucket_encryption(
        Bucket=upload,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}]
        },
    )
    next_second(newest_object_time(deployed, upload))
    s3.put_object(Bucket=upload, Key="kms-upload.txt", Body=b"secret")
    report = check(deployed)
    assert statuses(report)["lab2.encryption"] is Status.PASS
    assert statuses(report)["lab2.encrypted-upload"] is Status.PASS
    assert "stronger" in passed_detail(report, "lab2.encryption") and "SSE-KMS" in passed_detail(
        report, "lab2.encryption"
    )
    assert "aws:kms" in passed_detail(report, "lab2.encrypted-upload")


def test_object_uploaded_before_encryption_versus_after(deployed: Context) -> None:
    s3, upload = deployed.client("s3"), upload_bucket(deployed)
    assert deployed.target.endpoint_url is not None
    make_legacy_unencrypted_bucket(deployed.target.endpoint_url, upload)
    next_second(newest_object_time(deployed, upload))
    s3.put_object(Bucket=upload, Key="before.txt", Body=b"plain")
    assert "ServerSideEncryption" not in s3.head_object(Bucket=upload, Key="before.txt")

    unencrypted = check(deployed)
    assert statuses(unencrypted)["lab2.encryption"] is Status.FAIL
    assert statuses(unencrypted)["lab2.encrypted-upload"] is Status.FAIL
    assert "before.txt" in failed_detail(unencrypted, "lab2.encrypted-upload")
    assert "Default encryption" in step(unencrypted, "lab2.encryption").hint
    assert_fail_hints(unencrypted)

    s3.put_bucket_encryption(
        Bucket=upload,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    encrypted_bucket = check(deployed)
    assert statuses(encrypted_bucket)["lab2.encryption"] is Status.PASS
    # The change alone is no evidence: the newest object was written before it.
    assert statuses(encrypted_bucket)["lab2.encrypted-upload"] is Status.FAIL
    assert "upload a file again" in step(encrypted_bucket, "lab2.encrypted-upload").hint

    next_second(newest_object_time(deployed, upload))
    s3.put_object(Bucket=upload, Key="after.txt", Body=b"protected")
    assert s3.head_object(Bucket=upload, Key="after.txt")["ServerSideEncryption"] == "AES256"
    after = check(deployed)
    assert statuses(after)["lab2.encrypted-upload"] is Status.PASS
    assert "after.txt" in passed_detail(after, "lab2.encrypted-upload")
    assert "before.txt" in passed_detail(after, "lab2.encrypted-upload")  # listed as still unencrypted


def test_solve_encrypts_a_pre_2023_bucket_and_uploads_new_evidence(deployed: Context) -> None:
    s3, upload = deployed.client("s3"), upload_bucket(deployed)
    assert deployed.target.endpoint_url is not None
    make_legacy_unencrypted_bucket(deployed.target.endpoint_url, upload)
    next_second(newest_object_time(deployed, upload))
    s3.put_object(Bucket=upload, Key="before.txt", Body=b"plain")
    next_second(newest_object_time(deployed, upload))
    report = run(deployed, "solve", ["lab2.encryption", "lab2.encrypted-upload"])
    assert statuses(report) == {"lab2.encryption": Status.PASS, "lab2.encrypted-upload": Status.PASS}
    assert step(report, "lab2.encryption").changed and step(report, "lab2.encrypted-upload").changed
    again = run(deployed, "solve", ["lab2.encryption", "lab2.encrypted-upload"])
    assert [r.changed for r in again.steps] == [False, False]


def test_logs_delivered_is_pending_while_aws_is_late_and_passes_when_logs_arrive(deployed: Context) -> None:
    assert deployed.target.endpoint_url is not None
    set_s3_access_log_delay(deployed.target.endpoint_url, 3600)
    name = make_log_bucket(deployed, lab_log_bucket_name(deployed.suffix))
    log_to(deployed, name)
    deployed.client("s3").put_object(Bucket=upload_bucket(deployed), Key="traffic.txt", Body=b"x")
    late = check(deployed)
    assert statuses(late)["lab2.logs-delivered"] is Status.PENDING
    assert statuses(late)["lab2.access-logging"] is Status.PASS
    assert "best-effort" in " ".join(c.detail for c in step(late, "lab2.logs-delivered").checks)

    set_s3_access_log_delay(deployed.target.endpoint_url, 0)
    deadline = time.monotonic() + 20
    while True:
        deployed.client("s3").list_objects_v2(Bucket=upload_bucket(deployed), MaxKeys=1)
        report = run(deployed, "check", ["lab2.logs-delivered"])
        if statuses(report)["lab2.logs-delivered"] is Status.PASS or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert statuses(report)["lab2.logs-delivered"] is Status.PASS
    assert "logs/" in passed_detail(report, "lab2.logs-delivered")


def test_legacy_acl_log_delivery_counts_only_while_acls_are_enabled(deployed: Context) -> None:
    s3, name = deployed.client("s3"), lab_log_bucket_name(deployed.suffix)
    s3.create_bucket(Bucket=name, ObjectOwnership="ObjectWriter")
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=BLOCK_ALL)
    owner = s3.get_bucket_acl(Bucket=name)["Owner"]
    log_delivery = {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/s3/LogDelivery"}
    s3.put_bucket_acl(
        Bucket=name,
        AccessControlPolicy={
            "Owner": owner,
            "Grants": [
                {"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]}, "Permission": "FULL_CONTROL"},
                {"Grantee": log_delivery, "Permission": "WRITE"},
                {"Grantee": log_delivery, "Permission": "READ_ACP"},
            ],
        },
    )
    report = run(deployed, "check", ["lab2.log-bucket"])
    assert statuses(report)["lab2.log-bucket"] is Status.PASS
    assert "legacy" in passed_detail(report, "lab2.log-bucket")
    s3.put_bucket_ownership_controls(
        Bucket=name, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    disabled = run(deployed, "check", ["lab2.log-bucket"])
    assert statuses(disabled)["lab2.log-bucket"] is Status.FAIL


def test_explain_access_logging_reads_as_a_lab_instruction() -> None:
    result = cli("explain", "lab2.access-logging")
    assert result.code == 0
    for words in ("AU-2", "AU-12", "Properties → Server access logging", "Destination", "labrunner solve"):
        assert words in result.out


@pytest.mark.parametrize("step_id", LAB2)
def test_every_step_has_console_instructions(step_id: str) -> None:
    out = cli("explain", step_id).out
    assert "Do it by hand in the AWS console" in out and "What it checks and why" in out


def test_check_of_labs_1_and_2_works_under_read_only_access(deployed: Context) -> None:
    """SPEC §5: a student with ReadOnlyAccess can check; nothing in labs 1-2 needs more."""
    assert set(statuses(run(deployed, "solve", ["lab1", "lab2"])).values()) == {Status.PASS}
    iam = deployed.client("iam")
    iam.create_user(UserName="student-read-only")
    iam.attach_user_policy(UserName="student-read-only", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    key = iam.create_access_key(UserName="student-read-only")["AccessKey"]
    session = boto3.Session(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], region_name=deployed.region
    )
    arn = session.client("sts", endpoint_url=deployed.target.endpoint_url).get_caller_identity()["Arn"]
    target = OpenTarget(
        kind="aws",
        session=session,
        region=deployed.region,
        endpoint_url=deployed.target.endpoint_url,
        identity=Identity(account=deployed.account_id, arn=arn),
    )
    with pytest.raises(ClientError) as denied:  # the identity really is read-only
        session.client("s3", endpoint_url=deployed.target.endpoint_url).delete_bucket_policy(
            Bucket=lab_log_bucket_name(deployed.suffix)
        )
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    report = run(Context(target, Settings()), "check", ["lab1", "lab2"])
    assert set(statuses(report).values()) == {Status.PASS}, report


def test_log_delivery_is_judged_by_source_bucket_account_and_deny(ctx: Context) -> None:
    """The policy is evaluated as AWS would for logging.s3.amazonaws.com, conditions included."""
    s3, account = ctx.client("s3"), ctx.account_id
    s3.create_bucket(Bucket="source-a")
    s3.create_bucket(Bucket="logs-x", ObjectOwnership="BucketOwnerEnforced")

    def allowed(source: str, policy: str | None, account_id: str = account) -> bool:
        if policy is None:
            s3.delete_bucket_policy(Bucket="logs-x")
        else:
            s3.put_bucket_policy(Bucket="logs-x", Policy=policy)
        return log_delivery(s3, "logs-x", source_bucket=source, account=account_id, region=ctx.region).allowed

    scoped_to_a = delivery_policy("logs-x", "source-a", account)
    assert allowed("source-a", scoped_to_a)
    assert not allowed("source-b", scoped_to_a)  # another source bucket
    assert not allowed("source-a", scoped_to_a, account_id="210987654321")  # another account
    assert not allowed("source-a", None)
    deny = json.loads(scoped_to_a)
    deny["Statement"].append(
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::logs-x/*"}
    )
    assert not allowed("source-a", json.dumps(deny))


def test_ensure_log_bucket_merges_sources_and_is_idempotent(ctx: Context) -> None:
    """Lab 4 reuses it: a second source bucket is added to the same statement, others are kept."""
    s3, account = ctx.client("s3"), ctx.account_id
    for name in ("source-a", "source-b"):
        s3.create_bucket(Bucket=name)
    log = lab_log_bucket_name(ctx.suffix)
    assert ensure_log_bucket(s3, log, region=ctx.region, account=account, source_buckets=["source-a"])
    kept = json.loads(s3.get_bucket_policy(Bucket=log)["Policy"])
    kept["Statement"].append(
        {
            "Sid": "Theirs",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{log}/*",
        }
    )
    s3.put_bucket_policy(Bucket=log, Policy=json.dumps(kept))
    assert ensure_log_bucket(s3, log, region=ctx.region, account=account, source_buckets=["source-a", "source-b"])
    assert not ensure_log_bucket(s3, log, region=ctx.region, account=account, source_buckets=["source-b", "source-a"])
    statements = {s.get("Sid"): s for s in json.loads(s3.get_bucket_policy(Bucket=log)["Policy"])["Statement"]}
    assert "Theirs" in statements
    assert statements["S3ServerAccessLogsPolicy"]["Condition"]["ArnLike"]["aws:SourceArn"] == [
        "arn:aws:s3:::source-a",
        "arn:aws:s3:::source-b",
    ]
    for source in ("source-a", "source-b"):
        assert enable_access_logging(s3, source, target_bucket=log)
        assert not enable_access_logging(s3, source, target_bucket=log)
