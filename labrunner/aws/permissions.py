"""The IAM actions `check` and `solve` need: the one list `labrunner doctor` asks IAM's simulator about.

Kept complete by tests/doctor/test_permissions_manifest.py, which records every API call of a
full solve and check on the local AWS and maps each to its IAM action (Service Authorization
Reference): a lab that starts calling something new fails that test until it is listed here.
`solve setup` and `solve extra` deploy through CloudFormation, which creates the template's
resources with the caller's own permissions (no service role): those actions follow from the
resource types of the templates (DEPLOY_ACTIONS).
"""

from __future__ import annotations

from collections.abc import Iterable

# What `check` calls (all reads; the simulator calls are reads too).
CHECK_ACTIONS: tuple[str, ...] = (
    "cloudformation:DescribeStacks",
    "cloudformation:DescribeStackResources",  # a check run reads the stack and its resources in one round
    "cloudformation:GetTemplate",
    "cloudformation:ListStackResources",
    "cloudtrail:LookupEvents",
    "config:DescribeConfigRules",
    "config:DescribeConfigurationRecorderStatus",
    "config:DescribeConfigurationRecorders",
    "config:DescribeDeliveryChannels",
    "config:GetComplianceDetailsByConfigRule",
    "config:GetResourceConfigHistory",
    "dynamodb:DescribeContinuousBackups",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:ListTables",
    "iam:GetPolicy",
    "iam:GetPolicyVersion",
    "iam:GetRole",
    "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:ListRolePolicies",
    "iam:SimulateCustomPolicy",
    "iam:SimulatePrincipalPolicy",
    "lambda:GetEventSourceMapping",
    "lambda:GetFunction",
    "lambda:ListEventSourceMappings",
    "logs:DescribeLogGroups",
    "logs:FilterLogEvents",
    "s3:GetBucketAcl",
    "s3:GetBucketLogging",
    "s3:GetBucketNotification",
    "s3:GetBucketOwnershipControls",
    "s3:GetBucketPolicy",
    "s3:GetBucketPublicAccessBlock",
    "s3:GetBucketTagging",
    "s3:GetEncryptionConfiguration",
    "s3:GetObject",  # HeadObject
    "s3:ListAllMyBuckets",
    "s3:ListBucket",  # HeadBucket, ListObjectsV2
    "sqs:GetQueueAttributes",
)

# What `solve` calls besides (it verifies every step after applying it, so it needs CHECK_ACTIONS too).
SOLVE_ACTIONS: tuple[str, ...] = (
    "cloudformation:CreateChangeSet",
    "cloudformation:CreateStack",
    "cloudformation:DeleteChangeSet",
    "cloudformation:DeleteStack",  # a stack left in ROLLBACK_COMPLETE is replaced
    "cloudformation:DescribeChangeSet",
    "cloudformation:DescribeStackEvents",
    "cloudformation:ExecuteChangeSet",
    "config:DeleteConfigRule",
    "config:PutConfigRule",
    "config:PutConfigurationRecorder",
    "config:PutDeliveryChannel",
    "config:StartConfigRulesEvaluation",
    "config:StartConfigurationRecorder",
    "iam:AttachRolePolicy",
    "iam:CreateServiceLinkedRole",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PassRole",  # the recorder's role (PutConfigurationRecorder)
    "iam:PutRolePolicy",
    "iam:UpdateAssumeRolePolicy",
    "s3:CreateBucket",
    "s3:PutBucketLogging",
    "s3:PutBucketOwnershipControls",  # CreateBucket with ObjectOwnership
    "s3:PutBucketPolicy",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketTagging",
    "s3:PutEncryptionConfiguration",
    "s3:PutObject",
)

# What CloudFormation does with the caller's permissions for each resource type of the templates
# (create, update in place or by replacement, delete on rollback).
DEPLOY_ACTIONS: dict[str, tuple[str, ...]] = {
    "AWS::S3::Bucket": (
        "s3:CreateBucket",
        "s3:DeleteBucket",
        "s3:PutBucketLogging",
        "s3:PutBucketNotification",
        "s3:PutBucketPublicAccessBlock",
        "s3:PutBucketTagging",
        "s3:PutEncryptionConfiguration",
    ),
    "AWS::S3::BucketPolicy": ("s3:DeleteBucketPolicy", "s3:GetBucketPolicy", "s3:PutBucketPolicy"),
    "AWS::SQS::Queue": (
        "sqs:CreateQueue",
        "sqs:DeleteQueue",
        "sqs:GetQueueAttributes",
        "sqs:SetQueueAttributes",
        "sqs:TagQueue",
    ),
    "AWS::SQS::QueuePolicy": ("sqs:SetQueueAttributes",),
    "AWS::IAM::Role": (
        "iam:AttachRolePolicy",
        "iam:CreateRole",
        "iam:DeleteRole",
        "iam:DeleteRolePolicy",
        "iam:DetachRolePolicy",
        "iam:GetRole",
        "iam:PutRolePolicy",
    ),
    "AWS::Lambda::Function": (
        "iam:PassRole",
        "lambda:CreateFunction",
        "lambda:DeleteFunction",
        "lambda:GetFunction",
        "lambda:UpdateFunctionCode",
        "lambda:UpdateFunctionConfiguration",
    ),
    "AWS::Lambda::EventSourceMapping": (
        "lambda:CreateEventSourceMapping",
        "lambda:DeleteEventSourceMapping",
        "lambda:GetEventSourceMapping",
        "lambda:UpdateEventSourceMapping",
    ),
    "AWS::DynamoDB::Table": ("dynamodb:CreateTable", "dynamodb:DeleteTable", "dynamodb:DescribeTable"),
    "AWS::CloudFormation::CustomResource": ("lambda:InvokeFunction",),
    "AWS::Logs::LogGroup": ("logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy"),
}


def deploy_actions(resource_types: Iterable[str]) -> tuple[str, ...]:
    """The actions CloudFormation needs for these resource types (Custom::X is a custom resource)."""
    found: list[str] = []
    for kind in resource_types:
        key = "AWS::CloudFormation::CustomResource" if kind.startswith("Custom::") else kind
        found.extend(DEPLOY_ACTIONS.get(key, ()))
    return tuple(dict.fromkeys(found))


def unknown_types(resource_types: Iterable[str]) -> list[str]:
    """Resource types DEPLOY_ACTIONS does not know (a template grew a new kind of resource)."""
    return sorted({t for t in resource_types if t not in DEPLOY_ACTIONS and not t.startswith("Custom::")})


def needed(command: str, resource_types: Iterable[str] = ()) -> tuple[str, ...]:
    """Every IAM action `check` or `solve` needs, sorted."""
    actions = set(CHECK_ACTIONS)
    if command == "solve":
        actions |= set(SOLVE_ACTIONS) | set(deploy_actions(resource_types))
    return tuple(sorted(actions, key=str.lower))
