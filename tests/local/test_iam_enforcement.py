"""IAM authorization of requests to the local AWS (fidelity/iam_enforcement.py), driven through boto3."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore import UNSIGNED
from botocore.config import Config

from labrunner.local import admin as local_admin
from labrunner.local import identity
from labrunner.local.lifecycle import Endpoint
from tests.helpers import aws_cli
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


def table_arn(name: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"


@pytest.fixture
def tables(local_server: Endpoint) -> Iterator[tuple[str, str]]:
    ddb = client(local_server, "dynamodb")
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


class TestDynamoDB:
    def test_get_item_allowed_on_its_table_only(self, local_server: Endpoint, tables: tuple[str, str]) -> None:
        table_a, table_b = tables
        user_arn, creds = create_user(local_server, allow("dynamodb:GetItem", table_arn(table_a)))
        ddb = client(local_server, "dynamodb", creds)
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

    def test_explicit_deny_wording(self, local_server: Endpoint, tables: tuple[str, str]) -> None:
        table_a, _ = tables
        user_arn, creds = create_user(
            local_server,
            allow("dynamodb:*"),
            {"Effect": "Deny", "Action": "dynamodb:PutItem", "Resource": table_arn(table_a)},
        )
        ddb = client(local_server, "dynamodb", creds)
        denied = error_of(lambda: ddb.put_item(TableName=table_a, Item={"k": {"S": "x"}}))
        assert denied["Error"]["Code"] == "AccessDeniedException"
        assert denied["Error"]["Message"] == (
            f"User: {user_arn} is not authorized to perform: dynamodb:PutItem on resource: {table_arn(table_a)} "
            "with an explicit deny in an identity-based policy"
        )
        ddb.get_item(TableName=table_a, Key={"k": {"S": "x"}})

    def test_wildcard_action_and_index_resource(self, local_server: Endpoint, tables: tuple[str, str]) -> None:
        table_a, table_b = tables
        _, creds = create_user(
            local_server,
            allow("dynamodb:Put*", table_arn(table_a)),
            allow("dynamodb:Query", f"{table_arn(table_b)}/index/*"),
        )
        ddb = client(local_server, "dynamodb", creds)
        ddb.put_item(TableName=table_a, Item={"k": {"S": "x"}})
        denied = error_of(
            lambda: ddb.query(
                TableName=table_b, KeyConditionExpression="k = :k", ExpressionAttributeValues={":k": {"S": "x"}}
            )
        )
        assert denied["Error"]["Code"] == "AccessDeniedException"

    def test_batch_write_checks_every_table(self, local_server: Endpoint, tables: tuple[str, str]) -> None:
        table_a, table_b = tables
        _, creds = create_user(local_server, allow("dynamodb:BatchWriteItem", table_arn(table_a)))
        ddb = client(local_server, "dynamodb", creds)
        ddb.batch_write_item(RequestItems={table_a: [{"PutRequest": {"Item": {"k": {"S": "1"}}}}]})
        both = {t: [{"PutRequest": {"Item": {"k": {"S": "1"}}}}] for t in (table_a, table_b)}
        assert error_of(lambda: ddb.batch_write_item(RequestItems=both))["Error"]["Code"] == "AccessDeniedException"

    def test_not_action_allows_everything_else(self, local_server: Endpoint, tables: tuple[str, str]) -> None:
        table_a, _ = tables
        _, creds = create_user(local_server, {"Effect": "Allow", "NotAction": "dynamodb:DeleteItem", "Resource": "*"})
        ddb = client(local_server, "dynamodb", creds)
        ddb.put_item(TableName=table_a, Item={"k": {"S": "x"}})
        denied = error_of(lambda: ddb.delete_item(TableName=table_a, Key={"k": {"S": "x"}}))
        assert denied["Error"]["Code"] == "AccessDeniedException"

    def test_policy_change_applies_to_the_next_request(self, local_server: Endpoint, tables: tuple[str, str]) -> None:
        table_a, _ = tables
        user_arn, creds = create_user(local_server, allow("dynamodb:GetItem", table_arn(table_a)))
        ddb = client(local_server, "dynamodb", creds)
        denied = error_of(lambda: ddb.put_item(TableName=table_a, Item={"k": {"S": "x"}}))
        assert denied["Error"]["Code"] == "AccessDeniedException"
        client(local_server, "iam").put_user_policy(
            UserName=user_arn.rsplit("/", 1)[-1], PolicyName="more", PolicyDocument=policy(allow("dynamodb:PutItem"))
        )
        ddb.put_item(TableName=table_a, Item={"k": {"S": "x"}})


class TestSQS:
    def test_queue_arn_matching(self, local_server: Endpoint) -> None:
        sqs_admin = client(local_server, "sqs")
        mine, other = unique("q"), unique("q")
        mine_url = sqs_admin.create_queue(QueueName=mine)["QueueUrl"]
        other_url = sqs_admin.create_queue(QueueName=other)["QueueUrl"]
        queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{mine}"
        user_arn, creds = create_user(
            local_server, allow(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], queue_arn)
        )
        sqs = client(local_server, "sqs", creds)
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
        sent = error_of(lambda: sqs.send_message(QueueUrl=mine_url, MessageBody="x"))
        assert sent["Error"]["Code"] == "AccessDenied"
        for url in (mine_url, other_url):
            sqs_admin.delete_queue(QueueUrl=url)


class TestLogs:
    def test_log_group_and_stream_arns(self, local_server: Endpoint) -> None:
        group = f"/aws/lambda/{unique('fn')}"
        logs_admin = client(local_server, "logs")
        logs_admin.create_log_group(logGroupName=group)
        logs_admin.create_log_group(logGroupName=group + "-other")
        group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}"
        user_arn, creds = create_user(
            local_server, allow(["logs:CreateLogStream", "logs:PutLogEvents"], f"{group_arn}:*")
        )
        logs = client(local_server, "logs", creds)
        logs.create_log_stream(logGroupName=group, logStreamName="s1")
        logs.put_log_events(logGroupName=group, logStreamName="s1", logEvents=[{"timestamp": 1, "message": "hi"}])

        denied = error_of(lambda: logs.create_log_stream(logGroupName=group + "-other", logStreamName="s1"))
        assert denied["Error"]["Code"] == "AccessDeniedException"
        assert f"on resource: {group_arn}-other:log-stream:s1 " in denied["Error"]["Message"]
        # AWS names a log group in its denials with an empty log-stream part
        create_group = error_of(lambda: logs.create_log_group(logGroupName=group + "-new"))
        assert create_group["Error"]["Message"] == (
            f"User: {user_arn} is not authorized to perform: logs:CreateLogGroup on resource: "
            f"{group_arn}-new:log-stream: because no identity-based policy allows the logs:CreateLogGroup action"
        )

    def test_group_arn_without_wildcard_does_not_cover_streams(self, local_server: Endpoint) -> None:
        group = f"/aws/lambda/{unique('fn')}"
        client(local_server, "logs").create_log_group(logGroupName=group)
        _, creds = create_user(local_server, allow("logs:*", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}"))
        logs = client(local_server, "logs", creds)
        denied = error_of(lambda: logs.create_log_stream(logGroupName=group, logStreamName="s"))
        assert denied["Error"]["Code"] == "AccessDeniedException"


class TestReadOnlyAccess:
    """SPEC §5: a check under ReadOnlyAccess can read everything and change nothing."""

    def test_reads_pass_writes_are_denied(self, local_server: Endpoint, tables: tuple[str, str]) -> None:
        table_a, _ = tables
        bucket = unique("ro-bucket")
        client(local_server, "s3").create_bucket(Bucket=bucket)
        role = unique("role")
        trust = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        client(local_server, "iam").create_role(RoleName=role, AssumeRolePolicyDocument=policy(trust))
        _, creds = create_user(local_server, managed=("arn:aws:iam::aws:policy/ReadOnlyAccess",))
        s3, ddb, iam = (client(local_server, s, creds) for s in ("s3", "dynamodb", "iam"))

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
        rules = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
        encryption = error_of(lambda: s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=rules))
        assert encryption["Error"]["Code"] == "AccessDenied"


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
    def test_awkward_keys_for_an_authorised_user(self, key: str, local_server: Endpoint) -> None:
        bucket = unique("keys")
        client(local_server, "s3").create_bucket(Bucket=bucket)
        _, creds = create_user(
            local_server,
            allow(["s3:PutObject", "s3:GetObject"], f"arn:aws:s3:::{bucket}/*"),
            allow("s3:ListBucket", f"arn:aws:s3:::{bucket}"),
        )
        s3 = client(local_server, "s3", creds)
        s3.put_object(Bucket=bucket, Key=key, Body=b"content")
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"content"
        s3.head_object(Bucket=bucket, Key=key)
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [key]
        denied = error_of(lambda: s3.delete_object(Bucket=bucket, Key=key))
        assert denied["Error"]["Code"] == "AccessDenied"
        assert f'"arn:aws:s3:::{bucket}/{key}"' in denied["Error"]["Message"]

    def test_object_arn_scoping(self, local_server: Endpoint) -> None:
        bucket = unique("scope")
        client(local_server, "s3").create_bucket(Bucket=bucket)
        _, creds = create_user(local_server, allow("s3:PutObject", f"arn:aws:s3:::{bucket}/uploads/*"))
        s3 = client(local_server, "s3", creds)
        s3.put_object(Bucket=bucket, Key="uploads/a.txt", Body=b"x")
        other = error_of(lambda: s3.put_object(Bucket=bucket, Key="other/a.txt", Body=b"x"))
        assert other["Error"]["Code"] == "AccessDenied"
        head = error_of(lambda: s3.head_object(Bucket=bucket, Key="uploads/a.txt"))  # HeadObject needs s3:GetObject
        assert head["ResponseMetadata"]["HTTPStatusCode"] == 403

    def test_presigned_url_is_authorised_as_its_signer(self, local_server: Endpoint) -> None:
        bucket = unique("presign")
        admin_s3 = client(local_server, "s3")
        admin_s3.create_bucket(Bucket=bucket)
        admin_s3.put_object(Bucket=bucket, Key="k", Body=b"secret")
        _, creds = create_user(local_server, allow("s3:ListBucket"))
        good = admin_s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
        with urllib.request.urlopen(good) as resp:
            assert resp.read() == b"secret"
        bad = client(local_server, "s3", creds).generate_presigned_url(
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
            pytest.param("cloudformation", lambda c: c.list_stacks(), "InvalidClientTokenId", 403, id="cloudformation"),
        ],
    )
    def test_unknown_key_rejected(
        self, local_server: Endpoint, service: str, call: Callable[[Any], Any], code: str, status: int
    ) -> None:
        unknown = Creds("AKIAUNKNOWNKEY000000", "x")
        response = error_of(lambda: call(client(local_server, service, unknown)))
        assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (code, status)

    def test_deleted_and_inactive_keys_rejected(self, local_server: Endpoint) -> None:
        iam = client(local_server, "iam")
        user_arn, creds = create_user(local_server, allow("*"))
        name = user_arn.rsplit("/", 1)[-1]
        sts = client(local_server, "sts", creds)
        assert sts.get_caller_identity()["Arn"] == user_arn
        iam.update_access_key(UserName=name, AccessKeyId=creds.access_key, Status="Inactive")
        assert error_of(sts.get_caller_identity)["Error"]["Code"] == "InvalidClientTokenId"
        iam.update_access_key(UserName=name, AccessKeyId=creds.access_key, Status="Active")
        assert sts.get_caller_identity()["Arn"] == user_arn
        iam.delete_access_key(UserName=name, AccessKeyId=creds.access_key)
        assert error_of(sts.get_caller_identity)["Error"]["Code"] == "InvalidClientTokenId"

    def test_anonymous_requests(self, local_server: Endpoint) -> None:
        unsigned = Config(signature_version=UNSIGNED)
        s3 = client(local_server, "s3", config=unsigned)
        assert error_of(s3.list_buckets)["Error"]["Code"] == "AccessDenied"
        sts = client(local_server, "sts", config=unsigned)
        assert error_of(sts.get_caller_identity)["Error"]["Code"] == "MissingAuthenticationToken"
        ddb = client(local_server, "dynamodb", config=unsigned)
        assert error_of(ddb.list_tables)["Error"]["Code"] == "MissingAuthenticationTokenException"

    def test_get_caller_identity_needs_no_permission(self, local_server: Endpoint) -> None:
        user_arn, creds = create_user(local_server)
        assert client(local_server, "sts", creds).get_caller_identity()["Arn"] == user_arn


class TestAssumeRole:
    @staticmethod
    def role(endpoint: Endpoint, trust: dict[str, Any], *statements: dict[str, Any]) -> str:
        iam = client(endpoint, "iam")
        name = unique("role")
        statement = {"Effect": "Allow", "Principal": trust, "Action": "sts:AssumeRole"}
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=policy(statement))
        if statements:
            iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=policy(*statements))
        return f"arn:aws:iam::{ACCOUNT}:role/{name}"

    def test_role_session_uses_role_policies(self, local_server: Endpoint, tables: tuple[str, str]) -> None:
        table_a, _ = tables
        role_arn = self.role(
            local_server, {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, allow("dynamodb:PutItem", table_arn(table_a))
        )
        _, user = create_user(local_server, allow("sts:AssumeRole", role_arn))
        ddb = client(local_server, "dynamodb", assume(local_server, user, role_arn))
        ddb.put_item(TableName=table_a, Item={"k": {"S": "x"}})
        denied = error_of(lambda: ddb.get_item(TableName=table_a, Key={"k": {"S": "x"}}))
        role_name = role_arn.rsplit("/", 1)[-1]
        assert denied["Error"]["Message"] == (
            f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/test is not authorized to perform: "
            f"dynamodb:GetItem on resource: {table_arn(table_a)} because no identity-based policy allows the "
            "dynamodb:GetItem action"
        )

    def test_account_trust_needs_identity_permission(self, local_server: Endpoint) -> None:
        role_arn = self.role(local_server, {"AWS": f"arn:aws:iam::{ACCOUNT}:root"})
        user_arn, user = create_user(local_server, allow("s3:*"))
        denied = error_of(lambda: assume(local_server, user, role_arn))
        assert denied["Error"]["Code"] == "AccessDenied"
        assert denied["Error"]["Message"] == (
            f"User: {user_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
        )

    def test_trust_policy_must_allow(self, local_server: Endpoint) -> None:
        role_arn = self.role(local_server, {"Service": "lambda.amazonaws.com"})
        _, user = create_user(local_server, allow("sts:AssumeRole"))
        assert error_of(lambda: assume(local_server, user, role_arn))["Error"]["Code"] == "AccessDenied"

    def test_trust_naming_the_user_needs_no_identity_policy(self, local_server: Endpoint) -> None:
        user_arn, user = create_user(local_server)
        role_arn = self.role(local_server, {"AWS": user_arn})
        arn = client(local_server, "sts", assume(local_server, user, role_arn)).get_caller_identity()["Arn"]
        assert arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_arn.rsplit('/', 1)[-1]}/test"

    def test_missing_role_denied(self, local_server: Endpoint) -> None:
        _, user = create_user(local_server, allow("sts:AssumeRole"))
        missing = f"arn:aws:iam::{ACCOUNT}:role/{unique('nope')}"
        assert error_of(lambda: assume(local_server, user, missing))["Error"]["Code"] == "AccessDenied"

    def test_session_policy_narrows(self, local_server: Endpoint, tables: tuple[str, str]) -> None:
        table_a, _ = tables
        role_arn = self.role(local_server, {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, allow("dynamodb:*"))
        _, user = create_user(local_server, allow("sts:AssumeRole", role_arn))
        narrowed = assume(local_server, user, role_arn, Policy=policy(allow("dynamodb:GetItem")))
        ddb = client(local_server, "dynamodb", narrowed)
        ddb.get_item(TableName=table_a, Key={"k": {"S": "x"}})
        denied = error_of(lambda: ddb.put_item(TableName=table_a, Item={"k": {"S": "x"}}))
        assert "because no session policy allows the dynamodb:PutItem action" in denied["Error"]["Message"]

    def test_expired_credentials_rejected(self, local_server: Endpoint) -> None:
        role_arn = self.role(local_server, {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, allow("*"))
        session = assume(local_server, admin(local_server), role_arn)
        sts = client(local_server, "sts", session)
        sts.get_caller_identity()
        expire_session(local_server, session.access_key)
        expired = error_of(sts.get_caller_identity)
        assert (expired["Error"]["Code"], expired["ResponseMetadata"]["HTTPStatusCode"]) == ("ExpiredToken", 403)
        ddb = error_of(client(local_server, "dynamodb", session).list_tables)
        assert ddb["Error"]["Code"] == "ExpiredTokenException"
        s3 = error_of(client(local_server, "s3", session).list_buckets)
        assert s3["Error"]["Code"] == "ExpiredToken"

    def test_wrong_session_token_rejected(self, local_server: Endpoint) -> None:
        role_arn = self.role(local_server, {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, allow("*"))
        real = assume(local_server, admin(local_server), role_arn)
        forged = Creds(real.access_key, real.secret_key, "forged")
        denied = error_of(client(local_server, "sts", forged).get_caller_identity)
        assert denied["Error"]["Code"] == "InvalidClientTokenId"


def expire_session(endpoint: Endpoint, access_key: str) -> None:
    """Let an STS session's time run out now (the server's admin hook moves its expiry into the past)."""
    body = json.dumps({"AccessKeyId": access_key}).encode()
    answer = local_admin.control(endpoint.url, "POST", "iam/expire-session", body=body, secret=endpoint.secret_key)
    assert answer["expired"] is True


def test_aws_cli_with_admin_env(local_env: Endpoint) -> None:
    result = subprocess.run(
        [aws_cli(), "sts", "get-caller-identity", "--query", "Arn", "--output", "text"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"arn:aws:iam::{ACCOUNT}:user/{identity.ADMIN_USER}"


def test_create_function_needs_pass_role(local_server: Endpoint) -> None:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    trust = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    role = unique("fnrole")
    role_arn = client(local_server, "iam").create_role(RoleName=role, AssumeRolePolicyDocument=policy(trust))["Role"][
        "Arn"
    ]
    function = {
        "Runtime": "python3.12",
        "Role": role_arn,
        "Handler": "index.handler",
        "Code": {"ZipFile": buffer.getvalue()},
    }
    _, no_pass = create_user(local_server, allow("lambda:CreateFunction"))
    denied = error_of(
        lambda: client(local_server, "lambda", no_pass).create_function(FunctionName=unique("fn"), **function)
    )
    assert denied["Error"]["Code"] == "AccessDeniedException"
    assert f"iam:PassRole on resource: {role_arn} " in denied["Error"]["Message"]
    _, can_pass = create_user(local_server, allow("lambda:CreateFunction"), allow("iam:PassRole", role_arn))
    name = unique("fn")
    client(local_server, "lambda", can_pass).create_function(FunctionName=name, **function)
    client(local_server, "lambda").delete_function(FunctionName=name)
