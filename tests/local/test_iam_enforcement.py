"""IAM authorization of requests to the local AWS (fidelity/iam_enforcement.py), driven through boto3."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from labrunner.local import identity
from labrunner.local.lifecycle import Endpoint

ACCOUNT = identity.DEFAULT_ACCOUNT
REGION = identity.DEFAULT_REGION


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: Any, resource: Any = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def error_of(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response


class Principals:
    """Creates IAM users with given policies and hands out their boto3 sessions."""

    def __init__(self, endpoint: Endpoint, admin: boto3.Session) -> None:
        self.endpoint = endpoint
        self.admin = admin
        self.iam = admin.client("iam", endpoint_url=endpoint.url)

    def client(self, session: boto3.Session, service: str) -> Any:
        return session.client(service, endpoint_url=self.endpoint.url)

    def user(self, *statements: dict[str, Any], managed: tuple[str, ...] = ()) -> tuple[str, boto3.Session]:
        name = unique("user")
        self.iam.create_user(UserName=name)
        if statements:
            self.iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=policy(*statements))
        for arn in managed:
            self.iam.attach_user_policy(UserName=name, PolicyArn=arn)
        key = self.iam.create_access_key(UserName=name)["AccessKey"]
        session = boto3.Session(
            aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], region_name=REGION
        )
        return f"arn:aws:iam::{ACCOUNT}:user/{name}", session


@pytest.fixture
def principals(local_server: Endpoint, admin_session: boto3.Session) -> Principals:
    return Principals(local_server, admin_session)


@pytest.fixture
def tables(local_server: Endpoint, admin_session: boto3.Session) -> Iterator[tuple[str, str]]:
    ddb = admin_session.client("dynamodb", endpoint_url=local_server.url)
    names = (unique("tableA"), unique("tableB"))
    for name in names:
        ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    yield names
    for name in names:
        ddb.delete_table(TableName=name)


def table_arn(name: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"


class TestDynamoDB:
    def test_get_item_allowed_on_its_table_only(self, principals: Principals, tables: tuple[str, str]) -> None:
        table_a, table_b = tables
        user_arn, session = principals.user(allow("dynamodb:GetItem", table_arn(table_a)))
        ddb = principals.client(session, "dynamodb")
        assert "Item" not in ddb.get_item(TableName=table_a, Key={"k": {"S": "x"}})

        put = error_of(lambda: ddb.put_item(TableName=table_a, Item={"k": {"S": "x"}}))
        assert put["Error"]["Code"] == "AccessDeniedException"
        assert put["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert put["Error"]["Message"] == (
            f"User: {user_arn} is not authorized to perform: dynamodb:PutItem on resource: {table_arn(table_a)} "
            "because no identity-based policy allows the dynamodb:PutItem action"
        )
        other = error_of(lambda: ddb.get_item(TableName=table_b, Key={"k": {"S": "x"}}))
        assert other["Error"]["Code"] == "AccessDeniedException"
        assert f"dynamodb:GetItem on resource: {table_arn(table_b)} " in other["Error"]["Message"]

    def test_explicit_deny_wording(self, principals: Principals, tables: tuple[str, str]) -> None:
        table_a, _ = tables
        user_arn, session = principals.user(
            allow("dynamodb:*"), {"Effect": "Deny", "Action": "dynamodb:PutItem", "Resource": table_arn(table_a)}
        )
        ddb = principals.client(session, "dynamodb")
        denied = error_of(lambda: ddb.put_item(TableName=table_a, Item={"k": {"S": "x"}}))
        assert denied["Error"]["Code"] == "AccessDeniedException"
        assert denied["Error"]["Message"] == (
            f"User: {user_arn} is not authorized to perform: dynamodb:PutItem on resource: {table_arn(table_a)} "
            "with an explicit deny in an identity-based policy"
        )
        ddb.get_item(TableName=table_a, Key={"k": {"S": "x"}})

    def test_wildcard_action_and_index_resource(self, principals: Principals, tables: tuple[str, str]) -> None:
        table_a, table_b = tables
        _, session = principals.user(
            allow("dynamodb:Put*", table_arn(table_a)), allow("dynamodb:Query", f"{table_arn(table_b)}/index/*")
        )
        ddb = principals.client(session, "dynamodb")
        ddb.put_item(TableName=table_a, Item={"k": {"S": "x"}})
        denied = error_of(
            lambda: ddb.query(
                TableName=table_b, KeyConditionExpression="k = :k", ExpressionAttributeValues={":k": {"S": "x"}}
            )
        )
        assert denied["Error"]["Code"] == "AccessDeniedException"

    def test_batch_write_checks_every_table(self, principals: Principals, tables: tuple[str, str]) -> None:
        table_a, table_b = tables
        _, session = principals.user(allow("dynamodb:BatchWriteItem", table_arn(table_a)))
        ddb = principals.client(session, "dynamodb")
        ddb.batch_write_item(RequestItems={table_a: [{"PutRequest": {"Item": {"k": {"S": "1"}}}}]})
        both = {t: [{"PutRequest": {"Item": {"k": {"S": "1"}}}}] for t in (table_a, table_b)}
        assert error_of(lambda: ddb.batch_write_item(RequestItems=both))["Error"]["Code"] == "AccessDeniedException"

    def test_not_action_allows_everything_else(self, principals: Principals, tables: tuple[str, str]) -> None:
        table_a, _ = tables
        _, session = principals.user({"Effect": "Allow", "NotAction": "dynamodb:DeleteItem", "Resource": "*"})
        ddb = principals.client(session, "dynamodb")
        ddb.put_item(TableName=table_a, Item={"k": {"S": "x"}})
        denied = error_of(lambda: ddb.delete_item(TableName=table_a, Key={"k": {"S": "x"}}))
        assert denied["Error"]["Code"] == "AccessDeniedException"

    def test_policy_change_applies_to_the_next_request(self, principals: Principals, tables: tuple[str, str]) -> None:
        table_a, _ = tables
        user_arn, session = principals.user(allow("dynamodb:GetItem", table_arn(table_a)))
        ddb = principals.client(session, "dynamodb")
        assert error_of(lambda: ddb.put_item(TableName=table_a, Item={"k": {"S": "x"}}))["Error"]["Code"]
        name = user_arn.rsplit("/", 1)[-1]
        principals.iam.put_user_policy(
            UserName=name, PolicyName="more", PolicyDocument=policy(allow("dynamodb:PutItem"))
        )
        ddb.put_item(TableName=table_a, Item={"k": {"S": "x"}})


class TestSQS:
    def test_queue_arn_matching(
        self, principals: Principals, admin_session: boto3.Session, local_server: Endpoint
    ) -> None:
        sqs_admin = admin_session.client("sqs", endpoint_url=local_server.url)
        mine, other = unique("q"), unique("q")
        mine_url = sqs_admin.create_queue(QueueName=mine)["QueueUrl"]
        other_url = sqs_admin.create_queue(QueueName=other)["QueueUrl"]
        queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{mine}"
        user_arn, session = principals.user(
            allow(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], queue_arn)
        )
        sqs = principals.client(session, "sqs")
        sqs.receive_message(QueueUrl=mine_url, WaitTimeSeconds=0)
        sqs.get_queue_attributes(QueueUrl=mine_url, AttributeNames=["All"])
        denied = error_of(lambda: sqs.receive_message(QueueUrl=other_url, WaitTimeSeconds=0))
        # botocore reads SQS's query-compatible code from x-amzn-query-error
        assert denied["Error"]["Code"] == "AccessDenied"
        other_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{other}"
        assert denied["Error"]["Message"] == (
            f"User: {user_arn} is not authorized to perform: sqs:receivemessage on resource: {other_arn} "
            "because no identity-based policy allows the sqs:receivemessage action"
        )
        assert error_of(lambda: sqs.send_message(QueueUrl=mine_url, MessageBody="x"))["Error"]["Code"] == "AccessDenied"
        for url in (mine_url, other_url):
            sqs_admin.delete_queue(QueueUrl=url)


class TestLogs:
    def test_log_group_and_stream_arns(
        self, principals: Principals, admin_session: boto3.Session, local_server: Endpoint
    ) -> None:
        group = f"/aws/lambda/{unique('fn')}"
        logs_admin = admin_session.client("logs", endpoint_url=local_server.url)
        logs_admin.create_log_group(logGroupName=group)
        logs_admin.create_log_group(logGroupName=group + "-other")
        group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}"
        user_arn, session = principals.user(allow(["logs:CreateLogStream", "logs:PutLogEvents"], f"{group_arn}:*"))
        logs = principals.client(session, "logs")
        logs.create_log_stream(logGroupName=group, logStreamName="s1")
        logs.put_log_events(logGroupName=group, logStreamName="s1", logEvents=[{"timestamp": 1, "message": "hi"}])

        denied = error_of(lambda: logs.create_log_stream(logGroupName=group + "-other", logStreamName="s1"))
        assert denied["Error"]["Code"] == "AccessDeniedException"
        assert f"on resource: {group_arn}-other:log-stream:s1 " in denied["Error"]["Message"]
        create_group = error_of(lambda: logs.create_log_group(logGroupName=group + "-new"))
        assert create_group["Error"]["Message"] == (
            f"User: {user_arn} is not authorized to perform: logs:CreateLogGroup on resource: "
            f"{group_arn}-new:log-stream: because no identity-based policy allows the logs:CreateLogGroup action"
        )

    def test_group_arn_without_wildcard_does_not_cover_streams(
        self, principals: Principals, admin_session: boto3.Session, local_server: Endpoint
    ) -> None:
        group = f"/aws/lambda/{unique('fn')}"
        admin_session.client("logs", endpoint_url=local_server.url).create_log_group(logGroupName=group)
        _, session = principals.user(allow("logs:*", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}"))
        logs = principals.client(session, "logs")
        assert error_of(lambda: logs.create_log_stream(logGroupName=group, logStreamName="s"))["Error"]["Code"] == (
            "AccessDeniedException"
        )


class TestReadOnlyAccess:
    """SPEC §5: a check under ReadOnlyAccess can read everything and change nothing."""

    def test_reads_pass_writes_are_denied(
        self, principals: Principals, admin_session: boto3.Session, local_server: Endpoint, tables: tuple[str, str]
    ) -> None:
        table_a, _ = tables
        bucket = unique("ro-bucket")
        admin_session.client("s3", endpoint_url=local_server.url).create_bucket(Bucket=bucket)
        role = unique("role")
        principals.iam.create_role(
            RoleName=role,
            AssumeRolePolicyDocument=policy(
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ),
        )
        _, session = principals.user(managed=("arn:aws:iam::aws:policy/ReadOnlyAccess",))
        s3, ddb, iam = (principals.client(session, s) for s in ("s3", "dynamodb", "iam"))

        s3.list_buckets()
        s3.list_objects_v2(Bucket=bucket)
        s3.get_bucket_encryption(Bucket=bucket)
        ddb.describe_table(TableName=table_a)
        ddb.scan(TableName=table_a)
        iam.get_role(RoleName=role)
        iam.list_attached_role_policies(RoleName=role)

        put_object = error_of(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x"))
        assert (put_object["Error"]["Code"], put_object["ResponseMetadata"]["HTTPStatusCode"]) == ("AccessDenied", 403)
        assert f'on resource: "arn:aws:s3:::{bucket}/k"' in put_object["Error"]["Message"]
        put_item = error_of(lambda: ddb.put_item(TableName=table_a, Item={"k": {"S": "x"}}))
        assert put_item["Error"]["Code"] == "AccessDeniedException"
        attach = error_of(
            lambda: iam.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
        )
        assert (attach["Error"]["Code"], attach["ResponseMetadata"]["HTTPStatusCode"]) == ("AccessDenied", 403)
        assert f"iam:AttachRolePolicy on resource: role {role} " in attach["Error"]["Message"]
        assert (
            error_of(
                lambda: s3.put_bucket_encryption(
                    Bucket=bucket,
                    ServerSideEncryptionConfiguration={
                        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                    },
                )
            )["Error"]["Code"]
            == "AccessDenied"
        )


class TestS3:
    @pytest.mark.parametrize(
        "key",
        [
            pytest.param("plain.txt", id="plain"),
            pytest.param("with space.txt", id="space"),
            pytest.param("Alice's Adventures in Wonderland.txt", id="apostrophe"),
            pytest.param("a+b.txt", id="plus"),
            pytest.param("(draft).txt", id="parenthesis"),
            pytest.param("star*.txt", id="asterisk"),
            pytest.param("wow!.txt", id="exclamation"),
            pytest.param("dir/sub dir/Alice's (1)+*!.txt", id="everything"),
        ],
    )
    def test_awkward_keys_for_an_authorised_user(
        self, key: str, principals: Principals, admin_session: boto3.Session, local_server: Endpoint
    ) -> None:
        bucket = unique("keys")
        admin_session.client("s3", endpoint_url=local_server.url).create_bucket(Bucket=bucket)
        _, session = principals.user(
            allow(["s3:PutObject", "s3:GetObject"], f"arn:aws:s3:::{bucket}/*"),
            allow("s3:ListBucket", f"arn:aws:s3:::{bucket}"),
        )
        s3 = principals.client(session, "s3")
        s3.put_object(Bucket=bucket, Key=key, Body=b"content")
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"content"
        s3.head_object(Bucket=bucket, Key=key)
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [key]
        denied = error_of(lambda: s3.delete_object(Bucket=bucket, Key=key))
        assert denied["Error"]["Code"] == "AccessDenied"

    def test_object_arn_scoping(
        self, principals: Principals, admin_session: boto3.Session, local_server: Endpoint
    ) -> None:
        bucket = unique("scope")
        admin_session.client("s3", endpoint_url=local_server.url).create_bucket(Bucket=bucket)
        _, session = principals.user(allow("s3:PutObject", f"arn:aws:s3:::{bucket}/uploads/*"))
        s3 = principals.client(session, "s3")
        s3.put_object(Bucket=bucket, Key="uploads/a.txt", Body=b"x")
        assert (
            error_of(lambda: s3.put_object(Bucket=bucket, Key="other/a.txt", Body=b"x"))["Error"]["Code"]
            == "AccessDenied"
        )
        head = error_of(lambda: s3.head_object(Bucket=bucket, Key="uploads/a.txt"))  # HeadObject needs s3:GetObject
        assert head["ResponseMetadata"]["HTTPStatusCode"] == 403

    def test_presigned_url_is_authorised_as_its_signer(
        self, principals: Principals, admin_session: boto3.Session, local_server: Endpoint
    ) -> None:
        import urllib.error
        import urllib.request

        bucket = unique("presign")
        admin_s3 = admin_session.client("s3", endpoint_url=local_server.url)
        admin_s3.create_bucket(Bucket=bucket)
        admin_s3.put_object(Bucket=bucket, Key="k", Body=b"secret")
        _, session = principals.user(allow("s3:ListBucket"))
        good = admin_s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
        with urllib.request.urlopen(good) as resp:
            assert resp.read() == b"secret"
        bad = principals.client(session, "s3").generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": "k"}
        )
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(bad)
        assert info.value.code == 403


class TestCredentials:
    @pytest.mark.parametrize(
        ("service", "call", "code", "status"),
        [
            pytest.param("sts", lambda c: c.get_caller_identity(), "InvalidClientTokenId", 403, id="sts"),
            pytest.param("iam", lambda c: c.list_users(), "InvalidClientTokenId", 403, id="iam"),
            pytest.param("s3", lambda c: c.list_buckets(), "InvalidAccessKeyId", 403, id="s3"),
            pytest.param("dynamodb", lambda c: c.list_tables(), "UnrecognizedClientException", 400, id="dynamodb"),
            pytest.param("logs", lambda c: c.describe_log_groups(), "UnrecognizedClientException", 400, id="logs"),
            pytest.param("sqs", lambda c: c.list_queues(), "InvalidClientTokenId", 403, id="sqs"),
            pytest.param("lambda", lambda c: c.list_functions(), "UnrecognizedClientException", 403, id="lambda"),
        ],
    )
    def test_unknown_key_rejected(
        self, local_server: Endpoint, service: str, call: Callable[[Any], Any], code: str, status: int
    ) -> None:
        session = boto3.Session(aws_access_key_id="AKIAUNKNOWNKEY000000", aws_secret_access_key="x", region_name=REGION)
        response = error_of(lambda: call(session.client(service, endpoint_url=local_server.url)))
        assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (code, status)

    def test_deleted_key_rejected(self, principals: Principals) -> None:
        user_arn, session = principals.user(allow("*"))
        sts = principals.client(session, "sts")
        assert sts.get_caller_identity()["Arn"] == user_arn
        key_id = session.get_credentials().access_key
        principals.iam.delete_access_key(UserName=user_arn.rsplit("/", 1)[-1], AccessKeyId=key_id)
        assert error_of(sts.get_caller_identity)["Error"]["Code"] == "InvalidClientTokenId"

    def test_anonymous_requests(self, local_server: Endpoint) -> None:
        from botocore import UNSIGNED
        from botocore.config import Config

        session = boto3.Session(region_name=REGION)
        unsigned = Config(signature_version=UNSIGNED)
        s3 = session.client("s3", endpoint_url=local_server.url, config=unsigned)
        assert error_of(s3.list_buckets)["Error"]["Code"] == "AccessDenied"
        sts = session.client("sts", endpoint_url=local_server.url, config=unsigned)
        assert error_of(sts.get_caller_identity)["Error"]["Code"] == "MissingAuthenticationToken"
        ddb = session.client("dynamodb", endpoint_url=local_server.url, config=unsigned)
        assert error_of(ddb.list_tables)["Error"]["Code"] == "MissingAuthenticationTokenException"

    def test_get_caller_identity_needs_no_permission(self, principals: Principals) -> None:
        user_arn, session = principals.user()
        assert principals.client(session, "sts").get_caller_identity()["Arn"] == user_arn


class TestAssumeRole:
    def _role(self, principals: Principals, trust: dict[str, Any], *statements: dict[str, Any]) -> str:
        name = unique("role")
        principals.iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=policy({"Effect": "Allow", "Principal": trust, "Action": "sts:AssumeRole"}),
        )
        if statements:
            principals.iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=policy(*statements))
        return f"arn:aws:iam::{ACCOUNT}:role/{name}"

    def _assume(self, principals: Principals, session: boto3.Session, role_arn: str, **extra: Any) -> boto3.Session:
        creds = principals.client(session, "sts").assume_role(RoleArn=role_arn, RoleSessionName="test", **extra)
        c = creds["Credentials"]
        return boto3.Session(
            aws_access_key_id=c["AccessKeyId"],
            aws_secret_access_key=c["SecretAccessKey"],
            aws_session_token=c["SessionToken"],
            region_name=REGION,
        )

    def test_role_session_uses_role_policies(self, principals: Principals, tables: tuple[str, str]) -> None:
        table_a, _ = tables
        role_arn = self._role(
            principals, {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, allow("dynamodb:PutItem", table_arn(table_a))
        )
        _, user = principals.user(allow("sts:AssumeRole", role_arn))
        role_session = self._assume(principals, user, role_arn)
        ddb = principals.client(role_session, "dynamodb")
        ddb.put_item(TableName=table_a, Item={"k": {"S": "x"}})
        denied = error_of(lambda: ddb.get_item(TableName=table_a, Key={"k": {"S": "x"}}))
        role_name = role_arn.rsplit("/", 1)[-1]
        assert denied["Error"]["Message"] == (
            f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/test is not authorized to perform: "
            f"dynamodb:GetItem on resource: {table_arn(table_a)} because no identity-based policy allows the "
            "dynamodb:GetItem action"
        )

    def test_account_trust_needs_identity_permission(self, principals: Principals) -> None:
        role_arn = self._role(principals, {"AWS": f"arn:aws:iam::{ACCOUNT}:root"})
        user_arn, user = principals.user(allow("s3:*"))
        denied = error_of(lambda: self._assume(principals, user, role_arn))
        assert denied["Error"]["Code"] == "AccessDenied"
        assert denied["Error"]["Message"] == (
            f"User: {user_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
        )

    def test_trust_policy_must_allow(self, principals: Principals) -> None:
        role_arn = self._role(principals, {"Service": "lambda.amazonaws.com"})
        _, user = principals.user(allow("sts:AssumeRole"))
        assert error_of(lambda: self._assume(principals, user, role_arn))["Error"]["Code"] == "AccessDenied"

    def test_trust_naming_the_user_needs_no_identity_policy(self, principals: Principals) -> None:
        user_arn, user = principals.user()
        role_arn = self._role(principals, {"AWS": user_arn})
        assumed = self._assume(principals, user, role_arn)
        assert ":assumed-role/" in principals.client(assumed, "sts").get_caller_identity()["Arn"]

    def test_missing_role_denied(self, principals: Principals) -> None:
        _, user = principals.user(allow("sts:AssumeRole"))
        missing = f"arn:aws:iam::{ACCOUNT}:role/{unique('nope')}"
        assert error_of(lambda: self._assume(principals, user, missing))["Error"]["Code"] == "AccessDenied"

    def test_session_policy_narrows(self, principals: Principals, tables: tuple[str, str]) -> None:
        table_a, _ = tables
        role_arn = self._role(principals, {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, allow("dynamodb:*"))
        _, user = principals.user(allow("sts:AssumeRole", role_arn))
        narrowed = self._assume(principals, user, role_arn, Policy=policy(allow("dynamodb:GetItem")))
        ddb = principals.client(narrowed, "dynamodb")
        ddb.get_item(TableName=table_a, Key={"k": {"S": "x"}})
        denied = error_of(lambda: ddb.put_item(TableName=table_a, Item={"k": {"S": "x"}}))
        assert "because no session policy allows the dynamodb:PutItem action" in denied["Error"]["Message"]

    def test_expired_credentials_rejected(
        self, principals: Principals, local_server: Endpoint, admin_session: boto3.Session
    ) -> None:
        role_arn = self._role(principals, {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, allow("*"))
        assumed = self._assume(principals, admin_session, role_arn)
        sts = principals.client(assumed, "sts")
        sts.get_caller_identity()
        _expire_sessions(local_server, assumed.get_credentials().access_key)
        expired = error_of(sts.get_caller_identity)
        assert (expired["Error"]["Code"], expired["ResponseMetadata"]["HTTPStatusCode"]) == ("ExpiredToken", 403)
        ddb = error_of(principals.client(assumed, "dynamodb").list_tables)
        assert ddb["Error"]["Code"] == "ExpiredTokenException"
        s3 = error_of(principals.client(assumed, "s3").list_buckets)
        assert s3["Error"]["Code"] == "ExpiredToken"

    def test_wrong_session_token_rejected(self, principals: Principals, admin_session: boto3.Session) -> None:
        role_arn = self._role(principals, {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, allow("*"))
        assumed = self._assume(principals, admin_session, role_arn)
        creds = assumed.get_credentials()
        forged = boto3.Session(
            aws_access_key_id=creds.access_key,
            aws_secret_access_key=creds.secret_key,
            aws_session_token="forged",
            region_name=REGION,
        )
        assert error_of(principals.client(forged, "sts").get_caller_identity)["Error"]["Code"] == "InvalidClientTokenId"


def _expire_sessions(endpoint: Endpoint, access_key: str) -> None:
    """Let STS time pass for one session: the server's test hook moves its expiry into the past."""
    import urllib.request

    req = urllib.request.Request(
        f"{endpoint.url}/_labrunner/iam/expire-session",
        method="POST",
        data=json.dumps({"AccessKeyId": access_key}).encode(),
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert json.loads(resp.read())["expired"] is True


def test_aws_cli_with_admin_env(local_env: Endpoint) -> None:
    import os
    import subprocess

    result = subprocess.run(
        ["/work/venv/bin/aws", "sts", "get-caller-identity", "--query", "Arn", "--output", "text"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"arn:aws:iam::{ACCOUNT}:user/{identity.ADMIN_USER}"
