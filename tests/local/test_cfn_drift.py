"""CloudFormation drift detection on the lab's stack: untouched it is IN_SYNC; changes made by hand
(outside CloudFormation) are MODIFIED or DELETED with AWS's property differences; types not
checked are NOT_CHECKED. Through boto3 and the aws CLI (`aws cloudformation detect-stack-drift`, as
lab 1's console text suggests)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from labrunner.aws.errors import error_code
from labrunner.local.lifecycle import Endpoint
from tests.local.lambda_support import Aws
from tests.local.test_cfn_workload import Workload, deploy, empty_and_delete

REPO = Path(__file__).resolve().parents[2]
SECURE = (REPO / "cloudformation_template_secure.yaml").read_text()
SYSTEM_ADMINISTRATOR = "arn:aws:iam::aws:policy/job-function/SystemAdministrator"
CHECKED = {
    "FileUploadsBucket",
    "S3NotificationQueue",
    "S3NotificationQueuePolicy",
    "ObjectMetadataTable",
    "MetadataLambdaRole",
    "MetadataLambda",
}


@pytest.fixture
def aws(local_server: Endpoint) -> Aws:
    return Aws(local_server)


@pytest.fixture
def workload(aws: Aws) -> Iterator[Workload]:
    deployed = deploy(aws)
    yield deployed
    empty_and_delete(deployed)


def detect(workload: Workload) -> dict[str, Any]:
    """DetectStackDrift, then poll DescribeStackDriftDetectionStatus until it is no longer in progress."""
    cfn = workload.aws.cloudformation
    detection = cfn.detect_stack_drift(StackName=workload.stack)["StackDriftDetectionId"]
    seen = []
    for _ in range(10):
        status: dict[str, Any] = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection)
        seen.append(status["DetectionStatus"])
        if status["DetectionStatus"] != "DETECTION_IN_PROGRESS":
            assert seen[0] == "DETECTION_IN_PROGRESS", seen  # asynchronous, as on AWS: a client must poll
            return status
    raise AssertionError(seen)


def drifts(workload: Workload, *filters: str) -> dict[str, dict[str, Any]]:
    extra = {"StackResourceDriftStatusFilters": list(filters)} if filters else {}
    rows = workload.aws.cloudformation.describe_stack_resource_drifts(StackName=workload.stack, **extra)
    return {row["LogicalResourceId"]: row for row in rows["StackResourceDrifts"]}


def differences(row: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [
        (d["PropertyPath"], d["DifferenceType"], d["ExpectedValue"], d["ActualValue"])
        for d in row.get("PropertyDifferences", [])
    ]


def test_untouched_stack_is_in_sync(workload: Workload) -> None:
    status = detect(workload)
    assert status["DetectionStatus"] == "DETECTION_COMPLETE"
    assert status["StackDriftStatus"] == "IN_SYNC" and status["DriftedStackResourceCount"] == 0
    found = drifts(workload)
    assert set(found) == CHECKED  # the event source mapping is not checked, so not listed
    assert {row["StackResourceDriftStatus"] for row in found.values()} == {"IN_SYNC"}, found
    role = found["MetadataLambdaRole"]
    assert json.loads(role["ExpectedProperties"]) == json.loads(role["ActualProperties"])
    assert json.loads(role["ExpectedProperties"])["ManagedPolicyArns"] == [SYSTEM_ADMINISTRATOR]
    stack = workload.status()
    assert (
        stack["DriftInformation"]["StackDriftStatus"] == "IN_SYNC" and stack["DriftInformation"]["LastCheckTimestamp"]
    )
    resources = workload.resources()
    assert resources["QueueLambdaSourceMapping"]["DriftInformation"]["StackResourceDriftStatus"] == "NOT_CHECKED"
    assert resources["MetadataLambda"]["DriftInformation"]["StackResourceDriftStatus"] == "IN_SYNC"


def test_role_changed_by_hand_is_modified(workload: Workload) -> None:
    iam, role = workload.aws.iam, workload.outputs["MetadataRoleName"]
    # Lab 3's console fixes: the admin policy detached, the inline policy narrowed to PutItem.
    iam.detach_role_policy(RoleName=role, PolicyArn=SYSTEM_ADMINISTRATOR)
    document = json.loads(
        json.dumps(iam.get_role_policy(RoleName=role, PolicyName="PutItemDynamoTables")["PolicyDocument"])
    )
    document["Statement"][1]["Action"] = "dynamodb:PutItem"
    iam.put_role_policy(RoleName=role, PolicyName="PutItemDynamoTables", PolicyDocument=json.dumps(document))
    status = detect(workload)
    assert status["StackDriftStatus"] == "DRIFTED" and status["DriftedStackResourceCount"] == 1
    found = drifts(workload)
    assert found["MetadataLambdaRole"]["StackResourceDriftStatus"] == "MODIFIED"
    assert sorted(differences(found["MetadataLambdaRole"])) == [
        ("/ManagedPolicyArns/0", "REMOVE", SYSTEM_ADMINISTRATOR, "null"),
        ("/Policies/0/PolicyDocument/Statement/1/Action", "NOT_EQUAL", "dynamodb:*", "dynamodb:PutItem"),
    ]
    assert set(drifts(workload, "MODIFIED")) == {"MetadataLambdaRole"}
    assert workload.status()["DriftInformation"]["StackDriftStatus"] == "DRIFTED"


def test_queue_and_function_changed_and_table_deleted(workload: Workload) -> None:
    aws, outputs = workload.aws, workload.outputs
    aws.sqs.set_queue_attributes(QueueUrl=outputs["NotificationQueueUrl"], Attributes={"VisibilityTimeout": "45"})
    aws.lam.update_function_configuration(FunctionName=outputs["MetadataFunctionName"], Timeout=5)
    aws.dynamodb.delete_table(TableName=outputs["MetadataTableName"])
    detect(workload)
    found = drifts(workload)
    assert differences(found["S3NotificationQueue"]) == [("/VisibilityTimeout", "NOT_EQUAL", "60", "45")]
    assert differences(found["MetadataLambda"]) == [("/Timeout", "NOT_EQUAL", "30", "5")]
    table = found["ObjectMetadataTable"]
    assert table["StackResourceDriftStatus"] == "DELETED" and "ActualProperties" not in table
    assert found["FileUploadsBucket"]["StackResourceDriftStatus"] == "IN_SYNC"


def test_queue_policy_removed_is_deleted(workload: Workload) -> None:
    workload.aws.sqs.set_queue_attributes(QueueUrl=workload.outputs["NotificationQueueUrl"], Attributes={"Policy": ""})
    detect(workload)
    assert drifts(workload)["S3NotificationQueuePolicy"]["StackResourceDriftStatus"] == "DELETED"


def test_bucket_encryption_changed_by_hand(aws: Aws) -> None:
    """The hardened template sets SSE-S3: SSE-KMS set in the console is drift; the insecure template
    sets no encryption, so there it is not checked."""
    workload = deploy(aws, SECURE)
    try:
        bucket = workload.outputs["UploadBucketName"]
        aws.s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
            },
        )
        row = aws.cloudformation.detect_stack_resource_drift(
            StackName=workload.stack, LogicalResourceId="FileUploadsBucket"
        )["StackResourceDrift"]
        assert row["StackResourceDriftStatus"] == "MODIFIED"
        path = "/BucketEncryption/ServerSideEncryptionConfiguration/0/ServerSideEncryptionByDefault/SSEAlgorithm"
        assert differences(row) == [(path, "NOT_EQUAL", "AES256", "aws:kms")]
    finally:
        empty_and_delete(workload)


def test_unknown_detection_and_resource_are_validation_errors(workload: Workload) -> None:
    cfn = workload.aws.cloudformation
    with pytest.raises(ClientError) as raised:
        cfn.describe_stack_drift_detection_status(StackDriftDetectionId="00000000-0000-0000-0000-000000000000")
    assert error_code(raised.value) == "ValidationError"
    with pytest.raises(ClientError) as raised:
        cfn.detect_stack_resource_drift(StackName=workload.stack, LogicalResourceId="NoSuchResource")
    assert error_code(raised.value) == "ValidationError"


def _aws_cli() -> str:
    beside = Path(sys.executable).with_name("aws")
    found = str(beside) if beside.exists() else shutil.which("aws")
    if found is None:
        pytest.skip("the aws CLI is not installed in the test environment")
    return found


def _cli(*args: str) -> Any:
    result = subprocess.run(
        [_aws_cli(), "cloudformation", *args], check=False, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_aws_cli_detects_drift(workload: Workload, local_env: Endpoint) -> None:
    workload.aws.iam.detach_role_policy(RoleName=workload.outputs["MetadataRoleName"], PolicyArn=SYSTEM_ADMINISTRATOR)
    detection = _cli("detect-stack-drift", "--stack-name", workload.stack)["StackDriftDetectionId"]
    statuses = [
        _cli("describe-stack-drift-detection-status", "--stack-drift-detection-id", detection) for _ in range(2)
    ]
    assert [s["DetectionStatus"] for s in statuses] == ["DETECTION_IN_PROGRESS", "DETECTION_COMPLETE"]
    assert statuses[1]["StackDriftStatus"] == "DRIFTED"
    rows = _cli(
        "describe-stack-resource-drifts",
        "--stack-name",
        workload.stack,
        "--stack-resource-drift-status-filters",
        "MODIFIED",
    )["StackResourceDrifts"]
    assert [(r["LogicalResourceId"], differences(r)) for r in rows] == [
        ("MetadataLambdaRole", [("/ManagedPolicyArns/0", "REMOVE", SYSTEM_ADMINISTRATOR, "null")])
    ]


def test_hardened_stack_is_in_sync(aws: Aws) -> None:
    """Every checked property of the hardened template (encryption, logging, public access block, bucket
    policy, DynamoDB encryption and recovery, SQS encryption) reads back as the template set it."""
    workload = deploy(aws, SECURE)
    try:
        status = detect(workload)
        found = drifts(workload)
        assert status["StackDriftStatus"] == "IN_SYNC", {k: differences(v) for k, v in found.items()}
        assert {"FileUploadsBucket", "AccessLogsBucket", "ObjectMetadataTable", "FileUploadsBucketPolicy"} <= set(found)
        # The TLS-only policy removed in the console: the bucket policy resource is gone.
        aws.s3.delete_bucket_policy(Bucket=workload.outputs["UploadBucketName"])
        detect(workload)
        assert drifts(workload, "DELETED").keys() == {"FileUploadsBucketPolicy"}
    finally:
        empty_and_delete(workload)


def test_policy_attached_and_statement_condition_added_are_add(workload: Workload) -> None:
    """A value added to a list (one more managed policy) and a key added inside a policy are ADD."""
    iam, role = workload.aws.iam, workload.outputs["MetadataRoleName"]
    read_only = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    iam.attach_role_policy(RoleName=role, PolicyArn=read_only)
    document = iam.get_role_policy(RoleName=role, PolicyName="PutItemDynamoTables")["PolicyDocument"]
    document["Statement"][2]["Condition"] = {"Bool": {"aws:SecureTransport": "true"}}
    iam.put_role_policy(RoleName=role, PolicyName="PutItemDynamoTables", PolicyDocument=json.dumps(document))
    row = workload.aws.cloudformation.detect_stack_resource_drift(
        StackName=workload.stack, LogicalResourceId="MetadataLambdaRole"
    )["StackResourceDrift"]
    assert sorted(differences(row)) == [
        ("/ManagedPolicyArns/1", "ADD", "null", read_only),
        (
            "/Policies/0/PolicyDocument/Statement/2/Condition",
            "ADD",
            "null",
            '{"Bool":{"aws:SecureTransport":"true"}}',
        ),
    ]
