"""Issue 2's acceptance walk-through, as a new user would do it: the plain `aws` CLI against the
local AWS, configured only by `labrunner local env`.

Create a stack shaped like the original lab (custom resource subscribing the bucket), upload a
file whose key has spaces and an apostrophe, see its item, narrow the role to GetItem, see the
AccessDeniedException in the function's log group, and watch a Config rule go NON_COMPLIANT →
COMPLIANT.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from labrunner.local.lifecycle import Endpoint
from tests.conftest import REPO
from tests.helpers import cli

T = TypeVar("T")
AWS = str(Path(sys.executable).parent / "aws")
TEMPLATE = REPO / "tests" / "fixtures" / "original_lab_template.yaml"
SAMPLE = REPO / "sample_s3_files" / "The Lighthouse Keeper's Log.txt"

pytestmark = pytest.mark.slow


def env_from_labrunner(endpoint: Endpoint) -> dict[str, str]:
    """What `eval "$(labrunner local env)"` puts into a shell."""
    result = cli("local", "env", "--port", str(endpoint.port))
    assert result.code == 0, result.err
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    for line in result.out.splitlines():
        words = shlex.split(line)
        assert words[0] == "export", line
        name, _, value = words[1].partition("=")
        env[name] = value
    env["AWS_CONFIG_FILE"] = "/nonexistent"
    env["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent"
    return env


def until(what: str, probe: Callable[[], T | None], timeout: float = 30) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_aws_cli_walkthrough(fresh_server: Endpoint, tmp_path: Path) -> None:
    env = env_from_labrunner(fresh_server)

    def aws(*args: str) -> Any:
        proc = subprocess.run(
            [AWS, *args, "--output", "json"], check=False, env=env, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, f"aws {' '.join(args)}: {proc.stderr}"
        if args[0] == "s3":  # the high-level s3 commands print progress lines, not JSON
            return {}
        return json.loads(proc.stdout) if proc.stdout.strip() else {}

    # A stack of the original lab's shape, its bucket subscribed by a Lambda-backed custom resource.
    aws(
        "cloudformation", "create-stack", "--stack-name", "original",
        "--template-body", f"file://{TEMPLATE}", "--capabilities", "CAPABILITY_IAM",
    )  # fmt: skip
    aws("cloudformation", "wait", "stack-create-complete", "--stack-name", "original")
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in aws("cloudformation", "describe-stacks", "--stack-name", "original")["Stacks"][0]["Outputs"]
    }
    bucket, table, function = outputs["UploadBucketName"], outputs["MetadataTableName"], outputs["MetadataFunctionName"]
    resources = aws("cloudformation", "describe-stack-resources", "--stack-name", "original")["StackResources"]
    role = next(r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"] == "MetadataLambdaRole")
    notification = aws("s3api", "get-bucket-notification-configuration", "--bucket", bucket)
    assert notification["QueueConfigurations"], "the custom resource subscribed the bucket to the queue"

    # Upload a file whose key has spaces and an apostrophe; its item appears.
    key = SAMPLE.name
    aws("s3", "cp", str(SAMPLE), f"s3://{bucket}/{key}")

    def item(name: str) -> dict[str, Any] | None:
        found = aws("dynamodb", "get-item", "--table-name", table, "--key", json.dumps({"S3ObjectName": {"S": name}}))
        return found.get("Item")

    recorded = until("the item of the upload", lambda: item(key))
    assert recorded["Bucket"]["S"] == bucket
    assert int(recorded["Size"]["N"]) == SAMPLE.stat().st_size

    # Narrow the role: GetItem instead of PutItem. The next upload is denied, in AWS's words.
    policy = aws("iam", "get-role-policy", "--role-name", role, "--policy-name", "WriteMetadata")["PolicyDocument"]
    narrowed = json.dumps(policy).replace("dynamodb:PutItem", "dynamodb:GetItem")
    aws("iam", "put-role-policy", "--role-name", role, "--policy-name", "WriteMetadata", "--policy-document", narrowed)
    aws("s3", "cp", str(SAMPLE), f"s3://{bucket}/denied {key}")

    def denial() -> str | None:
        events = aws(
            "logs", "filter-log-events", "--log-group-name", f"/aws/lambda/{function}",
            "--filter-pattern", '"AccessDeniedException"',
        )["events"]  # fmt: skip
        return next((e["message"] for e in events), None)

    message = until("the AccessDeniedException in the function's log", denial)
    assert f"assumed-role/{role}/{function} is not authorized to perform: dynamodb:PutItem" in message
    assert f":table/{table}" in message
    assert item(f"denied {key}") is None

    # AWS Config: record buckets, a managed rule, NON_COMPLIANT without logging, COMPLIANT with it.
    account = aws("sts", "get-caller-identity")["Account"]
    config_bucket = f"config-delivery-{account}"
    aws("s3api", "create-bucket", "--bucket", config_bucket)
    delivery_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "config.amazonaws.com"},
                "Action": ["s3:GetBucketAcl", "s3:ListBucket", "s3:PutObject"],
                "Resource": [f"arn:aws:s3:::{config_bucket}", f"arn:aws:s3:::{config_bucket}/*"],
            }
        ],
    }
    aws("s3api", "put-bucket-policy", "--bucket", config_bucket, "--policy", json.dumps(delivery_policy))
    config_role = aws("iam", "create-service-linked-role", "--aws-service-name", "config.amazonaws.com")["Role"]["Arn"]
    aws(
        "configservice", "put-configuration-recorder", "--configuration-recorder",
        json.dumps({"name": "default", "roleARN": config_role}),
        "--recording-group", json.dumps({"allSupported": False, "resourceTypes": ["AWS::S3::Bucket"]}),
    )  # fmt: skip
    aws(
        "configservice", "put-delivery-channel", "--delivery-channel",
        json.dumps({"name": "default", "s3BucketName": config_bucket}),
    )  # fmt: skip
    aws("configservice", "start-configuration-recorder", "--configuration-recorder-name", "default")
    rule = {
        "ConfigRuleName": "s3-bucket-logging-enabled",
        "Source": {"Owner": "AWS", "SourceIdentifier": "S3_BUCKET_LOGGING_ENABLED"},
        "Scope": {"ComplianceResourceTypes": ["AWS::S3::Bucket"]},
    }
    aws("configservice", "put-config-rule", "--config-rule", json.dumps(rule))
    aws("configservice", "start-config-rules-evaluation", "--config-rule-names", "s3-bucket-logging-enabled")

    def verdict(expected: str) -> str | None:
        results = aws(
            "configservice", "get-compliance-details-by-config-rule",
            "--config-rule-name", "s3-bucket-logging-enabled",
        )["EvaluationResults"]  # fmt: skip
        for result in results:
            qualifier = result["EvaluationResultIdentifier"]["EvaluationResultQualifier"]
            if qualifier["ResourceId"] == bucket and result["ComplianceType"] == expected:
                return expected
        return None

    until("NON_COMPLIANT for the upload bucket", lambda: verdict("NON_COMPLIANT"))
    logging = {"LoggingEnabled": {"TargetBucket": config_bucket, "TargetPrefix": "access/"}}
    aws("s3api", "put-bucket-logging", "--bucket", bucket, "--bucket-logging-status", json.dumps(logging))
    until("COMPLIANT for the upload bucket", lambda: verdict("COMPLIANT"))
