"""iam:SimulatePrincipalPolicy / iam:SimulateCustomPolicy on the local AWS (fidelity/iam_simulator.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from labrunner.local import identity
from labrunner.local.lifecycle import Endpoint
from tests.local.iam_support import client, create_user

ACCOUNT = identity.DEFAULT_ACCOUNT
TABLE = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/ObjectMetadata"
OTHER_TABLE = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/Other"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:notifications"


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture
def iam(local_server: Endpoint) -> Any:
    return client(local_server, "iam")


@pytest.fixture
def lambda_role(iam: Any) -> Iterator[str]:
    """A role shaped like the lab's MetadataLambdaRole after lab 3."""
    name = f"MetadataLambdaRole-{uuid.uuid4().hex[:6]}"
    iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=doc(
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ),
    )
    iam.put_role_policy(
        RoleName=name,
        PolicyName="DynamoDbPutItemOnly",
        PolicyDocument=doc({"Sid": "PutOnly", "Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": TABLE}),
    )
    iam.put_role_policy(
        RoleName=name,
        PolicyName="RetrieveSqsMessages",
        PolicyDocument=doc(
            {
                "Effect": "Allow",
                "Action": ["sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:DeleteMessage"],
                "Resource": QUEUE,
            },
            {"Sid": "NoPurge", "Effect": "Deny", "Action": "sqs:PurgeQueue", "Resource": "*"},
        ),
    )
    iam.attach_role_policy(RoleName=name, PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    yield f"arn:aws:iam::{ACCOUNT}:role/{name}"


def decisions(results: list[dict[str, Any]]) -> dict[str, str]:
    return {r["EvalActionName"]: r["EvalDecision"] for r in results}


class TestSimulatePrincipalPolicy:
    def test_decisions_for_the_lambda_role(self, iam: Any, lambda_role: str) -> None:
        results = iam.simulate_principal_policy(
            PolicySourceArn=lambda_role,
            ActionNames=["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteTable"],
            ResourceArns=[TABLE],
        )["EvaluationResults"]
        assert decisions(results) == {
            "dynamodb:PutItem": "allowed",
            "dynamodb:GetItem": "implicitDeny",
            "dynamodb:DeleteTable": "implicitDeny",
        }
        put = results[0]
        assert put["EvalResourceName"] == "arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}"
        assert [(s["SourcePolicyId"], s["SourcePolicyType"]) for s in put["MatchedStatements"]] == [
            ("DynamoDbPutItemOnly", "role")
        ]
        assert put["ResourceSpecificResults"] == [
            {
                "EvalResourceName": TABLE,
                "EvalResourceDecision": "allowed",
                "MatchedStatements": put["MatchedStatements"],
                "MissingContextValues": [],
            }
        ]
        assert results[1]["MatchedStatements"] == []

    def test_explicit_deny_names_the_statement(self, iam: Any, lambda_role: str) -> None:
        (result,) = iam.simulate_principal_policy(
            PolicySourceArn=lambda_role, ActionNames=["sqs:PurgeQueue"], ResourceArns=[QUEUE]
        )["EvaluationResults"]
        assert result["EvalDecision"] == "explicitDeny"
        (statement,) = result["MatchedStatements"]
        assert (statement["SourcePolicyId"], statement["SourcePolicyType"]) == ("RetrieveSqsMessages", "role")
        assert statement["StartPosition"]["Line"] >= 1 and statement["EndPosition"]["Column"] > 1

    def test_aws_managed_policy_is_included(self, iam: Any, lambda_role: str) -> None:
        (result,) = iam.simulate_principal_policy(
            PolicySourceArn=lambda_role,
            ActionNames=["logs:PutLogEvents"],
            ResourceArns=[f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/fn:log-stream:s"],
        )["EvaluationResults"]
        assert result["EvalDecision"] == "allowed"
        assert result["MatchedStatements"][0]["SourcePolicyId"] == "AWSLambdaBasicExecutionRole"
        assert result["MatchedStatements"][0]["SourcePolicyType"] == "aws-managed"

    def test_most_restrictive_decision_across_resources(self, iam: Any, lambda_role: str) -> None:
        (result,) = iam.simulate_principal_policy(
            PolicySourceArn=lambda_role, ActionNames=["dynamodb:PutItem"], ResourceArns=[TABLE, OTHER_TABLE]
        )["EvaluationResults"]
        assert result["EvalDecision"] == "implicitDeny"
        per_resource = {r["EvalResourceName"]: r["EvalResourceDecision"] for r in result["ResourceSpecificResults"]}
        assert per_resource == {TABLE: "allowed", OTHER_TABLE: "implicitDeny"}

    def test_without_resources_the_resource_is_star(self, iam: Any, lambda_role: str) -> None:
        results = iam.simulate_principal_policy(
            PolicySourceArn=lambda_role, ActionNames=["dynamodb:PutItem", "logs:CreateLogGroup"]
        )["EvaluationResults"]
        assert decisions(results) == {"dynamodb:PutItem": "implicitDeny", "logs:CreateLogGroup": "allowed"}
        assert {r["EvalResourceName"] for r in results} == {"*"}
        assert all("ResourceSpecificResults" not in r for r in results)

    def test_paginator(self, iam: Any, lambda_role: str) -> None:
        actions = ["dynamodb:PutItem", "dynamodb:GetItem", "sqs:ReceiveMessage", "sqs:PurgeQueue", "s3:GetObject"]
        first = iam.simulate_principal_policy(PolicySourceArn=lambda_role, ActionNames=actions, MaxItems=2)
        assert first["IsTruncated"] is True and len(first["EvaluationResults"]) == 2
        pages = iam.get_paginator("simulate_principal_policy").paginate(
            PolicySourceArn=lambda_role, ActionNames=actions, PaginationConfig={"PageSize": 2}
        )
        seen = [r["EvalActionName"] for page in pages for r in page["EvaluationResults"]]
        assert seen == actions

    def test_user_with_group_policies(self, iam: Any) -> None:
        user, group = f"sim-{uuid.uuid4().hex[:6]}", f"grp-{uuid.uuid4().hex[:6]}"
        iam.create_user(UserName=user)
        iam.create_group(GroupName=group)
        iam.add_user_to_group(GroupName=group, UserName=user)
        iam.put_group_policy(
            GroupName=group,
            PolicyName="GroupRead",
            PolicyDocument=doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}),
        )
        (result,) = iam.simulate_principal_policy(
            PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/{user}", ActionNames=["s3:GetObject"]
        )["EvaluationResults"]
        assert result["EvalDecision"] == "allowed"
        assert result["MatchedStatements"][0]["SourcePolicyType"] == "group"

    def test_context_entries_and_missing_context(self, iam: Any, lambda_role: str) -> None:
        extra = doc(
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}},
            }
        )
        kwargs: dict[str, Any] = {
            "PolicySourceArn": lambda_role,
            "ActionNames": ["s3:GetObject"],
            "PolicyInputList": [extra],
        }
        (missing,) = iam.simulate_principal_policy(**kwargs)["EvaluationResults"]
        assert missing["EvalDecision"] == "implicitDeny"
        assert missing["MissingContextValues"] == ["aws:RequestedRegion"]
        context = [
            {"ContextKeyName": "aws:RequestedRegion", "ContextKeyValues": ["us-east-1"], "ContextKeyType": "string"}
        ]
        (given,) = iam.simulate_principal_policy(**kwargs, ContextEntries=context)["EvaluationResults"]
        assert given["EvalDecision"] == "allowed"
        assert given["MatchedStatements"][0]["SourcePolicyId"] == "PolicyInputList.1"

    def test_permissions_boundary_input(self, iam: Any, lambda_role: str) -> None:
        boundary = doc({"Effect": "Allow", "Action": "sqs:*", "Resource": "*"})
        results = iam.simulate_principal_policy(
            PolicySourceArn=lambda_role,
            ActionNames=["dynamodb:PutItem", "sqs:ReceiveMessage"],
            ResourceArns=[TABLE, QUEUE],
            PermissionsBoundaryPolicyInputList=[boundary],
        )["EvaluationResults"]
        by_action = {r["EvalActionName"]: r for r in results}
        put = {
            r["EvalResourceName"]: r["EvalResourceDecision"]
            for r in by_action["dynamodb:PutItem"]["ResourceSpecificResults"]
        }
        assert put[TABLE] == "implicitDeny"
        assert by_action["dynamodb:PutItem"]["PermissionsBoundaryDecisionDetail"] == {
            "AllowedByPermissionsBoundary": False
        }
        receive = by_action["sqs:ReceiveMessage"]["ResourceSpecificResults"]
        assert {r["EvalResourceName"]: r["EvalResourceDecision"] for r in receive}[QUEUE] == "allowed"

    def test_unknown_role(self, iam: Any) -> None:
        with pytest.raises(ClientError) as info:
            iam.simulate_principal_policy(
                PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:role/does-not-exist", ActionNames=["s3:GetObject"]
            )
        assert info.value.response["Error"]["Code"] == "NoSuchEntity"

    def test_simulating_needs_permission(self, lambda_role: str, local_server: Endpoint) -> None:
        _, creds = create_user(local_server, {"Effect": "Allow", "Action": "iam:Get*", "Resource": "*"})
        user_iam = client(local_server, "iam", creds)
        with pytest.raises(ClientError) as info:
            user_iam.simulate_principal_policy(PolicySourceArn=lambda_role, ActionNames=["s3:GetObject"])
        assert info.value.response["Error"]["Code"] == "AccessDenied"


class TestSimulateCustomPolicy:
    TEMPLATE_POLICY = doc(
        {"Sid": "Put", "Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": TABLE},
        {"Sid": "Read", "Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage"], "Resource": QUEUE},
    )

    @pytest.mark.parametrize(
        ("action", "resource", "expected"),
        [
            pytest.param("dynamodb:PutItem", TABLE, "allowed", id="put-on-table"),
            pytest.param("dynamodb:PutItem", OTHER_TABLE, "implicitDeny", id="put-on-other-table"),
            pytest.param("dynamodb:Scan", TABLE, "implicitDeny", id="scan"),
            pytest.param("sqs:receivemessage", QUEUE, "allowed", id="case-insensitive-action"),
            pytest.param("sqs:SendMessage", QUEUE, "implicitDeny", id="send"),
        ],
    )
    def test_decisions(self, iam: Any, action: str, resource: str, expected: str) -> None:
        (result,) = iam.simulate_custom_policy(
            PolicyInputList=[self.TEMPLATE_POLICY], ActionNames=[action], ResourceArns=[resource]
        )["EvaluationResults"]
        assert result["EvalDecision"] == expected

    def test_explicit_deny_and_matched_statement(self, iam: Any) -> None:
        deny = doc({"Effect": "Deny", "NotAction": "dynamodb:PutItem", "Resource": "*"})
        results = iam.simulate_custom_policy(
            PolicyInputList=[self.TEMPLATE_POLICY, deny],
            ActionNames=["dynamodb:PutItem", "sqs:ReceiveMessage"],
            ResourceArns=[TABLE, QUEUE],
        )["EvaluationResults"]
        by_action = {r["EvalActionName"]: r for r in results}
        assert by_action["sqs:ReceiveMessage"]["EvalDecision"] == "explicitDeny"
        assert by_action["sqs:ReceiveMessage"]["MatchedStatements"][0]["SourcePolicyId"] == "PolicyInputList.2"
        put = {
            r["EvalResourceName"]: r["EvalResourceDecision"]
            for r in by_action["dynamodb:PutItem"]["ResourceSpecificResults"]
        }
        assert put == {TABLE: "allowed", QUEUE: "implicitDeny"}

    def test_resource_policy_with_caller(self, iam: Any) -> None:
        queue_policy = doc(
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": QUEUE,
            },
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/alice"},
                "Action": "sqs:SendMessage",
                "Resource": QUEUE,
            },
        )
        empty = doc({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"})
        alice, bob = (
            iam.simulate_custom_policy(
                PolicyInputList=[empty],
                ActionNames=["sqs:SendMessage"],
                ResourceArns=[QUEUE],
                ResourcePolicy=queue_policy,
                CallerArn=f"arn:aws:iam::{ACCOUNT}:user/{name}",
            )["EvaluationResults"][0]
            for name in ("alice", "bob")
        )
        assert alice["EvalDecision"] == "allowed"
        assert alice["MatchedStatements"][0]["SourcePolicyType"] == "resource"
        assert bob["EvalDecision"] == "implicitDeny"

    def test_malformed_policy(self, iam: Any) -> None:
        with pytest.raises(ClientError) as info:
            iam.simulate_custom_policy(PolicyInputList=["{not json"], ActionNames=["s3:GetObject"])
        assert info.value.response["Error"]["Code"] == "InvalidInput"

    def test_paginator(self, iam: Any) -> None:
        actions = [f"dynamodb:{a}" for a in ("PutItem", "GetItem", "Query", "Scan", "UpdateItem")]
        pages = list(
            iam.get_paginator("simulate_custom_policy").paginate(
                PolicyInputList=[self.TEMPLATE_POLICY], ActionNames=actions, PaginationConfig={"PageSize": 2}
            )
        )
        assert [len(p["EvaluationResults"]) for p in pages] == [2, 2, 1]
        assert [r["EvalActionName"] for p in pages for r in p["EvaluationResults"]] == actions
