"""Lambda refuses deprecated runtimes on create and update, directly and through CloudFormation."""

from __future__ import annotations

import time
from datetime import date

import pytest
from botocore.exceptions import ClientError

from labrunner.aws.errors import error_code
from labrunner.local.fidelity import lambda_deprecated_runtimes as runtimes
from labrunner.local.lifecycle import Endpoint
from tests.local.lambda_support import LOGS_STATEMENT, Aws, unique, zipped

SOURCE = "def handler(event, context):\n    return 'ok'\n"
REFUSAL = "The runtime parameter of python3.7 is no longer supported for creating or updating AWS Lambda functions."


def test_create_and_update_with_a_deprecated_runtime_are_refused(fresh_server: Endpoint) -> None:
    aws = Aws(fresh_server)
    role = aws.role(unique("rt-role"), LOGS_STATEMENT)
    name = unique("old")
    with pytest.raises(ClientError) as caught:
        aws.lam.create_function(
            FunctionName=name, Runtime="python3.7", Role=role, Handler="index.handler", Code={"ZipFile": zipped(SOURCE)}
        )
    assert error_code(caught.value) == "InvalidParameterValueException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    message = caught.value.response["Error"]["Message"]
    assert message.startswith(REFUSAL) and "We recommend you use the new runtime (python3." in message
    assert name not in [f["FunctionName"] for f in aws.lam.list_functions()["Functions"]]

    aws.function(name, role, SOURCE)  # python3.12: fine
    with pytest.raises(ClientError) as caught:
        aws.lam.update_function_configuration(FunctionName=name, Runtime="python3.7")
    assert error_code(caught.value) == "InvalidParameterValueException"
    assert aws.lam.get_function_configuration(FunctionName=name)["Runtime"] == "python3.12"
    aws.lam.update_function_configuration(FunctionName=name, Runtime="python3.13")  # a supported one is fine


def test_the_dates_are_cfn_lints() -> None:
    # python3.6: create blocked 2022-07-18, update blocked 2022-08-29 (AWS's table, via cfn-lint E2531's data)
    assert runtimes.lifecycle()["python3.6"]["update-block"] == "2022-08-29"
    assert not runtimes.blocked_for_update("python3.6", today=date(2022, 8, 28))
    assert runtimes.blocked_for_update("python3.6", today=date(2022, 8, 29))
    assert runtimes.blocked_for_create("python3.7") and not runtimes.blocked_for_create("python3.14")
    assert not runtimes.blocked_for_create("provided.al2023") and not runtimes.blocked_for_create("no-such")


TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
  Function:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.7
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Code:
        ZipFile: |
          def handler(event, context):
              return "ok"
"""


def test_a_stack_with_a_deprecated_runtime_fails_naming_it(fresh_server: Endpoint) -> None:
    cfn = Aws(fresh_server).cloudformation
    cfn.create_stack(StackName="old-runtime", TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM"])
    deadline = time.monotonic() + 60
    while (status := cfn.describe_stacks(StackName="old-runtime")["Stacks"][0]["StackStatus"]).endswith("_IN_PROGRESS"):
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    assert status in {"ROLLBACK_COMPLETE", "CREATE_FAILED"}
    failed = [
        e
        for e in cfn.describe_stack_events(StackName="old-runtime")["StackEvents"]
        if e["LogicalResourceId"] == "Function" and e["ResourceStatus"] == "CREATE_FAILED"
    ]
    assert failed and REFUSAL in failed[0]["ResourceStatusReason"]
