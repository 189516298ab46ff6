"""Several accounts in one server (SPEC §6.7): the admin, and accounts that exist on first use."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from labrunner.local import identity
from labrunner.local.lifecycle import Endpoint

REGION = identity.DEFAULT_REGION


def org_role(account: str) -> str:
    return f"arn:aws:iam::{account}:role/{identity.ORG_ACCESS_ROLE}"


def assume(session: boto3.Session, endpoint: Endpoint, role_arn: str) -> boto3.Session:
    creds = session.client("sts", endpoint_url=endpoint.url).assume_role(RoleArn=role_arn, RoleSessionName="class")
    c = creds["Credentials"]
    return boto3.Session(
        aws_access_key_id=c["AccessKeyId"],
        aws_secret_access_key=c["SecretAccessKey"],
        aws_session_token=c["SessionToken"],
        region_name=REGION,
    )


def random_account() -> str:
    return str(uuid.uuid4().int)[:12].rjust(12, "1")


def test_admin_is_a_real_user_with_administrator_access(local_server: Endpoint, admin_session: boto3.Session) -> None:
    iam = admin_session.client("iam", endpoint_url=local_server.url)
    caller = admin_session.client("sts", endpoint_url=local_server.url).get_caller_identity()
    assert (caller["Account"], caller["Arn"]) == (
        identity.DEFAULT_ACCOUNT,
        f"arn:aws:iam::{identity.DEFAULT_ACCOUNT}:user/{identity.ADMIN_USER}",
    )
    attached = iam.list_attached_user_policies(UserName=identity.ADMIN_USER)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == ["arn:aws:iam::aws:policy/AdministratorAccess"]
    keys = iam.list_access_keys(UserName=identity.ADMIN_USER)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [identity.ADMIN_ACCESS_KEY]


def test_admin_survives_a_reset(fresh_server: Endpoint, admin_session: boto3.Session) -> None:
    sts = admin_session.client("sts", endpoint_url=fresh_server.url)
    assert sts.get_caller_identity()["Account"] == identity.DEFAULT_ACCOUNT


def test_any_account_exists_on_first_use(local_server: Endpoint, admin_session: boto3.Session) -> None:
    account = random_account()
    member = assume(admin_session, local_server, org_role(account))
    caller = member.client("sts", endpoint_url=local_server.url).get_caller_identity()
    assert caller["Account"] == account
    assert caller["Arn"] == f"arn:aws:sts::{account}:assumed-role/{identity.ORG_ACCESS_ROLE}/class"
    role = member.client("iam", endpoint_url=local_server.url).get_role(RoleName=identity.ORG_ACCESS_ROLE)["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{identity.DEFAULT_ACCOUNT}:root"}


def test_accounts_are_kept_apart(local_server: Endpoint, admin_session: boto3.Session) -> None:
    first, second = random_account(), random_account()
    a = assume(admin_session, local_server, org_role(first))
    b = assume(admin_session, local_server, org_role(second))
    table = f"metadata-{uuid.uuid4().hex[:6]}"
    a.client("dynamodb", endpoint_url=local_server.url).create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    queue_url = a.client("sqs", endpoint_url=local_server.url).create_queue(QueueName=table)["QueueUrl"]
    assert f"/{first}/" in queue_url
    assert table in a.client("dynamodb", endpoint_url=local_server.url).list_tables()["TableNames"]
    assert table not in b.client("dynamodb", endpoint_url=local_server.url).list_tables()["TableNames"]
    assert table not in admin_session.client("dynamodb", endpoint_url=local_server.url).list_tables()["TableNames"]
    assert not b.client("sqs", endpoint_url=local_server.url).list_queues().get("QueueUrls")


def test_bucket_names_are_global(local_server: Endpoint, admin_session: boto3.Session) -> None:
    member = assume(admin_session, local_server, org_role(random_account()))
    bucket = f"global-{uuid.uuid4().hex[:8]}"
    member.client("s3", endpoint_url=local_server.url).create_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as info:
        admin_session.client("s3", endpoint_url=local_server.url).create_bucket(Bucket=bucket)
    assert info.value.response["Error"]["Code"] == "BucketAlreadyExists"


def test_member_account_cannot_assume_into_another(local_server: Endpoint, admin_session: boto3.Session) -> None:
    member = assume(admin_session, local_server, org_role(random_account()))
    with pytest.raises(ClientError) as info:
        assume(member, local_server, org_role(random_account()))
    assert info.value.response["Error"]["Code"] == "AccessDenied"


def test_non_admin_user_may_not_assume_the_org_role(local_server: Endpoint, admin_session: boto3.Session) -> None:
    iam = admin_session.client("iam", endpoint_url=local_server.url)
    name = f"student-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    student = boto3.Session(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], region_name=REGION
    )
    with pytest.raises(ClientError) as info:
        assume(student, local_server, org_role(random_account()))
    assert info.value.response["Error"]["Code"] == "AccessDenied"


def test_accounts_come_back_after_a_reset(fresh_server: Endpoint, admin_session: boto3.Session) -> None:
    account = random_account()
    assume(admin_session, fresh_server, org_role(account))
    from tests.conftest import reset_server

    reset_server(fresh_server)
    member = assume(admin_session, fresh_server, org_role(account))
    assert member.client("sts", endpoint_url=fresh_server.url).get_caller_identity()["Account"] == account
