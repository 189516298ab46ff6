"""Resource properties moto's CloudFormation ignores, on create and on update_stack.

Bucket notification (with a filter, end to end), logging, public access block, tags, versioning;
queue policy; queue encryption; table encryption and point-in-time recovery; AWS::IAM::Policy
documents; inline Lambda code on update; and a stack that rolls back when a resource fails.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from labrunner.local.lifecycle import Endpoint
from tests.local.lambda_support import Aws, unique, wait_for

BUCKETS = """
Parameters:
  Stage: {Type: String, Default: first}
Conditions:
  First: !Equals [!Ref Stage, first]
Resources:
  Logs:
    Type: AWS::S3::Bucket
  LogsPolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: !Ref Logs
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: logging.s3.amazonaws.com}
            Action: "s3:PutObject"
            Resource: !Sub "arn:aws:s3:::${Logs}/*"
  Queue:
    Type: AWS::SQS::Queue
  QueuePolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref Queue]
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: s3.amazonaws.com}
            Action: "sqs:SendMessage"
            Resource: !GetAtt Queue.Arn
            Condition: {StringEquals: {"aws:SourceAccount": !Ref "AWS::AccountId"}}
  Uploads:
    Type: AWS::S3::Bucket
    DependsOn: [QueuePolicy, LogsPolicy]
    Properties:
      Tags:
        - {Key: stage, Value: !Ref Stage}
      VersioningConfiguration: {Status: Enabled}
      PublicAccessBlockConfiguration: !If
        - First
        - {BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true}
        - !Ref AWS::NoValue
      LoggingConfiguration: !If
        - First
        - {DestinationBucketName: !Ref Logs, LogFilePrefix: uploads/}
        - !Ref AWS::NoValue
      NotificationConfiguration:
        QueueConfigurations:
          - Event: "s3:ObjectCreated:*"
            Queue: !GetAtt Queue.Arn
            Filter:
              S3Key:
                Rules:
                  - {Name: suffix, Value: !If [First, .txt, .csv]}
Outputs:
  Uploads: {Value: !Ref Uploads}
  Logs: {Value: !Ref Logs}
  QueueUrl: {Value: !Ref Queue}
"""

STORAGE = """
Parameters:
  Secure: {Type: String, Default: "no"}
Conditions:
  Secure: !Equals [!Ref Secure, "yes"]
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: k, AttributeType: S}]
      KeySchema: [{AttributeName: k, KeyType: HASH}]
      SSESpecification: {SSEEnabled: !If [Secure, true, false]}
      PointInTimeRecoverySpecification: {PointInTimeRecoveryEnabled: !If [Secure, true, false]}
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: !If [Secure, 60, 30]
      KmsMasterKeyId: !If [Secure, alias/aws/sqs, !Ref AWS::NoValue]
  AuditQueue:
    Type: AWS::SQS::Queue
    Condition: Secure
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: "sts:AssumeRole"}
  RolePolicy:
    Type: AWS::IAM::Policy
    Properties:
      PolicyName: TablePolicy
      Roles: [!Ref Role]
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Action: !If [Secure, "dynamodb:PutItem", "dynamodb:*"]
            Resource: !GetAtt Table.Arn
  Function:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Code:
        ZipFile: !Sub |
          def handler(event, context):
              return "secure=${Secure}"
Outputs:
  Table: {Value: !Ref Table}
  QueueUrl: {Value: !Ref Queue}
  Role: {Value: !Ref Role}
  Function: {Value: !Ref Function}
"""


@pytest.fixture(scope="module")
def aws(local_server: Endpoint) -> Aws:
    return Aws(local_server)


def deploy(aws: Aws, template: str, **parameters: str) -> tuple[str, dict[str, str]]:
    name = unique("props")
    aws.cloudformation.create_stack(
        StackName=name,
        TemplateBody=template,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    return name, outputs(aws, name)


def update(aws: Aws, name: str, **parameters: str) -> dict[str, str]:
    aws.cloudformation.update_stack(
        StackName=name,
        UsePreviousTemplate=True,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    stack = aws.cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE", stack
    return outputs(aws, name)


def outputs(aws: Aws, name: str) -> dict[str, str]:
    stack = aws.cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE"), stack
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def error_code(call: Any) -> str:
    with pytest.raises(ClientError) as error:
        call()
    return str(error.value.response["Error"]["Code"])


def messages(aws: Aws, url: str) -> list[str]:
    received = aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    for message in received:
        aws.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return [m["Body"] for m in received]


def uploaded_keys(aws: Aws, url: str) -> list[str]:
    keys = []
    for body in messages(aws, url):
        keys += [r["s3"]["object"]["key"] for r in json.loads(body).get("Records", [])]
    return keys


def suffix_rule(aws: Aws, bucket: str) -> tuple[str, str]:
    rule = aws.s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"][0]
    (only,) = rule["Filter"]["Key"]["FilterRules"]
    return str(only["Name"]).lower(), str(only["Value"])


def _tags(aws: Aws, bucket: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in aws.s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}


def own_tags(aws: Aws, bucket: str) -> dict[str, str]:
    return {k: v for k, v in _tags(aws, bucket).items() if not k.startswith("aws:")}


def cfn_tags(aws: Aws, bucket: str) -> dict[str, str]:
    return {k: v for k, v in _tags(aws, bucket).items() if k.startswith("aws:cloudformation:")}


def test_bucket_properties_on_create_and_update(aws: Aws) -> None:
    stack, out = deploy(aws, BUCKETS)
    bucket, logs, url = out["Uploads"], out["Logs"], out["QueueUrl"]
    assert own_tags(aws, bucket) == {"stage": "first"}
    # CloudFormation adds its own aws:cloudformation:* tags, as on AWS ("Resource tag" in its user guide).
    assert cfn_tags(aws, bucket) == {
        "aws:cloudformation:stack-name": stack,
        "aws:cloudformation:logical-id": "Uploads",
        "aws:cloudformation:stack-id": aws.cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackId"],
    }
    assert aws.s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    block = aws.s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == {
        k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    }
    assert aws.s3.get_bucket_logging(Bucket=bucket)["LoggingEnabled"] == {
        "TargetBucket": logs,
        "TargetPrefix": "uploads/",
    }
    assert json.loads(aws.s3.get_bucket_policy(Bucket=logs)["Policy"])["Statement"][0]["Action"] == "s3:PutObject"
    assert suffix_rule(aws, bucket) == ("suffix", ".txt")
    policy = json.loads(aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"])
    assert policy["Statement"][0]["Action"] == "sqs:SendMessage"
    messages(aws, url)  # the s3:TestEvent
    aws.s3.put_object(Bucket=bucket, Key="skipped.csv", Body=b"1")
    aws.s3.put_object(Bucket=bucket, Key="notes one.txt", Body=b"1")
    assert wait_for(lambda: uploaded_keys(aws, url), what="the filtered notification") == ["notes+one.txt"]

    update(aws, stack, Stage="second")
    assert own_tags(aws, bucket) == {"stage": "second"}
    assert "LoggingEnabled" not in aws.s3.get_bucket_logging(Bucket=bucket)
    assert error_code(lambda: aws.s3.get_public_access_block(Bucket=bucket)) == "NoSuchPublicAccessBlockConfiguration"
    assert suffix_rule(aws, bucket) == ("suffix", ".csv")
    messages(aws, url)
    aws.s3.put_object(Bucket=bucket, Key="other.txt", Body=b"1")
    aws.s3.put_object(Bucket=bucket, Key="data.csv", Body=b"1")
    assert wait_for(lambda: uploaded_keys(aws, url), what="the changed filter") == ["data.csv"]
    for key in ("skipped.csv", "notes one.txt", "other.txt", "data.csv"):
        for version in aws.s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", []):
            aws.s3.delete_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])
    for obj in aws.s3.list_objects_v2(Bucket=logs).get("Contents", []):
        aws.s3.delete_object(Bucket=logs, Key=obj["Key"])
    stack_id = aws.cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackId"]
    aws.cloudformation.delete_stack(StackName=stack)
    assert aws.cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    assert error_code(lambda: aws.s3.head_bucket(Bucket=bucket)) == "404"


def test_queue_policy_follows_the_template(aws: Aws) -> None:
    template = """
Parameters:
  Action: {Type: String, Default: "sqs:SendMessage"}
Resources:
  One: {Type: AWS::SQS::Queue}
  Two: {Type: AWS::SQS::Queue}
  Policy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: !If [Both, [!Ref One, !Ref Two], [!Ref One]]
      PolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: s3.amazonaws.com}, Action: !Ref Action, Resource: "*"}]
Conditions:
  Both: !Equals [!Ref Action, "sqs:SendMessage"]
Outputs:
  One: {Value: !Ref One}
  Two: {Value: !Ref Two}
"""
    stack, out = deploy(aws, template)

    def action(url: str) -> str | None:
        attributes = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"]).get("Attributes", {})
        return json.loads(attributes["Policy"])["Statement"][0]["Action"] if "Policy" in attributes else None

    assert (action(out["One"]), action(out["Two"])) == ("sqs:SendMessage", "sqs:SendMessage")
    row = aws.cloudformation.describe_stack_resource(StackName=stack, LogicalResourceId="Policy")["StackResourceDetail"]
    assert row["ResourceType"] == "AWS::SQS::QueuePolicy"
    update(aws, stack, Action="sqs:*")
    assert (action(out["One"]), action(out["Two"])) == ("sqs:*", None)  # Two left the list
    aws.cloudformation.delete_stack(StackName=stack)


def test_storage_encryption_recovery_and_policies(aws: Aws) -> None:
    stack, out = deploy(aws, STORAGE)
    table, url, role = out["Table"], out["QueueUrl"], out["Role"]
    assert "SSEDescription" not in aws.dynamodb.describe_table(TableName=table)["Table"]

    def recovery() -> str:
        backups = aws.dynamodb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
        return str(backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"])

    assert recovery() == "DISABLED"
    document = aws.iam.get_role_policy(RoleName=role, PolicyName="TablePolicy")["PolicyDocument"]
    assert document["Statement"][0]["Action"] == "dynamodb:*"
    assert json.loads(aws.lam.invoke(FunctionName=out["Function"])["Payload"].read()) == "secure=no"
    aws.dynamodb.put_item(TableName=table, Item={"k": {"S": "kept"}})

    def logical_ids() -> set[str]:
        rows = aws.cloudformation.describe_stack_resources(StackName=stack)["StackResources"]
        return {r["LogicalResourceId"] for r in rows}

    assert "AuditQueue" not in logical_ids()
    update(aws, stack, Secure="yes")
    assert "AuditQueue" in logical_ids()  # its Condition turned true
    sse = aws.dynamodb.describe_table(TableName=table)["Table"]["SSEDescription"]
    assert (sse["Status"], sse["SSEType"]) == ("ENABLED", "KMS")
    assert recovery() == "ENABLED"
    assert aws.dynamodb.get_item(TableName=table, Key={"k": {"S": "kept"}})["Item"]  # updated in place
    attributes = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (attributes["VisibilityTimeout"], attributes["KmsMasterKeyId"]) == ("60", "alias/aws/sqs")
    document = aws.iam.get_role_policy(RoleName=role, PolicyName="TablePolicy")["PolicyDocument"]
    assert document["Statement"][0]["Action"] == "dynamodb:PutItem"
    assert json.loads(aws.lam.invoke(FunctionName=out["Function"])["Payload"].read()) == "secure=yes"

    update(aws, stack, Secure="no")
    assert "AuditQueue" not in logical_ids()
    assert recovery() == "DISABLED"
    attributes = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "30"
    assert "KmsMasterKeyId" not in attributes or attributes["KmsMasterKeyId"] == ""
    aws.cloudformation.delete_stack(StackName=stack)


def test_a_resource_that_fails_rolls_the_stack_back(aws: Aws) -> None:
    template = """
Resources:
  Queue: {Type: AWS::SQS::Queue}
  Bucket:
    Type: AWS::S3::Bucket
    DependsOn: Queue
    Properties:
      LoggingConfiguration: {DestinationBucketName: no-such-bucket-anywhere-for-logs}
"""
    name = unique("fails")
    aws.cloudformation.create_stack(StackName=name, TemplateBody=template)
    stack = aws.cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert stack["StackStatusReason"].startswith("The following resource(s) failed to create: [Bucket].")
    events = aws.cloudformation.describe_stack_events(StackName=name)["StackEvents"]
    statuses = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in reversed(events)]
    assert ("Bucket", "CREATE_FAILED") in statuses
    assert statuses.index(("Queue", "CREATE_COMPLETE")) < statuses.index(("Queue", "DELETE_COMPLETE"))
    queue_url = next(
        e["PhysicalResourceId"] for e in events if e["LogicalResourceId"] == "Queue" and e["PhysicalResourceId"]
    )
    assert (
        error_code(lambda: aws.sqs.get_queue_attributes(QueueUrl=queue_url))
        == "AWS.SimpleQueueService.NonExistentQueue"
    )
    assert aws.cloudformation.describe_stack_resources(StackName=name)["StackResources"] == []
    assert "Outputs" not in stack


def test_a_template_error_in_an_update_changes_nothing(aws: Aws) -> None:
    template = "Resources:\n  Queue: {Type: AWS::SQS::Queue, Properties: {VisibilityTimeout: 30}}\n"
    name = unique("bad-update")
    aws.cloudformation.create_stack(StackName=name, TemplateBody=template)
    url = aws.cloudformation.describe_stack_resources(StackName=name)["StackResources"][0]["PhysicalResourceId"]
    broken = (
        "Resources:\n"
        "  Queue: {Type: AWS::SQS::Queue, Properties: {VisibilityTimeout: 45}}\n"
        "  Other: {Type: AWS::SQS::Queue, Properties: {QueueName: !GetAtt Missing.QueueName}}\n"
    )
    assert error_code(lambda: aws.cloudformation.update_stack(StackName=name, TemplateBody=broken)) == "ValidationError"
    stack = aws.cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert aws.cloudformation.get_template(StackName=name)["TemplateBody"] == template
    attributes = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "30"
    rows = aws.cloudformation.describe_stack_resources(StackName=name)["StackResources"]
    assert [(r["LogicalResourceId"], r["ResourceStatus"]) for r in rows] == [("Queue", "CREATE_COMPLETE")]
    aws.cloudformation.delete_stack(StackName=name)
