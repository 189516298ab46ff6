"""S3 bucket policies and SQS queue policies take part in authorization, as on AWS."""

from __future__ import annotations

import json
import uuid

from labrunner.local import identity
from labrunner.local.lifecycle import Endpoint
from tests.local.iam_support import (
    ACCOUNT,
    REGION,
    Creds,
    admin,
    allow,
    assume,
    client,
    create_user,
    error_of,
    policy,
    unique,
)


def member(endpoint: Endpoint) -> tuple[str, Creds]:
    account = str(uuid.uuid4().int)[:12].rjust(12, "3")
    role = f"arn:aws:iam::{account}:role/{identity.ORG_ACCESS_ROLE}"
    return account, assume(endpoint, admin(endpoint), role, session_name="other")


def bucket_with_policy(endpoint: Endpoint, *statements: dict[str, object]) -> str:
    s3 = client(endpoint, "s3")
    bucket = unique("rp")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="data.txt", Body=b"data")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))
    return bucket


def test_bucket_policy_deny_wins_over_identity_allow(local_server: Endpoint) -> None:
    user_arn, creds = create_user(local_server, allow("s3:*"))
    bucket = bucket_with_policy(
        local_server,
        {
            "Sid": "NoDeletes",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:DeleteObject",
            "Resource": f"arn:aws:s3:::{unique('x')}/*",
        },
    )
    s3 = client(local_server, "s3", creds)
    s3.get_object(Bucket=bucket, Key="data.txt")  # the deny names another bucket
    guarded = bucket_with_policy(
        local_server,
        {"Effect": "Deny", "Principal": {"AWS": user_arn}, "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::*/*"},
    )
    denied = error_of(lambda: s3.delete_object(Bucket=guarded, Key="data.txt"))
    assert denied["Error"]["Code"] == "AccessDenied"
    assert denied["Error"]["Message"].endswith("with an explicit deny in a resource-based policy")
    s3.get_object(Bucket=guarded, Key="data.txt")


def test_secure_transport_deny_does_not_lock_out_clients(local_server: Endpoint) -> None:
    """The local endpoint stands in for AWS's HTTPS one: a TLS-only bucket policy lets clients in."""
    _, creds = create_user(local_server, allow("s3:GetObject"))
    bucket = bucket_with_policy(
        local_server,
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::*", "arn:aws:s3:::*/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    )
    assert client(local_server, "s3", creds).get_object(Bucket=bucket, Key="data.txt")["Body"].read() == b"data"


def test_same_account_bucket_policy_alone_grants(local_server: Endpoint) -> None:
    user_arn, creds = create_user(local_server)
    bucket = bucket_with_policy(
        local_server,
        {"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::*/*"},
    )
    assert client(local_server, "s3", creds).get_object(Bucket=bucket, Key="data.txt")["Body"].read() == b"data"


def test_cross_account_bucket_needs_both_policies(local_server: Endpoint) -> None:
    other_account, other = member(local_server)
    closed = bucket_with_policy(
        local_server,
        {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::*/*"},
    )
    s3 = client(local_server, "s3", other)
    denied = error_of(lambda: s3.get_object(Bucket=closed, Key="data.txt"))
    assert denied["Error"]["Code"] == "AccessDenied"
    open_to_other = bucket_with_policy(
        local_server,
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{other_account}:root"},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::*/*",
        },
    )
    assert s3.get_object(Bucket=open_to_other, Key="data.txt")["Body"].read() == b"data"


def test_queue_policy_deny(local_server: Endpoint) -> None:
    sqs_admin = client(local_server, "sqs")
    name = unique("guarded")
    url = sqs_admin.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    user_arn, creds = create_user(local_server, allow("sqs:*"))
    sqs = client(local_server, "sqs", creds)
    sqs.send_message(QueueUrl=url, MessageBody="before")
    deny = {"Effect": "Deny", "Principal": {"AWS": user_arn}, "Action": "sqs:SendMessage", "Resource": queue_arn}
    sqs_admin.set_queue_attributes(
        QueueUrl=url, Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [deny]})}
    )
    denied = error_of(lambda: sqs.send_message(QueueUrl=url, MessageBody="after"))
    assert denied["Error"]["Code"] == "AccessDenied"
    assert "with an explicit deny in a resource-based policy" in denied["Error"]["Message"]
    sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)


def _role_session(endpoint: Endpoint, path: str, boundary_arn: str | None = None) -> tuple[str, str, Creds]:
    """A role at `path` that the admin may assume and that has no identity policy; its session."""
    iam = client(endpoint, "iam")
    name = unique("pathrole")
    trust = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
    extra = {"PermissionsBoundary": boundary_arn} if boundary_arn else {}
    role = iam.create_role(
        RoleName=name,
        Path=path,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]}),
        **extra,
    )["Role"]
    return role["Arn"], name, assume(endpoint, admin(endpoint), role["Arn"], session_name="pathy")


def _queue_granting(endpoint: Endpoint, principal: str) -> str:
    sqs_admin = client(endpoint, "sqs")
    name = unique("granted")
    url: str = sqs_admin.create_queue(QueueName=name)["QueueUrl"]
    grant = {
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": "sqs:SendMessage",
        "Resource": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}",
    }
    sqs_admin.set_queue_attributes(
        QueueUrl=url, Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [grant]})}
    )
    return url


def test_queue_policy_names_a_role_only_at_its_own_path(local_server: Endpoint) -> None:
    """IAM JSON policy elements: Principal — a role principal is the role's ARN, path included."""
    role_arn, name, creds = _role_session(local_server, "/team/")
    sqs = client(local_server, "sqs", creds)
    sqs.send_message(QueueUrl=_queue_granting(local_server, role_arn), MessageBody="full path")
    pathless = _queue_granting(local_server, f"arn:aws:iam::{ACCOUNT}:role/{name}")
    assert error_of(lambda: sqs.send_message(QueueUrl=pathless, MessageBody="no"))["Error"]["Code"] == "AccessDenied"


def test_queue_policy_grant_to_the_role_arn_is_limited_by_the_boundary(local_server: Endpoint) -> None:
    """Permissions boundaries for IAM entities: a resource policy's grant to the role ARN is limited by an
    implicit deny in the role's boundary; a grant to the session ARN is not."""
    iam = client(local_server, "iam")
    boundary = iam.create_policy(PolicyName=unique("logs-only"), PolicyDocument=policy(allow("logs:*")))["Policy"][
        "Arn"
    ]
    role_arn, name, creds = _role_session(local_server, "/", boundary)
    sqs = client(local_server, "sqs", creds)
    to_role = _queue_granting(local_server, role_arn)
    assert error_of(lambda: sqs.send_message(QueueUrl=to_role, MessageBody="no"))["Error"]["Code"] == "AccessDenied"
    session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/pathy"
    sqs.send_message(QueueUrl=_queue_granting(local_server, session_arn), MessageBody="session grant")
