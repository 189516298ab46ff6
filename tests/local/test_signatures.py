"""Every request's signature is verified against its key's secret (iam/signatures.py, iam_enforcement.py)."""

from __future__ import annotations

import datetime
import hashlib
import os
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from labrunner.local.lifecycle import Endpoint
from tests.helpers import aws_cli
from tests.local.iam_support import Creds, admin, assume, client, create_user, error_of, unique
from tests.local.lambda_support import LOGS_STATEMENT, Aws

# The lab's sample files are named like this; S3 keys with these characters must keep working.
ODD_KEYS = [
    "Alice's Adventures in Wonderland by Lewis Carroll.txt",
    "a+b (1) *star* !bang!.txt",
    "dir/with space/~tilde=eq&amp;semi;colon:@$,.txt",
    "unicode/Grüße - 日本語 ✓.txt",
]


def wrong(endpoint: Endpoint) -> Creds:
    """The admin's access key id with a secret that is not the admin's."""
    return Creds(endpoint.access_key, "x" * 40)


def cli(endpoint: Endpoint, creds: Creds, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(
        AWS_ENDPOINT_URL=endpoint.url,
        AWS_ACCESS_KEY_ID=creds.access_key,
        AWS_SECRET_ACCESS_KEY=creds.secret_key,
        AWS_DEFAULT_REGION=endpoint.region,
    )
    env.pop("AWS_SESSION_TOKEN", None)
    if creds.token:
        env["AWS_SESSION_TOKEN"] = creds.token
    return subprocess.run(
        [aws_cli(), *args], capture_output=True, text=True, env=env, timeout=120, check=False, cwd=cwd
    )


@pytest.mark.parametrize(
    ("service", "call", "code", "status"),
    [
        ("sts", lambda c: c.get_caller_identity(), "SignatureDoesNotMatch", 403),
        ("iam", lambda c: c.list_users(), "SignatureDoesNotMatch", 403),
        ("s3", lambda c: c.list_buckets(), "SignatureDoesNotMatch", 403),
        ("s3", lambda c: c.put_object(Bucket="any-bucket", Key="k", Body=b"x"), "SignatureDoesNotMatch", 403),
        ("dynamodb", lambda c: c.list_tables(), "InvalidSignatureException", 400),
        ("logs", lambda c: c.describe_log_groups(), "InvalidSignatureException", 400),
        ("sqs", lambda c: c.list_queues(), "SignatureDoesNotMatch", 403),
        ("lambda", lambda c: c.list_functions(), "InvalidSignatureException", 403),
    ],
)
def test_wrong_secret_is_refused_in_the_service_protocol(
    local_server: Endpoint, service: str, call: Any, code: str, status: int
) -> None:
    denied = error_of(lambda: call(client(local_server, service, wrong(local_server))))
    assert (denied["Error"]["Code"], denied["ResponseMetadata"]["HTTPStatusCode"]) == (code, status)


def test_wrong_secret_of_a_user_and_of_an_sts_session(local_server: Endpoint) -> None:
    arn, user = create_user(local_server)
    assert client(local_server, "sts", user).get_caller_identity()["Arn"] == arn
    forged_user = Creds(user.access_key, user.secret_key[:-1] + ("A" if user.secret_key[-1] != "A" else "B"))
    assert error_of(client(local_server, "sts", forged_user).get_caller_identity)["Error"]["Code"] == (
        "SignatureDoesNotMatch"
    )
    role = f"arn:aws:iam::{'4' * 12}:role/OrganizationAccountAccessRole"
    session = assume(local_server, admin(local_server), role)
    assert client(local_server, "sts", session).get_caller_identity()["Account"] == "4" * 12
    forged_session = Creds(session.access_key, "y" * 40, session.token)
    assert error_of(client(local_server, "s3", forged_session).list_buckets)["Error"]["Code"] == "SignatureDoesNotMatch"


def test_unknown_key_is_refused(local_server: Endpoint) -> None:
    unknown = Creds("AKIAUNKNOWNUNKNOWN00", "z" * 40)
    s3 = error_of(client(local_server, "s3", unknown).list_buckets)
    assert (s3["Error"]["Code"], s3["ResponseMetadata"]["HTTPStatusCode"]) == ("InvalidAccessKeyId", 403)
    sts = error_of(client(local_server, "sts", unknown).get_caller_identity)
    assert (sts["Error"]["Code"], sts["ResponseMetadata"]["HTTPStatusCode"]) == ("InvalidClientTokenId", 403)


def test_wrong_secret_from_the_aws_cli_changes_nothing(local_server: Endpoint, tmp_path: Path) -> None:
    """The attack of issue 14: replace a Lambda's code with the admin's key id and any secret."""
    aws = Aws(local_server)
    name = unique("sig")
    aws.function(name, aws.role(unique("sig-role"), LOGS_STATEMENT), "def handler(e, c):\n    return 'original'\n")
    before = aws.lam.get_function(FunctionName=name)["Configuration"]["CodeSha256"]
    evil = tmp_path / "evil.zip"
    evil.write_bytes(b"PK\x05\x06" + b"\x00" * 18)  # any zip: it must never reach the function
    result = cli(
        local_server, wrong(local_server), "lambda", "update-function-code", "--function-name", name,
        "--zip-file", f"fileb://{evil}",
    )  # fmt: skip
    assert result.returncode != 0
    assert "InvalidSignatureException" in result.stderr, result.stderr
    assert aws.lam.get_function(FunctionName=name)["Configuration"]["CodeSha256"] == before
    result = cli(local_server, wrong(local_server), "s3api", "create-bucket", "--bucket", name)
    assert "SignatureDoesNotMatch" in result.stderr, result.stderr
    assert name not in [b["Name"] for b in aws.s3.list_buckets()["Buckets"]]
    ok = cli(local_server, admin(local_server), "sts", "get-caller-identity", "--query", "Account", "--output", "text")
    assert ok.returncode == 0 and ok.stdout.strip() == "123456789012", ok.stderr


def test_s3_keys_with_odd_characters_from_boto3(local_server: Endpoint) -> None:
    s3 = client(local_server, "s3")
    bucket = unique("odd-keys")
    s3.create_bucket(Bucket=bucket)
    for key in ODD_KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
        s3.head_object(Bucket=bucket, Key=key)
        s3.copy_object(Bucket=bucket, Key=key + ".copy", CopySource={"Bucket": bucket, "Key": key})
        s3.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": [{"Key": "t", "Value": "v w"}]})
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="")["Contents"]]
    assert sorted(listed) == sorted(ODD_KEYS + [k + ".copy" for k in ODD_KEYS])
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="Alice's ")["Contents"]] == [
        ODD_KEYS[0],
        ODD_KEYS[0] + ".copy",
    ]
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in listed]})
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_s3_keys_with_odd_characters_from_the_aws_cli(local_server: Endpoint, tmp_path: Path) -> None:
    bucket = unique("odd-cli")
    client(local_server, "s3").create_bucket(Bucket=bucket)
    me = admin(local_server)
    upload = tmp_path / "up"
    upload.mkdir()
    for key in ODD_KEYS[:2]:
        (upload / key).write_text(key)
    result = cli(local_server, me, "s3", "cp", "--recursive", str(upload), f"s3://{bucket}/")
    assert result.returncode == 0, result.stderr
    for key in ODD_KEYS:
        source = tmp_path / "one.txt"
        source.write_text(key)
        put = cli(local_server, me, "s3api", "put-object", "--bucket", bucket, "--key", key, "--body", str(source))
        assert put.returncode == 0, put.stderr
    down = tmp_path / "down"
    result = cli(local_server, me, "s3", "cp", "--recursive", f"s3://{bucket}/", str(down))
    assert result.returncode == 0, result.stderr
    for key in ODD_KEYS:
        assert (down / key).read_text() == key
    result = cli(local_server, me, "s3", "rm", f"s3://{bucket}/{ODD_KEYS[0]}")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("signature_version", [None, "s3v4"])
def test_presigned_url_works_and_a_tampered_one_fails(local_server: Endpoint, signature_version: str | None) -> None:
    s3 = client(local_server, "s3", config=Config(signature_version=signature_version))
    bucket = unique("presigned")
    s3.create_bucket(Bucket=bucket)
    for key in (ODD_KEYS[0], "other"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": ODD_KEYS[0]}, ExpiresIn=300)
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.read() == ODD_KEYS[0].encode()
    path = url.split("?")[0]
    longer = ("X-Amz-Expires=300", "X-Amz-Expires=3000") if "X-Amz-" in url else ("Expires=", "Expires=9")
    tampered = [
        url.replace(path, f"{local_server.url}/{bucket}/other"),  # another object with the same signature
        url.replace(*longer),  # a longer life than signed
    ]
    for bad in tampered:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(bad, timeout=10)
        assert refused.value.code == 403
        assert b"<Code>SignatureDoesNotMatch</Code>" in refused.value.read()
    other = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "other"})
    with urllib.request.urlopen(other, timeout=10) as answer:  # plain keys too
        assert answer.read() == b"other"


def test_request_far_from_the_server_clock_is_refused(local_server: Endpoint) -> None:
    """A signed request replayed (or made) more than 15 minutes away from now is refused, like AWS."""
    past = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(minutes=20)
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    request = AWSRequest(
        method="POST",
        url=local_server.url + "/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=past):
        SigV4Auth(Credentials(local_server.access_key, local_server.secret_key), "sts", "us-east-1").add_auth(request)
    sent = urllib.request.Request(request.url, data=body, method="POST", headers=dict(request.headers.items()))
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(sent, timeout=10)
    assert refused.value.code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in refused.value.read()
    # The same request signed now passes: only the time was wrong.
    fresh = AWSRequest(method="POST", url=local_server.url + "/", data=body, headers=dict(request.headers.items()))
    del fresh.headers["Authorization"]
    del fresh.headers["X-Amz-Date"]
    SigV4Auth(Credentials(local_server.access_key, local_server.secret_key), "sts", "us-east-1").add_auth(fresh)
    ok = urllib.request.Request(fresh.url, data=body, method="POST", headers=dict(fresh.headers.items()))
    with urllib.request.urlopen(ok, timeout=10) as answer:
        assert b"GetCallerIdentityResult" in answer.read()


def test_body_is_part_of_the_signature(local_server: Endpoint) -> None:
    """A body changed after signing (e.g. a different policy document) is refused."""
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    request = AWSRequest(
        method="POST",
        url=local_server.url + "/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials(local_server.access_key, local_server.secret_key), "sts", "us-east-1").add_auth(request)
    changed = b"Action=GetCallerIdentity&Version=2011-06-16"
    assert hashlib.sha256(changed).hexdigest() != hashlib.sha256(body).hexdigest()
    sent = urllib.request.Request(request.url, data=changed, method="POST", headers=dict(request.headers.items()))
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(sent, timeout=10)
    assert b"<Code>SignatureDoesNotMatch</Code>" in refused.value.read()


def test_s3_sigv2_from_boto3_is_verified(local_server: Endpoint) -> None:
    """S3 still verifies SigV2 (boto3's `signature_version="s3"`), with the key's secret."""
    sigv2 = Config(signature_version="s3")
    s3 = client(local_server, "s3", config=sigv2)
    bucket = unique("sigv2")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=ODD_KEYS[1], Body=b"v2")
    assert s3.get_object(Bucket=bucket, Key=ODD_KEYS[1])["Body"].read() == b"v2"
    denied = error_of(lambda: client(local_server, "s3", wrong(local_server), config=sigv2).list_buckets())
    assert denied["Error"]["Code"] == "SignatureDoesNotMatch"
    # An STS session's SigV2 presigned URL (its token travels as x-amz-security-token).
    member = assume(local_server, admin(local_server), f"arn:aws:iam::{'5' * 12}:role/OrganizationAccountAccessRole")
    member_s3 = client(local_server, "s3", member)
    member_bucket = unique("sigv2-member")
    member_s3.create_bucket(Bucket=member_bucket)
    member_s3.put_object(Bucket=member_bucket, Key="k", Body=b"member")
    url = client(local_server, "s3", member, config=sigv2).generate_presigned_url(
        "get_object", Params={"Bucket": member_bucket, "Key": "k"}
    )
    assert "x-amz-security-token=" in url
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.read() == b"member"
