"""Several accounts in one server (SPEC §6.7): the admin, and accounts that exist on first use."""

from __future__ import annotations

import json
import uuid

from labrunner.local import identity
from labrunner.local.lifecycle import Endpoint
from tests.conftest import reset_server
from tests.local.iam_support import Creds, admin, assume, client, create_user, error_of, unique


def org_role(account: str) -> str:
    return f"arn:aws:iam::{account}:role/{identity.ORG_ACCESS_ROLE}"


def random_account() -> str:
    return str(uuid.uuid4().int)[:12].rjust(12, "1")


def member(endpoint: Endpoint, account: str, creds: Creds | None = None) -> Creds:
    return assume(endpoint, creds or admin(endpoint), org_role(account), session_name="class")


def test_admin_is_a_real_user_with_administrator_access(local_server: Endpoint) -> None:
    iam = client(local_server, "iam")
    caller = client(local_server, "sts").get_caller_identity()
    assert (caller["Account"], caller["Arn"]) == (
        identity.DEFAULT_ACCOUNT,
        f"arn:aws:iam::{identity.DEFAULT_ACCOUNT}:user/{identity.ADMIN_USER}",
    )
    attached = iam.list_attached_user_policies(UserName=identity.ADMIN_USER)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == ["arn:aws:iam::aws:policy/AdministratorAccess"]
    keys = iam.list_access_keys(UserName=identity.ADMIN_USER)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [identity.ADMIN_ACCESS_KEY]


def test_admin_survives_a_reset(fresh_server: Endpoint) -> None:
    assert client(fresh_server, "sts").get_caller_identity()["Account"] == identity.DEFAULT_ACCOUNT


def test_any_account_exists_on_first_use(local_server: Endpoint) -> None:
    account = random_account()
    creds = member(local_server, account)
    caller = client(local_server, "sts", creds).get_caller_identity()
    assert caller["Account"] == account
    assert caller["Arn"] == f"arn:aws:sts::{account}:assumed-role/{identity.ORG_ACCESS_ROLE}/class"
    role = client(local_server, "iam", creds).get_role(RoleName=identity.ORG_ACCESS_ROLE)["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{identity.DEFAULT_ACCOUNT}:root"}
    attached = client(local_server, "iam", creds).list_attached_role_policies(RoleName=identity.ORG_ACCESS_ROLE)
    assert [p["PolicyName"] for p in attached["AttachedPolicies"]] == ["AdministratorAccess"]


def test_accounts_are_kept_apart(local_server: Endpoint) -> None:
    first, second = random_account(), random_account()
    a, b = member(local_server, first), member(local_server, second)
    table = unique("metadata")
    client(local_server, "dynamodb", a).create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    queue_url = client(local_server, "sqs", a).create_queue(QueueName=table)["QueueUrl"]
    assert f"/{first}/" in queue_url
    assert table in client(local_server, "dynamodb", a).list_tables()["TableNames"]
    assert table not in client(local_server, "dynamodb", b).list_tables()["TableNames"]
    assert table not in client(local_server, "dynamodb").list_tables()["TableNames"]
    assert not client(local_server, "sqs", b).list_queues().get("QueueUrls")


def test_bucket_names_are_global(local_server: Endpoint) -> None:
    creds = member(local_server, random_account())
    bucket = unique("global")
    client(local_server, "s3", creds).create_bucket(Bucket=bucket)
    taken = error_of(lambda: client(local_server, "s3").create_bucket(Bucket=bucket))
    assert taken["Error"]["Code"] == "BucketAlreadyExists"


def test_member_account_cannot_assume_into_another(local_server: Endpoint) -> None:
    creds = member(local_server, random_account())
    denied = error_of(lambda: member(local_server, random_account(), creds))
    assert denied["Error"]["Code"] == "AccessDenied"


def test_non_admin_user_may_not_assume_the_org_role(local_server: Endpoint) -> None:
    _, student = create_user(local_server)
    denied = error_of(lambda: member(local_server, random_account(), student))
    assert denied["Error"]["Code"] == "AccessDenied"


def test_accounts_come_back_after_a_reset(fresh_server: Endpoint) -> None:
    account = random_account()
    member(fresh_server, account)
    reset_server(fresh_server)
    creds = member(fresh_server, account)
    assert client(fresh_server, "sts", creds).get_caller_identity()["Account"] == account


def test_malformed_account_is_not_created(local_server: Endpoint) -> None:
    denied = error_of(
        lambda: assume(local_server, admin(local_server), f"arn:aws:iam::12345:role/{identity.ORG_ACCESS_ROLE}")
    )
    assert denied["Error"]["Code"] in ("AccessDenied", "ValidationError")
