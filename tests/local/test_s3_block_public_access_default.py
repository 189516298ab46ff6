"""New buckets block public access and disable ACLs by default (AWS since April 2023)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from labrunner.local.lifecycle import Endpoint

ALL_ON = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}


@pytest.fixture
def s3(fresh_server: Endpoint, admin_session: boto3.Session) -> Any:
    return admin_session.client("s3", endpoint_url=fresh_server.url, region_name="us-east-1")


def test_a_new_bucket_is_private_with_acls_disabled(s3: Any) -> None:
    s3.create_bucket(Bucket="fresh-bucket")
    assert s3.get_public_access_block(Bucket="fresh-bucket")["PublicAccessBlockConfiguration"] == ALL_ON
    rules = s3.get_bucket_ownership_controls(Bucket="fresh-bucket")["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_the_defaults_can_be_changed_and_removed(s3: Any) -> None:
    s3.create_bucket(Bucket="opened-bucket")
    s3.put_public_access_block(
        Bucket="opened-bucket", PublicAccessBlockConfiguration={**ALL_ON, "RestrictPublicBuckets": False}
    )
    config = s3.get_public_access_block(Bucket="opened-bucket")["PublicAccessBlockConfiguration"]
    assert config["RestrictPublicBuckets"] is False
    s3.delete_public_access_block(Bucket="opened-bucket")
    with pytest.raises(ClientError) as info:
        s3.get_public_access_block(Bucket="opened-bucket")
    assert info.value.response["Error"]["Code"] == "NoSuchPublicAccessBlockConfiguration"


def test_a_template_bucket_gets_the_defaults_unless_it_sets_its_own(
    fresh_server: Endpoint, admin_session: boto3.Session, s3: Any
) -> None:
    cfn = admin_session.client("cloudformation", endpoint_url=fresh_server.url, region_name="us-east-1")
    template = """
Resources:
  Plain:
    Type: AWS::S3::Bucket
    Properties: {BucketName: plain-template-bucket}
  Own:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: own-template-bucket
      PublicAccessBlockConfiguration: {BlockPublicAcls: true}
"""
    cfn.create_stack(StackName="bpa", TemplateBody=template)
    cfn.get_waiter("stack_create_complete").wait(StackName="bpa", WaiterConfig={"Delay": 1})
    assert s3.get_public_access_block(Bucket="plain-template-bucket")["PublicAccessBlockConfiguration"] == ALL_ON
    own = s3.get_public_access_block(Bucket="own-template-bucket")["PublicAccessBlockConfiguration"]
    assert own == {**dict.fromkeys(ALL_ON, False), "BlockPublicAcls": True}
