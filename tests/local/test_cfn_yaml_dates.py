"""CloudFormation YAML templates with unquoted dates (`Version: 2012-10-17`) deploy, the dates kept as strings."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from labrunner.aws.cfn import load_template
from labrunner.local.lifecycle import Endpoint
from tests.local.test_aws_cli_walkthrough import env_from_labrunner

AWS = str(Path(sys.executable).parent / "aws")
TEMPLATE = """\
AWSTemplateFormatVersion: 2010-09-09
Description: unquoted dates, as the lab's official template writes them
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: 2012-10-17
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
      Policies:
        - PolicyName: inline
          PolicyDocument:
            Version: 2012-10-17
            Statement:
              - Effect: Allow
                Action: sqs:ReceiveMessage
                Resource: "*"
  Queue:
    Type: AWS::SQS::Queue
  QueuePolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref Queue]
      PolicyDocument:
        Version: 2012-10-17
        Statement:
          - Effect: Allow
            Principal: {AWS: !GetAtt Role.Arn}
            Action: sqs:SendMessage
            Resource: !GetAtt Queue.Arn
Outputs:
  RoleName:
    Value: !Ref Role
"""


def test_a_template_with_unquoted_dates_deploys(fresh_server: Endpoint, tmp_path: Path) -> None:
    env = env_from_labrunner(fresh_server)
    template = tmp_path / "dates.yaml"
    template.write_text(TEMPLATE)

    def aws(*args: str) -> Any:
        proc = subprocess.run(
            [AWS, *args, "--output", "json"], check=False, env=env, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, f"aws {' '.join(args)}: {proc.stderr}"
        return json.loads(proc.stdout) if proc.stdout.strip() else {}

    aws(
        "cloudformation", "create-stack", "--stack-name", "dates",
        "--template-body", f"file://{template}", "--capabilities", "CAPABILITY_IAM",
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while (stack := aws("cloudformation", "describe-stacks", "--stack-name", "dates")["Stacks"][0])[
        "StackStatus"
    ].endswith("_IN_PROGRESS"):
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert stack["StackStatus"] == "CREATE_COMPLETE", aws(
        "cloudformation", "describe-stack-events", "--stack-name", "dates"
    )

    role = stack["Outputs"][0]["OutputValue"]
    trust = aws("iam", "get-role", "--role-name", role)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Version"] == "2012-10-17"
    inline = aws("iam", "get-role-policy", "--role-name", role, "--policy-name", "inline")["PolicyDocument"]
    assert inline["Version"] == "2012-10-17"
    sqs = boto3.Session(
        aws_access_key_id=fresh_server.access_key, aws_secret_access_key=fresh_server.secret_key
    ).client("sqs", endpoint_url=fresh_server.url, region_name="us-east-1")
    queue = sqs.list_queues()["QueueUrls"][0]
    policy = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["Policy"])["Attributes"]["Policy"]
    assert json.loads(policy)["Version"] == "2012-10-17"
    # The body CloudFormation keeps is the text as sent; read back, its dates are strings too.
    body = aws("cloudformation", "get-template", "--stack-name", "dates")["TemplateBody"]
    kept = load_template(body if isinstance(body, str) else json.dumps(body))
    assert kept["AWSTemplateFormatVersion"] == "2010-09-09"


@pytest.mark.parametrize("text", [TEMPLATE, TEMPLATE.replace("Version: 2012-10-17", "Version: '2012-10-17'")])
def test_labrunners_reader_keeps_dates_as_written(text: str) -> None:
    template = load_template(text)
    assert template["AWSTemplateFormatVersion"] == "2010-09-09"
    assert template["Resources"]["Role"]["Properties"]["AssumeRolePolicyDocument"]["Version"] == "2012-10-17"
    json.dumps(template)  # serialisable, as CloudFormation's own reading is
