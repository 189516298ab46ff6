"""Setting AWS Config up as on AWS (fidelity/config_setup.py): the service-linked role, the
recorder and its status, the delivery channel's bucket checks and status.

AWS's error codes: InvalidInput for a second AWSServiceRoleForConfig,
NoAvailableConfigurationRecorderException (delivery channel or rule before a recorder),
NoAvailableDeliveryChannelException (starting a recorder without a channel), NoSuchBucketException
and InsufficientDeliveryPolicyException (channel bucket missing or not writable by Config).
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.local.config_support import (
    ACCOUNT,
    DELIVERY_BUCKET,
    Aws,
    aws,
    code_of,
    delivery_policy,
    service_linked_role,
)

__all__ = ["aws"]  # the fixture


def test_service_linked_role_is_created_as_on_aws(aws: Aws) -> None:
    role = aws.iam.create_service_linked_role(AWSServiceName="config.amazonaws.com")["Role"]
    assert role["RoleName"] == "AWSServiceRoleForConfig"
    assert role["Arn"] == (f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig")
    attached = aws.iam.list_attached_role_policies(RoleName="AWSServiceRoleForConfig")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == ["arn:aws:iam::aws:policy/aws-service-role/AWSConfigServiceRolePolicy"]
    with pytest.raises(ClientError) as exc:
        aws.iam.create_service_linked_role(AWSServiceName="config.amazonaws.com")
    assert code_of(exc) == "InvalidInput"


def test_recorder_needs_a_delivery_channel_to_start(aws: Aws) -> None:
    role_arn = service_linked_role(aws)
    with pytest.raises(ClientError) as exc:
        aws.config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": DELIVERY_BUCKET})
    assert code_of(exc) == "NoAvailableConfigurationRecorderException"
    aws.config.put_configuration_recorder(
        ConfigurationRecorder={"name": "default", "roleARN": role_arn, "recordingGroup": {"allSupported": True}}
    )
    with pytest.raises(ClientError) as exc:
        aws.config.start_configuration_recorder(ConfigurationRecorderName="default")
    assert code_of(exc) == "NoAvailableDeliveryChannelException"
    status = aws.config.describe_configuration_recorder_status()["ConfigurationRecordersStatus"]
    assert status[0]["recording"] is False

    aws.s3.create_bucket(Bucket=DELIVERY_BUCKET)
    aws.s3.put_bucket_policy(Bucket=DELIVERY_BUCKET, Policy=delivery_policy(DELIVERY_BUCKET, ACCOUNT))
    aws.config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": DELIVERY_BUCKET})
    aws.config.start_configuration_recorder(ConfigurationRecorderName="default")
    status = aws.config.describe_configuration_recorder_status()["ConfigurationRecordersStatus"]
    assert status[0]["name"] == "default"
    assert status[0]["recording"] is True
    assert status[0]["lastStatus"] == "SUCCESS"
    assert aws.config.describe_configuration_recorders()["ConfigurationRecorders"][0]["roleARN"] == role_arn


def test_delivery_channel_bucket_must_exist_and_let_config_write(aws: Aws) -> None:
    role_arn = service_linked_role(aws)
    aws.config.put_configuration_recorder(
        ConfigurationRecorder={"name": "default", "roleARN": role_arn, "recordingGroup": {"allSupported": True}}
    )
    with pytest.raises(ClientError) as exc:
        aws.config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "no-such-bucket-x"})
    assert code_of(exc) == "NoSuchBucketException"
    aws.s3.create_bucket(Bucket=DELIVERY_BUCKET)
    with pytest.raises(ClientError) as exc:
        aws.config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": DELIVERY_BUCKET})
    assert code_of(exc) == "InsufficientDeliveryPolicyException"
    assert aws.config.describe_delivery_channels()["DeliveryChannels"] == []

    aws.s3.put_bucket_policy(Bucket=DELIVERY_BUCKET, Policy=delivery_policy(DELIVERY_BUCKET, ACCOUNT))
    aws.config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": DELIVERY_BUCKET})
    keys = [o["Key"] for o in aws.s3.list_objects_v2(Bucket=DELIVERY_BUCKET)["Contents"]]
    assert keys == [f"AWSLogs/{ACCOUNT}/Config/ConfigWritabilityCheckFile"]
    status = aws.config.describe_delivery_channel_status()["DeliveryChannelsStatus"]
    assert status[0]["name"] == "default"
    assert status[0]["configHistoryDeliveryInfo"]["lastStatus"] == "SUCCESS"
    with pytest.raises(ClientError) as exc:
        aws.config.describe_delivery_channel_status(DeliveryChannelNames=["nope"])
    assert code_of(exc) == "NoSuchDeliveryChannelException"


def test_recorder_with_a_role_of_its_own_writes_with_that_role(aws: Aws) -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "config.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role_arn = aws.iam.create_role(RoleName="config-recorder", AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]
    aws.config.put_configuration_recorder(
        ConfigurationRecorder={"name": "default", "roleARN": role_arn, "recordingGroup": {"allSupported": True}}
    )
    aws.s3.create_bucket(Bucket=DELIVERY_BUCKET)
    with pytest.raises(ClientError) as exc:  # neither the role nor a bucket policy allows writing
        aws.config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": DELIVERY_BUCKET})
    assert code_of(exc) == "InsufficientDeliveryPolicyException"
    write = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{DELIVERY_BUCKET}/AWSLogs/*"}
        ],
    }
    aws.iam.put_role_policy(RoleName="config-recorder", PolicyName="deliver", PolicyDocument=json.dumps(write))
    aws.config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": DELIVERY_BUCKET})
    assert [c["s3BucketName"] for c in aws.config.describe_delivery_channels()["DeliveryChannels"]] == [DELIVERY_BUCKET]
