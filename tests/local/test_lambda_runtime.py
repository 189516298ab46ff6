"""Lambda functions run their own Python handler in a local worker process (fidelity.lambda_execution).

Everything goes through boto3's Invoke, as a client of AWS would: results, error shapes, log
tail, the function's log group, its role's credentials, timeouts and warm-worker reuse.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator

import pytest

from labrunner.local.lifecycle import Endpoint
from tests.local.lambda_support import LOGS_STATEMENT, Aws, invoke, unique, wait_for, zipped

ACCOUNT = "123456789012"

CONTEXT_HANDLER = """
import json, logging, os
logger = logging.getLogger()
logger.setLevel(logging.INFO)
COUNT = {"calls": 0}

def handler(event, context):
    COUNT["calls"] += 1
    print("event is", json.dumps(event))
    logger.info("handling %s", event.get("name"))
    return {
        "pid": os.getpid(),
        "calls": COUNT["calls"],
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "memory": context.memory_limit_in_mb,
        "arn": context.invoked_function_arn,
        "stream": context.log_stream_name,
        "group": context.log_group_name,
        "remaining": context.get_remaining_time_in_millis(),
        "colour": os.environ.get("COLOUR"),
        "region": os.environ.get("AWS_REGION"),
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
    }
"""


@pytest.fixture(scope="module")
def aws(local_server: Endpoint) -> Aws:
    return Aws(local_server)


@pytest.fixture(scope="module")
def role(aws: Aws) -> str:
    return aws.role(unique("fn-role"), LOGS_STATEMENT)


@pytest.fixture(scope="module")
def context_function(aws: Aws, role: str) -> Iterator[str]:
    name = unique("context")
    aws.function(name, role, CONTEXT_HANDLER, Environment={"Variables": {"COLOUR": "teal"}})
    yield name


def test_request_response_returns_the_handler_result(aws: Aws, context_function: str, local_server: Endpoint) -> None:
    response, result = invoke(aws, context_function, {"name": "first"})
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert result["function_name"] == context_function
    assert result["memory"] == "128"
    assert result["arn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{context_function}"
    assert result["group"] == f"/aws/lambda/{context_function}"
    assert 0 < result["remaining"] <= 10_000
    assert result["colour"] == "teal"
    assert result["region"] == "us-east-1"
    assert result["endpoint"] == local_server.url
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", result["stream"])


def test_warm_worker_is_reused(aws: Aws, context_function: str) -> None:
    _, first = invoke(aws, context_function, {"name": "a"})
    _, second = invoke(aws, context_function, {"name": "b"})
    assert second["pid"] == first["pid"]
    assert second["calls"] == first["calls"] + 1
    assert second["stream"] == first["stream"]
    assert aws.log_streams(context_function) == [first["stream"]]
    response = aws.lam.invoke(FunctionName=context_function, Payload=b"{}", LogType="Tail")
    tail = base64.b64decode(response["LogResult"]).decode()
    assert "Init Duration" not in tail  # a warm start


def test_log_tail_and_log_group(aws: Aws, context_function: str) -> None:
    response = aws.lam.invoke(FunctionName=context_function, Payload=b'{"name": "tail"}', LogType="Tail")
    request_id = json.loads(response["Payload"].read())["request_id"]
    tail = base64.b64decode(response["LogResult"]).decode()
    lines = tail.splitlines()
    assert f"START RequestId: {request_id} Version: $LATEST" in lines
    assert 'event is {"name": "tail"}' in lines
    assert any(re.fullmatch(rf"\[INFO\]\t\S+Z\t{request_id}\thandling tail", line) for line in lines)
    assert f"END RequestId: {request_id}" in lines
    report = next(line for line in lines if line.startswith("REPORT"))
    assert re.match(
        rf"REPORT RequestId: {request_id}\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\t"
        r"Memory Size: 128 MB\tMax Memory Used: \d+ MB",
        report,
    )
    logged = aws.log_messages(context_function)
    for line in (f"START RequestId: {request_id} Version: $LATEST", f"END RequestId: {request_id}", report):
        assert line in logged
    without_tail = aws.lam.invoke(FunctionName=context_function, Payload=b"{}")
    assert "LogResult" not in without_tail


def test_the_function_acts_with_its_role(aws: Aws) -> None:
    role_name = unique("identity-role")
    role_arn = aws.role(role_name, LOGS_STATEMENT)
    name = unique("whoami")
    source = "import boto3\ndef handler(event, context):\n    return boto3.client('sts').get_caller_identity()['Arn']\n"
    aws.function(name, role_arn, source)
    _, arn = invoke(aws, name)
    assert arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{name}"


def test_handler_exception(aws: Aws, role: str) -> None:
    name = unique("raises")
    source = "def handler(event, context):\n    raise ValueError('boom ' + event['what'])\n"
    aws.function(name, role, source)
    response, error = invoke(aws, name, {"what": "here"}, LogType="Tail")
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "boom here"
    assert any("raise ValueError" in frame for frame in error["stackTrace"])
    assert all("bootstrap.py" not in frame for frame in error["stackTrace"])
    logged = aws.log_messages(name)
    failure = next(m for m in logged if m.startswith("[ERROR]"))
    assert failure.splitlines()[:2] == ["[ERROR] ValueError: boom here", "Traceback (most recent call last):"]


@pytest.mark.parametrize(
    ("source", "handler", "error_type", "message"),
    [
        ("import no_such_module\n", "index.handler", "Runtime.ImportModuleError", "Unable to import module 'index'"),
        ("def other(e, c):\n    pass\n", "index.handler", "Runtime.HandlerNotFound", "Handler 'handler' missing"),
        ("def handler(e, c):\n    pass\n", "index", "Runtime.MalformedHandlerName", "Bad handler 'index'"),
        ("def handler(e, c) pass\n", "index.handler", "Runtime.UserCodeSyntaxError", "Syntax error in module"),
        ("def handler(e, c):\n    return {1, 2}\n", "index.handler", "Runtime.MarshalError", "Unable to marshal"),
    ],
    ids=["import-error", "handler-not-found", "malformed-handler", "syntax-error", "marshal-error"],
)
def test_runtime_errors(  # noqa: PLR0917 - parametrised
    aws: Aws, role: str, source: str, handler: str, error_type: str, message: str
) -> None:
    name = unique("broken")
    aws.function(name, role, source, handler=handler)
    response, error = invoke(aws, name)
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == error_type
    assert message in error["errorMessage"]
    assert any(m.startswith(f"[ERROR] {error_type}: ") for m in aws.log_messages(name))


def test_timeout_is_honoured(aws: Aws, role: str) -> None:
    name = unique("slow")
    source = "import os, time\ndef handler(event, context):\n    print('sleeping')\n    time.sleep(30)\n"
    aws.function(name, role, source, timeout=1)
    started = time.monotonic()
    response, error = invoke(aws, name, LogType="Tail")
    assert time.monotonic() - started < 5
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in error["errorMessage"]
    tail = base64.b64decode(response["LogResult"]).decode()
    assert "Task timed out after 1.00 seconds" in tail
    assert "Status: timeout" in tail
    # The killed worker is replaced: the function still answers.
    quick = unique("quick-after-timeout")
    aws.function(quick, role, "def handler(e, c):\n    return 'ok'\n", timeout=1)
    assert invoke(aws, quick)[1] == "ok"


def test_code_and_configuration_changes_replace_the_worker(aws: Aws, role: str) -> None:
    name = unique("changing")
    source = "import os\ndef handler(e, c):\n    return [os.getpid(), 'v1', os.environ.get('MODE')]\n"
    aws.function(name, role, source)
    pid, version, _mode = invoke(aws, name)[1]
    assert version == "v1"
    aws.lam.update_function_code(FunctionName=name, ZipFile=zipped(source.replace("v1", "v2")))
    new_pid, version, _mode = invoke(aws, name)[1]
    assert (version, new_pid != pid) == ("v2", True)
    aws.lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"MODE": "blue"}})
    last_pid, _version, mode = invoke(aws, name)[1]
    assert (mode, last_pid != new_pid) == ("blue", True)


def test_event_invocation_runs_in_the_background(aws: Aws, role: str) -> None:
    name = unique("async")
    source = "import time\ndef handler(event, context):\n    time.sleep(0.5)\n    print('done', event['n'])\n"
    aws.function(name, role, source)
    started = time.monotonic()
    response = aws.lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 7}')
    assert response["StatusCode"] == 202
    assert time.monotonic() - started < 0.5
    wait_for(lambda: "done 7" in aws.log_messages(name), what="the asynchronous invocation's log line")


def test_dry_run_does_not_run(aws: Aws, role: str) -> None:
    name = unique("dry")
    aws.function(name, role, "def handler(e, c):\n    print('ran')\n")
    response = aws.lam.invoke(FunctionName=name, InvocationType="DryRun")
    assert response["StatusCode"] == 204
    assert aws.log_messages(name) == []


def test_no_logs_without_log_permissions(aws: Aws) -> None:
    role_arn = aws.role(unique("mute-role"))  # no policy at all
    name = unique("mute")
    aws.function(name, role_arn, "def handler(e, c):\n    print('hello')\n    return 1\n")
    assert invoke(aws, name)[1] == 1
    groups = aws.logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"]
    assert groups == []


def test_s3_invokes_a_function_destination_asynchronously(aws: Aws, role: str) -> None:
    name = unique("on-upload")
    source = "def handler(event, context):\n    print('object', event['Records'][0]['s3']['object']['key'])\n"
    arn = aws.function(name, role, source)
    bucket = unique("lambda-destination")
    aws.s3.create_bucket(Bucket=bucket)
    aws.s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    aws.s3.put_object(Bucket=bucket, Key="report.txt", Body=b"1")
    wait_for(lambda: "object report.txt" in aws.log_messages(name), what="the S3 event in the function's log")
    aws.s3.delete_object(Bucket=bucket, Key="report.txt")
    aws.s3.delete_bucket(Bucket=bucket)


def test_output_below_python_is_logged_with_its_invocation(aws: Aws, role: str) -> None:
    name = unique("raw-output")
    source = (
        "import os, subprocess\n"
        "def handler(event, context):\n"
        "    os.write(1, b'written to fd 1\\n')\n"
        "    subprocess.run(['echo', 'from a child process'], check=True)\n"
        "    return 'done'\n"
    )
    aws.function(name, role, source)
    response = aws.lam.invoke(FunctionName=name, LogType="Tail")
    lines = base64.b64decode(response["LogResult"]).decode().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("START"))
    end = next(i for i, line in enumerate(lines) if line.startswith("END"))
    assert {"written to fd 1", "from a child process"} <= set(lines[start:end])
