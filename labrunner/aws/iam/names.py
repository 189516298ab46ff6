"""The names and constants of lab 3's IAM checks: the lab's policy names, the actions the function needs."""

from __future__ import annotations

from typing import Literal

from labrunner.aws.stack import partition

EvalDecision = Literal["allowed", "explicitDeny", "implicitDeny"]
# The simulator's SourcePolicyType values we meet: "role" (inline), "aws-managed", "user-managed".
PolicySource = str
Request = tuple[str, str]  # (action, resource ARN)

LAMBDA_SERVICE = "lambda.amazonaws.com"
ASSUME_ACTIONS = ("sts:AssumeRole", "sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithSAML")
PROBE = "labrunner-probe"  # the name of made-up resources that nothing should be allowed to touch

# AWS managed policies that give administrator-level or broad job-function access.
ADMIN_POLICY_NAMES = frozenset(
    {
        "AdministratorAccess",
        "PowerUserAccess",
        "SystemAdministrator",
        "NetworkAdministrator",
        "DatabaseAdministrator",
        "IAMFullAccess",
        "AWSManagementConsoleAdministratorAccess",
    }
)
BASIC_EXECUTION_POLICY = "AWSLambdaBasicExecutionRole"
# The lab's names (SPEC §4), mentioned when a student's equivalent policy is named differently.
LAB_WILDCARD_POLICY = "PutItemDynamoTables"
LAB_DYNAMODB_POLICY = "DynamoDbPutItemOnly"
LAB_SQS_POLICY = "RetrieveSqsMessages"
DYNAMODB_REQUIRED = ("dynamodb:PutItem",)
SQS_REQUIRED = ("sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:DeleteMessage")
LOGS_REQUIRED = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")


def basic_execution_arn(region: str) -> str:
    return f"arn:{partition(region)}:iam::aws:policy/service-role/{BASIC_EXECUTION_POLICY}"
