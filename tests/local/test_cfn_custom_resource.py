"""Lambda-backed custom resources (fidelity.cfn_custom_resource), incl. the original lab's shape.

The provider functions are inline (ZipFile) Python using `import cfnresponse`, as in the lab.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labrunner.local.lifecycle import Endpoint
from tests.local.lambda_support import Aws, unique, wait_for

ORIGINAL_LAB = (Path(__file__).resolve().parents[1] / "fixtures" / "original_lab_template.yaml").read_text()
SAMPLE_KEY = "Alice's Adventures in the Cloud.txt"

ECHO_TEMPLATE = """
Parameters:
  Value: {Type: String, Default: one}
  Mode: {Type: String, Default: ok}
Resources:
  ProviderRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: "sts:AssumeRole"}
      ManagedPolicyArns:
        - arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole
  Provider:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Timeout: 10
      Role: !GetAtt ProviderRole.Arn
      Code:
        ZipFile: |
          import json
          import cfnresponse

          def handler(event, context):
              print("REQUEST " + json.dumps(event))
              properties = event["ResourceProperties"]
              if event["RequestType"] != "Delete" and properties["Mode"] == "fail":
                  cfnresponse.send(event, context, cfnresponse.FAILED, {}, reason="the provider said no")
                  return
              if event["RequestType"] != "Delete" and properties["Mode"] == "silent":
                  return
              data = {"Echo": properties["Value"], "Seen": event["RequestType"]}
              cfnresponse.send(event, context, cfnresponse.SUCCESS, data, "echo-" + properties["Value"])
  Echo:
    Type: Custom::Echo
    Properties:
      ServiceToken: !GetAtt Provider.Arn
      Value: !Ref Value
      Mode: !Ref Mode
      Count: 3
      Enabled: true
  Tagged:
    Type: AWS::SQS::Queue
    Properties:
      Tags:
        - {Key: echo, Value: !GetAtt Echo.Echo}
Outputs:
  Echo: {Value: !GetAtt Echo.Echo}
  Seen: {Value: !GetAtt Echo.Seen}
  EchoId: {Value: !Ref Echo}
  Provider: {Value: !Ref Provider}
  Queue: {Value: !Ref Tagged}
"""


@pytest.fixture(scope="module")
def aws(local_server: Endpoint) -> Aws:
    return Aws(local_server)


def outputs(aws: Aws, stack: str) -> dict[str, str]:
    described = aws.cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs") or []}


def requests(aws: Aws, function: str) -> list[dict[str, Any]]:
    """The requests the provider logged, oldest first."""
    return [json.loads(m[len("REQUEST ") :]) for m in aws.log_messages(function) if m.startswith("REQUEST ")]


def create(aws: Aws, template: str, **parameters: str) -> str:
    name = unique("custom")
    aws.cloudformation.create_stack(
        StackName=name,
        TemplateBody=template,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    return name


@pytest.fixture(scope="module")
def original_lab(aws: Aws) -> Iterator[str]:
    stack = create(aws, ORIGINAL_LAB)
    yield stack
    aws.cloudformation.delete_stack(StackName=stack)


def test_original_lab_deploys_with_its_custom_resource(aws: Aws, original_lab: str) -> None:
    described = aws.cloudformation.describe_stacks(StackName=original_lab)["Stacks"][0]
    assert described["StackStatus"] == "CREATE_COMPLETE"
    out = outputs(aws, original_lab)
    assert out["NotificationId"] == "UploadsToQueue"  # Fn::GetAtt of the provider's Data
    assert out["NotificationPhysicalId"] == out["UploadBucketName"] + "-notification"
    rows = aws.cloudformation.describe_stack_resources(StackName=original_lab)["StackResources"]
    row = next(r for r in rows if r["LogicalResourceId"] == "BucketNotification")
    assert row["ResourceType"] == "AWS::CloudFormation::CustomResource"
    assert row["PhysicalResourceId"] == out["NotificationPhysicalId"]
    assert row["ResourceStatus"] == "CREATE_COMPLETE"
    notification = aws.s3.get_bucket_notification_configuration(Bucket=out["UploadBucketName"])
    assert [q["Id"] for q in notification["QueueConfigurations"]] == ["UploadsToQueue"]


def test_original_lab_pipeline(aws: Aws, original_lab: str) -> None:
    out = outputs(aws, original_lab)
    aws.s3.put_object(Bucket=out["UploadBucketName"], Key=SAMPLE_KEY, Body=b"Down the rabbit hole")
    item = wait_for(
        lambda: aws.dynamodb.get_item(TableName=out["MetadataTableName"], Key={"S3ObjectName": {"S": SAMPLE_KEY}}).get(
            "Item"
        ),
        what="the uploaded object's item",
    )
    assert item["Size"] == {"N": "20"}
    assert item["Bucket"] == {"S": out["UploadBucketName"]}
    aws.s3.delete_object(Bucket=out["UploadBucketName"], Key=SAMPLE_KEY)


def test_original_lab_delete_sends_delete_to_the_provider(aws: Aws) -> None:
    stack = create(aws, ORIGINAL_LAB)
    bucket = outputs(aws, stack)["UploadBucketName"]
    provider = next(
        r["PhysicalResourceId"]
        for r in aws.cloudformation.describe_stack_resources(StackName=stack)["StackResources"]
        if r["LogicalResourceId"] == "BucketNotificationFunction"
    )
    stack_id = aws.cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackId"]
    aws.cloudformation.delete_stack(StackName=stack)
    assert aws.cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    logged = aws.log_messages(provider)
    assert any("Create request for BucketNotification" in m for m in logged)
    assert any("Delete request for BucketNotification" in m for m in logged)
    assert bucket not in [b["Name"] for b in aws.s3.list_buckets()["Buckets"]]


def test_requests_responses_updates_and_replacement(aws: Aws) -> None:
    stack = create(aws, ECHO_TEMPLATE)
    out = outputs(aws, stack)
    assert (out["Echo"], out["Seen"], out["EchoId"]) == ("one", "Create", "echo-one")
    tags = aws.sqs.list_queue_tags(QueueUrl=out["Queue"])["Tags"]
    assert tags == {"echo": "one"}
    (created,) = requests(aws, out["Provider"])
    stack_id = aws.cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackId"]
    assert created["RequestType"] == "Create"
    assert created["StackId"] == stack_id
    assert created["LogicalResourceId"] == "Echo"
    assert created["ResourceType"] == "Custom::Echo"
    assert created["ResponseURL"].startswith(aws.endpoint.url + "/")
    assert created["ResourceProperties"] == {
        "ServiceToken": created["ServiceToken"],
        "Value": "one",
        "Mode": "ok",
        "Count": "3",  # CloudFormation passes scalar properties as strings
        "Enabled": "true",
    }
    assert "PhysicalResourceId" not in created

    aws.cloudformation.update_stack(
        StackName=stack,
        UsePreviousTemplate=True,
        Parameters=[
            {"ParameterKey": "Value", "ParameterValue": "two"},
            {"ParameterKey": "Mode", "UsePreviousValue": True},
        ],
        Capabilities=["CAPABILITY_IAM"],
    )
    assert aws.cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    out = outputs(aws, stack)
    assert (out["Echo"], out["Seen"], out["EchoId"]) == ("two", "Update", "echo-two")
    assert aws.sqs.list_queue_tags(QueueUrl=out["Queue"])["Tags"] == {"echo": "two"}  # GetAtt user updated
    _, updated, replaced = requests(aws, out["Provider"])
    assert updated["RequestType"] == "Update"
    assert updated["PhysicalResourceId"] == "echo-one"
    assert updated["OldResourceProperties"]["Value"] == "one"
    assert updated["ResourceProperties"]["Value"] == "two"
    # A new physical id replaces the resource: the old one is deleted.
    assert (replaced["RequestType"], replaced["PhysicalResourceId"]) == ("Delete", "echo-one")

    # A provider that fails an update: the stack rolls the update back, the provider is told.
    aws.cloudformation.update_stack(
        StackName=stack,
        UsePreviousTemplate=True,
        Parameters=[
            {"ParameterKey": "Value", "UsePreviousValue": True},
            {"ParameterKey": "Mode", "ParameterValue": "fail"},
        ],
        Capabilities=["CAPABILITY_IAM"],
    )
    described = aws.cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    assert described["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert "Echo" in described["StackStatusReason"]
    failed, rolled_back = requests(aws, out["Provider"])[-2:]
    assert (failed["RequestType"], failed["ResourceProperties"]["Mode"]) == ("Update", "fail")
    assert (rolled_back["RequestType"], rolled_back["ResourceProperties"]["Mode"]) == ("Update", "ok")
    assert outputs(aws, stack)["EchoId"] == "echo-two"
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}
    assert parameters["Mode"] == "ok"

    aws.cloudformation.delete_stack(StackName=stack)
    deleted = requests(aws, out["Provider"])[-1]
    assert (deleted["RequestType"], deleted["PhysicalResourceId"]) == ("Delete", "echo-two")


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("fail", "Received response status [FAILED] from custom resource. Message returned: the provider said no"),
        ("silent", "ended without sending a response to the ResponseURL"),
    ],
)
def test_a_failing_custom_resource_rolls_the_stack_back(aws: Aws, mode: str, reason: str) -> None:
    stack = create(aws, ECHO_TEMPLATE, Mode=mode)
    described = aws.cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "Echo" in described["StackStatusReason"]
    events = aws.cloudformation.describe_stack_events(StackName=stack)["StackEvents"]
    failed = next(e for e in events if e["LogicalResourceId"] == "Echo" and e["ResourceStatus"] == "CREATE_FAILED")
    assert reason in failed["ResourceStatusReason"]
    assert aws.cloudformation.describe_stack_resources(StackName=stack)["StackResources"] == []
    provider = next(e["PhysicalResourceId"] for e in events if e["LogicalResourceId"] == "Provider")
    wait_for(lambda: provider not in [f["FunctionName"] for f in aws.lam.list_functions()["Functions"]])
