"""The lab's workload template (cloudformation_template.yaml) deployed, used, updated and deleted.

Covers the CloudFormation fidelity modules end to end: stack resources with ids, types and
statuses, the bucket's notification, the role's managed and inline policies, the pipeline
S3 → SQS → Lambda → DynamoDB with the function's logs, update_stack and change sets of the
lab-3 hardening, "No updates are to be performed", and the non-empty bucket on delete.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from labrunner.local.lifecycle import Endpoint
from tests.local.lambda_support import Aws, unique, wait_for

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = (REPO / "cloudformation_template.yaml").read_text()
SAMPLE = REPO / "sample_s3_files" / "The Lighthouse Keeper's Log.txt"
ACCOUNT = "123456789012"
LOGICAL_IDS = {
    "FileUploadsBucket": "AWS::S3::Bucket",
    "S3NotificationQueue": "AWS::SQS::Queue",
    "S3NotificationQueuePolicy": "AWS::SQS::QueuePolicy",
    "ObjectMetadataTable": "AWS::DynamoDB::Table",
    "MetadataLambdaRole": "AWS::IAM::Role",
    "MetadataLambda": "AWS::Lambda::Function",
    "QueueLambdaSourceMapping": "AWS::Lambda::EventSourceMapping",
}
SYSTEM_ADMINISTRATOR = "arn:aws:iam::aws:policy/job-function/SystemAdministrator"
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


def hardened(template: str) -> str:
    """The lab-3 fixes written into the template: no cross-account trust, no admin policy,
    AWSLambdaBasicExecutionRole, and an inline policy that may only PutItem."""
    changed = (
        template.replace(
            '- !Sub "arn:${AWS::Partition}:iam::aws:policy/job-function/SystemAdministrator"',
            '- !Sub "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"',
        )
        .replace(
            """          - Effect: Allow
            Principal:
              AWS: !Sub "arn:${AWS::Partition}:iam::${TrustedAccountId}:root"
            Action: "sts:AssumeRole"
""",
            "",
        )
        .replace("PolicyName: PutItemDynamoTables", "PolicyName: DynamoDbPutItemOnly")
        .replace('Action: "dynamodb:*"', 'Action: "dynamodb:PutItem"')
    )
    assert changed.count("AWSLambdaBasicExecutionRole") == 1 and "TrustedAccountId}:root" not in changed
    return changed


@dataclass
class Workload:
    aws: Aws
    stack: str
    outputs: dict[str, str]

    def resources(self) -> dict[str, dict[str, Any]]:
        rows = self.aws.cloudformation.describe_stack_resources(StackName=self.stack)["StackResources"]
        return {row["LogicalResourceId"]: row for row in rows}

    def status(self) -> dict[str, Any]:
        stack: dict[str, Any] = self.aws.cloudformation.describe_stacks(StackName=self.stack)["Stacks"][0]
        return stack

    def item(self, key: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.aws.dynamodb.get_item(
            TableName=self.outputs["MetadataTableName"], Key={"S3ObjectName": {"S": key}}
        ).get("Item")
        return found


def deploy(aws: Aws, template: str = TEMPLATE) -> Workload:
    name = unique("immersion")
    aws.cloudformation.create_stack(StackName=name, TemplateBody=template, Capabilities=["CAPABILITY_IAM"])
    stack = aws.cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    return Workload(aws, name, {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]})


def empty_and_delete(workload: Workload) -> None:
    bucket = workload.outputs["UploadBucketName"]
    for obj in workload.aws.s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        workload.aws.s3.delete_object(Bucket=bucket, Key=obj["Key"])
    workload.aws.cloudformation.delete_stack(StackName=workload.stack)


@pytest.fixture(scope="module")
def aws(local_server: Endpoint) -> Aws:
    return Aws(local_server)


@pytest.fixture(scope="module")
def workload(aws: Aws) -> Iterator[Workload]:
    deployed = deploy(aws)
    yield deployed
    empty_and_delete(deployed)


def test_every_resource_is_listed_with_ids_type_and_status(workload: Workload) -> None:
    resources = workload.resources()
    assert {name: row["ResourceType"] for name, row in resources.items()} == LOGICAL_IDS
    assert all(row["ResourceStatus"] == "CREATE_COMPLETE" for row in resources.values())
    assert all(row["PhysicalResourceId"] for row in resources.values())
    assert resources["FileUploadsBucket"]["PhysicalResourceId"] == workload.outputs["UploadBucketName"]
    assert resources["MetadataLambdaRole"]["PhysicalResourceId"] == workload.outputs["MetadataRoleName"]
    summaries = workload.aws.cloudformation.list_stack_resources(StackName=workload.stack)["StackResourceSummaries"]
    assert {s["LogicalResourceId"]: s["ResourceType"] for s in summaries} == LOGICAL_IDS
    detail = workload.aws.cloudformation.describe_stack_resource(
        StackName=workload.stack, LogicalResourceId="S3NotificationQueuePolicy"
    )["StackResourceDetail"]
    assert detail["ResourceStatus"] == "CREATE_COMPLETE"
    assert detail["PhysicalResourceId"].startswith(f"{workload.stack}-S3NotificationQueuePolicy-")


def test_template_settings_are_applied(workload: Workload) -> None:
    aws, outputs = workload.aws, workload.outputs
    notification = aws.s3.get_bucket_notification_configuration(Bucket=outputs["UploadBucketName"])
    assert [(q["QueueArn"], q["Events"]) for q in notification["QueueConfigurations"]] == [
        (outputs["NotificationQueueArn"], ["s3:ObjectCreated:*"])
    ]
    policy = json.loads(
        aws.sqs.get_queue_attributes(QueueUrl=outputs["NotificationQueueUrl"], AttributeNames=["Policy"])["Attributes"][
            "Policy"
        ]
    )
    assert policy["Statement"][0]["Principal"] == {"Service": "s3.amazonaws.com"}
    assert policy["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    role = outputs["MetadataRoleName"]
    attached = aws.iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [SYSTEM_ADMINISTRATOR]
    inline = aws.iam.get_role_policy(RoleName=role, PolicyName="PutItemDynamoTables")["PolicyDocument"]
    assert {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"} in inline["Statement"]
    encryption = aws.s3.get_bucket_encryption(Bucket=outputs["UploadBucketName"])
    rule = encryption["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert workload.aws.cloudformation.get_template(StackName=workload.stack)["TemplateBody"] == TEMPLATE


def test_upload_reaches_the_table_and_the_log(workload: Workload) -> None:
    aws, outputs = workload.aws, workload.outputs
    key = f"{unique('upload')}/{SAMPLE.name}"
    body = SAMPLE.read_bytes()
    aws.s3.put_object(Bucket=outputs["UploadBucketName"], Key=key, Body=body)
    item = wait_for(lambda: workload.item(key), what=f"the item of {key!r}")
    assert item["Bucket"] == {"S": outputs["UploadBucketName"]}
    assert item["Size"] == {"N": str(len(body))}
    assert item["Operation"] == {"S": "ObjectCreated:Put"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?", item["CreatedTime"]["S"])
    function = outputs["MetadataFunctionName"]
    stored = f"Storing metadata of s3://{outputs['UploadBucketName']}/{key}"
    messages = wait_for(
        lambda: (found := aws.log_messages(function)) and any(stored in m for m in found) and found,
        what="the handler's log line",
    )
    request_id = next(m for m in messages if stored in m).split("\t")[2]
    assert f"START RequestId: {request_id} Version: $LATEST" in messages
    assert f"END RequestId: {request_id}" in messages
    assert any(m.startswith(f"REPORT RequestId: {request_id}\tDuration: ") for m in messages)
    assert any(m.startswith("[INFO]") and "Ignoring the s3:TestEvent" in m for m in messages)


def test_the_warm_worker_serves_the_next_upload(workload: Workload) -> None:
    aws, outputs = workload.aws, workload.outputs
    function = outputs["MetadataFunctionName"]
    for _ in range(2):
        key = unique("again")
        aws.s3.put_object(Bucket=outputs["UploadBucketName"], Key=key, Body=b"x")
        wait_for(lambda key=key: workload.item(key), what=f"the item of {key}")
    assert len(aws.log_streams(function)) == 1  # one container: one stream
    reports = [m for m in aws.log_messages(function) if m.startswith("REPORT")]
    assert len(reports) >= 3
    assert sum("Init Duration" in r for r in reports) == 1  # only the first invocation was cold


def test_update_stack_applies_the_hardened_role(aws: Aws) -> None:
    workload = deploy(aws)
    try:
        aws.cloudformation.update_stack(
            StackName=workload.stack, TemplateBody=hardened(TEMPLATE), Capabilities=["CAPABILITY_IAM"]
        )
        assert workload.status()["StackStatus"] == "UPDATE_COMPLETE"
        role = workload.outputs["MetadataRoleName"]
        attached = aws.iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
        assert [p["PolicyArn"] for p in attached] == [BASIC_EXECUTION]
        assert aws.iam.list_role_policies(RoleName=role)["PolicyNames"] == ["DynamoDbPutItemOnly"]
        document = aws.iam.get_role_policy(RoleName=role, PolicyName="DynamoDbPutItemOnly")["PolicyDocument"]
        assert {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": "*"} in document["Statement"]
        trust = aws.iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
        assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "lambda.amazonaws.com"}]
        rows = workload.resources()
        assert rows["MetadataLambdaRole"]["ResourceStatus"] == "UPDATE_COMPLETE"
        assert rows["ObjectMetadataTable"]["ResourceStatus"] == "CREATE_COMPLETE"
        assert aws.cloudformation.get_template(StackName=workload.stack)["TemplateBody"] == hardened(TEMPLATE)
        # Back to the original: CloudFormation adds and removes what changed again.
        aws.cloudformation.update_stack(
            StackName=workload.stack, TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM"]
        )
        attached = aws.iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
        assert [p["PolicyArn"] for p in attached] == [SYSTEM_ADMINISTRATOR]
        assert aws.iam.list_role_policies(RoleName=role)["PolicyNames"] == ["PutItemDynamoTables"]
    finally:
        empty_and_delete(workload)


def test_an_unchanged_update_is_refused(workload: Workload) -> None:
    with pytest.raises(ClientError) as error:
        workload.aws.cloudformation.update_stack(
            StackName=workload.stack, TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM"]
        )
    assert error.value.response["Error"]["Code"] == "ValidationError"
    assert error.value.response["Error"]["Message"] == "No updates are to be performed."
    same_parameter = [{"ParameterKey": "TrustedAccountId", "UsePreviousValue": True}]
    with pytest.raises(ClientError) as error:
        workload.aws.cloudformation.update_stack(
            StackName=workload.stack, TemplateBody=TEMPLATE, Parameters=same_parameter, Capabilities=["CAPABILITY_IAM"]
        )
    assert error.value.response["Error"]["Code"] == "ValidationError"
    assert workload.status()["StackStatus"] == "CREATE_COMPLETE"


def test_change_set_shows_and_applies_the_hardening(aws: Aws) -> None:
    workload = deploy(aws)
    try:
        cf = aws.cloudformation
        cf.create_change_set(
            StackName=workload.stack,
            ChangeSetName="harden",
            TemplateBody=hardened(TEMPLATE),
            Capabilities=["CAPABILITY_IAM"],
        )
        change_set = cf.describe_change_set(StackName=workload.stack, ChangeSetName="harden")
        assert (change_set["Status"], change_set["ExecutionStatus"]) == ("CREATE_COMPLETE", "AVAILABLE")
        (change,) = [c["ResourceChange"] for c in change_set["Changes"]]
        assert change["Action"] == "Modify"
        assert change["LogicalResourceId"] == "MetadataLambdaRole"
        assert change["PhysicalResourceId"] == workload.outputs["MetadataRoleName"]
        assert change["Replacement"] == "False"
        assert change["Scope"] == ["Properties"]
        assert [d["Target"]["Name"] for d in change["Details"]] == [
            "AssumeRolePolicyDocument",
            "ManagedPolicyArns",
            "Policies",
        ]
        assert len(cf.describe_stacks(StackName=workload.stack)["Stacks"]) == 1  # no second stack appeared
        trust = cf.create_change_set(
            StackName=workload.stack,
            ChangeSetName="trust",
            UsePreviousTemplate=True,
            Parameters=[{"ParameterKey": "TrustedAccountId", "ParameterValue": "111122223333"}],
            Capabilities=["CAPABILITY_IAM"],
        )
        (by_parameter,) = [c["ResourceChange"] for c in cf.describe_change_set(ChangeSetName=trust["Id"])["Changes"]]
        assert (by_parameter["Action"], by_parameter["LogicalResourceId"]) == ("Modify", "MetadataLambdaRole")
        assert [(d["Target"]["Name"], d["ChangeSource"]) for d in by_parameter["Details"]] == [
            ("AssumeRolePolicyDocument", "ParameterReference")
        ]
        cf.execute_change_set(StackName=workload.stack, ChangeSetName="harden")
        assert workload.status()["StackStatus"] == "UPDATE_COMPLETE"
        attached = aws.iam.list_attached_role_policies(RoleName=workload.outputs["MetadataRoleName"])
        assert [p["PolicyArn"] for p in attached["AttachedPolicies"]] == [BASIC_EXECUTION]
        executed = cf.describe_change_set(StackName=workload.stack, ChangeSetName="harden")
        assert executed["ExecutionStatus"] == "EXECUTE_COMPLETE"
        with pytest.raises(ClientError) as error:
            cf.create_change_set(
                StackName=workload.stack, ChangeSetName="again", TemplateBody=TEMPLATE, ChangeSetType="CREATE"
            )
        assert error.value.response["Error"]["Code"] == "AlreadyExistsException"
    finally:
        empty_and_delete(workload)


def test_a_bucket_with_objects_fails_the_delete_until_emptied(aws: Aws) -> None:
    workload = deploy(aws)
    bucket = workload.outputs["UploadBucketName"]
    aws.s3.put_object(Bucket=bucket, Key="left behind.txt", Body=b"still here")
    aws.cloudformation.delete_stack(StackName=workload.stack)
    stack = workload.status()
    assert stack["StackStatus"] == "DELETE_FAILED"
    assert "FileUploadsBucket" in stack["StackStatusReason"]
    rows = workload.resources()
    assert rows["FileUploadsBucket"]["ResourceStatus"] == "DELETE_FAILED"
    assert "The bucket you tried to delete is not empty" in rows["FileUploadsBucket"]["ResourceStatusReason"]
    # What the bucket needs stays (queue, queue policy); the rest is gone.
    assert set(rows) == {"FileUploadsBucket", "S3NotificationQueue", "S3NotificationQueuePolicy"}
    assert aws.s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(ClientError):
        aws.lam.get_function(FunctionName=workload.outputs["MetadataFunctionName"])
    aws.s3.delete_object(Bucket=bucket, Key="left behind.txt")
    aws.cloudformation.delete_stack(StackName=workload.stack)
    stack_id = stack["StackId"]
    deleted = aws.cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]
    assert deleted["StackStatus"] == "DELETE_COMPLETE"
    assert bucket not in [b["Name"] for b in aws.s3.list_buckets()["Buckets"]]
    with pytest.raises(ClientError):
        aws.sqs.get_queue_url(QueueName=workload.outputs["NotificationQueueUrl"].rsplit("/", 1)[1])
