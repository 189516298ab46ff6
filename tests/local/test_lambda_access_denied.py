"""End to end: the function's own calls are authorized with its role (the lab-3 AccessDenied demo).

With the role narrowed to dynamodb:GetItem, an upload does not reach the table: the handler's
PutItem is denied and the function's log group holds the AccessDeniedException naming
dynamodb:PutItem, the assumed-role session and the table. With PutItem restored, the message the
failed invocation left in the queue is delivered again and lands.
"""

from __future__ import annotations

import json
from typing import Any

from labrunner.local.lifecycle import Endpoint
from tests.local.lambda_support import Aws, unique, wait_for
from tests.local.test_cfn_workload import BASIC_EXECUTION, SYSTEM_ADMINISTRATOR, deploy, empty_and_delete

ACCOUNT = "123456789012"


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_put_item_denied_then_restored(local_server: Endpoint) -> None:
    aws = Aws(local_server)
    workload = deploy(aws)
    out = workload.outputs
    role, function, table = out["MetadataRoleName"], out["MetadataFunctionName"], out["MetadataTableName"]
    table_arn = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{table}"
    try:
        # Lab 3's least-privilege role: basic execution, PutItem on the table, polling of the queue.
        aws.iam.detach_role_policy(RoleName=role, PolicyArn=SYSTEM_ADMINISTRATOR)
        aws.iam.attach_role_policy(RoleName=role, PolicyArn=BASIC_EXECUTION)
        aws.iam.delete_role_policy(RoleName=role, PolicyName="PutItemDynamoTables")
        aws.iam.put_role_policy(
            RoleName=role,
            PolicyName="RetrieveSqsMessages",
            PolicyDocument=policy(
                {
                    "Effect": "Allow",
                    "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                    "Resource": out["NotificationQueueArn"],
                }
            ),
        )

        def allow(action: str) -> None:
            aws.iam.put_role_policy(
                RoleName=role,
                PolicyName="DynamoDbPutItemOnly",
                PolicyDocument=policy({"Effect": "Allow", "Action": action, "Resource": table_arn}),
            )

        def item(key: str) -> dict[str, Any] | None:
            found: dict[str, Any] | None = aws.dynamodb.get_item(TableName=table, Key={"S3ObjectName": {"S": key}}).get(
                "Item"
            )
            return found

        allow("dynamodb:PutItem")
        first = unique("allowed")
        aws.s3.put_object(Bucket=out["UploadBucketName"], Key=first, Body=b"1")
        wait_for(lambda: item(first), what="the upload with PutItem allowed")

        # A short visibility timeout so that the failed message comes back within the test.
        aws.sqs.set_queue_attributes(QueueUrl=out["NotificationQueueUrl"], Attributes={"VisibilityTimeout": "2"})
        allow("dynamodb:GetItem")
        denied = unique("denied") + " Alice's file.txt"
        aws.s3.put_object(Bucket=out["UploadBucketName"], Key=denied, Body=b"2")
        session = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{function}"

        def denial() -> str | None:
            return next(
                (
                    m
                    for m in aws.log_messages(function)
                    if m.startswith("[ERROR]") and "AccessDeniedException" in m and session in m
                ),
                None,
            )

        logged = wait_for(denial, what="the AccessDeniedException in the function's log group")
        assert logged.splitlines()[0] == (
            "[ERROR] ClientError: An error occurred (AccessDeniedException) when calling the PutItem operation: "
            f"User: {session} is not authorized to perform: dynamodb:PutItem on resource: {table_arn} "
            "because no identity-based policy allows the dynamodb:PutItem action"
        )
        assert item(denied) is None

        allow("dynamodb:PutItem")
        stored = wait_for(lambda: item(denied), timeout=15, what="the retried message to land")
        assert stored["Bucket"] == {"S": out["UploadBucketName"]}
        mapping = aws.lam.list_event_source_mappings(FunctionName=function)["EventSourceMappings"][0]
        assert mapping["LastProcessingResult"] == "OK"
    finally:
        empty_and_delete(workload)
