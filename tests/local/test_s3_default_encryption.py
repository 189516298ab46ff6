"""S3 default encryption as on AWS since January 2023 (fidelity/s3_default_encryption.py)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from labrunner.errors import LocalServerError
from labrunner.local import admin
from labrunner.local.lifecycle import Endpoint

BUCKET = "enc-test-bucket"


@pytest.fixture
def s3(fresh_server: Endpoint, admin_session: boto3.Session) -> Any:
    return admin_session.client("s3", endpoint_url=fresh_server.url)


def default_rule(s3: Any, bucket: str) -> dict[str, Any]:
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert len(rules) == 1
    rule: dict[str, Any] = rules[0]
    return rule


def test_new_bucket_has_sse_s3_by_default(s3: Any) -> None:
    s3.create_bucket(Bucket=BUCKET)
    rule = default_rule(s3, BUCKET)
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert rule["BucketKeyEnabled"] is False


def test_object_without_explicit_sse_is_stored_with_aes256(s3: Any) -> None:
    s3.create_bucket(Bucket=BUCKET)
    put = s3.put_object(Bucket=BUCKET, Key="a.txt", Body=b"hello")
    assert put["ServerSideEncryption"] == "AES256"
    assert s3.head_object(Bucket=BUCKET, Key="a.txt")["ServerSideEncryption"] == "AES256"
    got = s3.get_object(Bucket=BUCKET, Key="a.txt")
    assert got["ServerSideEncryption"] == "AES256"
    assert got["Body"].read() == b"hello"


def test_multipart_upload_is_encrypted_by_default(s3: Any) -> None:
    s3.create_bucket(Bucket=BUCKET)
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="big.bin")
    part = s3.upload_part(Bucket=BUCKET, Key="big.bin", UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * 1024)
    s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key="big.bin",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert s3.head_object(Bucket=BUCKET, Key="big.bin")["ServerSideEncryption"] == "AES256"


def test_sse_kms_configuration_is_returned_as_set_and_applies_to_later_objects(s3: Any) -> None:
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="before.txt", Body=b"1")
    key_arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    s3.put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key_arn,
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    rule = default_rule(s3, BUCKET)
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}
    assert rule["BucketKeyEnabled"] is True
    s3.put_object(Bucket=BUCKET, Key="after.txt", Body=b"2")
    after = s3.head_object(Bucket=BUCKET, Key="after.txt")
    assert after["ServerSideEncryption"] == "aws:kms"
    assert after["SSEKMSKeyId"] == key_arn
    # Written under the SSE-S3 default, the earlier object stays as it was stored.
    before = s3.head_object(Bucket=BUCKET, Key="before.txt")
    assert before["ServerSideEncryption"] == "AES256"
    assert "SSEKMSKeyId" not in before


def test_delete_bucket_encryption_reverts_to_sse_s3(s3: Any) -> None:
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        },
    )
    s3.delete_bucket_encryption(Bucket=BUCKET)
    assert default_rule(s3, BUCKET)["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"x")
    assert s3.head_object(Bucket=BUCKET, Key="k")["ServerSideEncryption"] == "AES256"


def test_bucket_created_by_cloudformation_is_encrypted(
    fresh_server: Endpoint, admin_session: boto3.Session, s3: Any
) -> None:
    template = {
        "Resources": {
            "Plain": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "cfn-plain-bucket"}},
            "Kms": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "BucketName": "cfn-kms-bucket",
                    "BucketEncryption": {
                        "ServerSideEncryptionConfiguration": [
                            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}
                        ]
                    },
                },
            },
        }
    }
    cfn = admin_session.client("cloudformation", endpoint_url=fresh_server.url)
    cfn.create_stack(StackName="enc", TemplateBody=json.dumps(template))
    cfn.get_waiter("stack_create_complete").wait(StackName="enc", WaiterConfig={"Delay": 1})
    assert default_rule(s3, "cfn-plain-bucket")["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert default_rule(s3, "cfn-kms-bucket")["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == ("aws:kms")


def test_legacy_unencrypted_bucket_and_objects_before_and_after_enabling(fresh_server: Endpoint, s3: Any) -> None:
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="default.txt", Body=b"0")
    admin.make_legacy_unencrypted_bucket(fresh_server.url, BUCKET)

    with pytest.raises(ClientError) as err:
        s3.get_bucket_encryption(Bucket=BUCKET)
    assert err.value.response["Error"]["Code"] == "ServerSideEncryptionConfigurationNotFoundError"
    put = s3.put_object(Bucket=BUCKET, Key="plain.txt", Body=b"1")
    assert "ServerSideEncryption" not in put
    assert "ServerSideEncryption" not in s3.head_object(Bucket=BUCKET, Key="plain.txt")

    s3.put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_object(Bucket=BUCKET, Key="encrypted.txt", Body=b"2")
    assert s3.head_object(Bucket=BUCKET, Key="encrypted.txt")["ServerSideEncryption"] == "AES256"
    # Each object keeps the configuration in force when it was written.
    assert "ServerSideEncryption" not in s3.head_object(Bucket=BUCKET, Key="plain.txt")
    assert s3.head_object(Bucket=BUCKET, Key="default.txt")["ServerSideEncryption"] == "AES256"


def test_legacy_endpoint_refuses_an_unknown_bucket(fresh_server: Endpoint) -> None:
    with pytest.raises(LocalServerError, match="HTTP 404"):
        admin.make_legacy_unencrypted_bucket(fresh_server.url, "no-such-bucket-anywhere")
    with pytest.raises(LocalServerError, match="HTTP 400"):
        admin.call(fresh_server.url, "POST", "s3/legacy-unencrypted")
