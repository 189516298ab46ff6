"""CloudWatch Logs filter patterns in filter_log_events (fidelity/logs_filter_patterns.py).

Syntax from FilterAndPatternSyntax in the CloudWatch Logs User Guide; moto alone returns every
event for all but plain terms and one quoted phrase.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from labrunner.local.lifecycle import Endpoint

GROUP = "/labrunner/test/filter-patterns"
EVENTS = {
    "error": "[ERROR] AccessDeniedException: User is not authorized to perform: dynamodb:PutItem",
    "warn": "[WARN] retrying request id=42",
    "info": "[INFO] START RequestId: 0a1b Version: $LATEST",
    "json-error": (
        '{"level": "ERROR", "latency": 1200, "user": {"id": 7, "name": "alice"},'
        ' "tags": ["a", "b"], "ok": false, "gone": null}'
    ),
    "json-info": '{"level": "INFO", "latency": 35, "user": {"id": 8, "name": "bob"}, "ok": true}',
    "access-404": '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 404 2326',
    "access-200": '10.0.0.1 - bob [10/Oct/2000:13:56:00 -0700] "POST /upload HTTP/1.0" 200 512',
}
BY_MESSAGE = {message: name for name, message in EVENTS.items()}


@pytest.fixture(scope="module")
def logs(local_server: Endpoint) -> Iterator[Any]:
    """One log group with every sample event (read-only for the tests of this module)."""
    client = boto3.client(
        "logs",
        endpoint_url=local_server.url,
        region_name=local_server.region,
        aws_access_key_id=local_server.access_key,
        aws_secret_access_key=local_server.secret_key,
    )
    with contextlib.suppress(ClientError):
        client.delete_log_group(logGroupName=GROUP)
    client.create_log_group(logGroupName=GROUP)
    client.create_log_stream(logGroupName=GROUP, logStreamName="s")
    now = int(time.time() * 1000)
    client.put_log_events(
        logGroupName=GROUP,
        logStreamName="s",
        logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(EVENTS.values())],
    )
    yield client
    client.delete_log_group(logGroupName=GROUP)


def matching(logs: Any, pattern: str) -> set[str]:
    events = logs.filter_log_events(logGroupName=GROUP, filterPattern=pattern)["events"]
    return {BY_MESSAGE[event["message"]] for event in events}


CASES = [
    ("all-events", "", set(EVENTS)),
    ("single-term", "ERROR", {"error", "json-error"}),
    ("terms-are-case-sensitive", "error", set()),
    ("all-terms", "ERROR AccessDeniedException", {"error"}),
    ("any-term", "?WARN ?START", {"warn", "info"}),
    ("exclude-term", "ERROR -AccessDeniedException", {"json-error"}),
    ("only-exclusions", "-ERROR -INFO -GET -POST", {"warn"}),
    ("phrase-with-punctuation", '"not authorized to perform: dynamodb:PutItem"', {"error"}),
    ("phrase-and-exclusion", '"RequestId:" -WARN', {"info"}),
    ("any-phrase", '?"id=42" ?"Version: $LATEST"', {"warn", "info"}),
    ("json-string-equals", '{ $.level = "ERROR" }', {"json-error"}),
    ("json-string-not-equals", '{ $.level != "ERROR" }', {"json-info"}),
    ("json-unquoted-string", "{ $.level = INFO }", {"json-info"}),
    ("json-number-greater", "{ $.latency > 1000 }", {"json-error"}),
    ("json-number-equals", "{ $.user.id = 8 }", {"json-info"}),
    ("json-number-at-most", "{ $.latency <= 35 }", {"json-info"}),
    ("json-wildcard", '{ $.user.name = "ali*" }', {"json-error"}),
    ("json-or", '{ $.level = "ERROR" || $.user.id = 8 }', {"json-error", "json-info"}),
    ("json-and-parentheses", "{ ($.latency > 10) && $.ok IS FALSE }", {"json-error"}),
    ("json-is-true", "{ $.ok IS TRUE }", {"json-info"}),
    ("json-is-null", "{ $.gone IS NULL }", {"json-error"}),
    ("json-not-exists", "{ $.gone NOT EXISTS }", {"json-info"}),
    ("json-array-index", '{ $.tags[1] = "b" }', {"json-error"}),
    ("json-regex-value", "{ $.level = %ERR|WARN% }", {"json-error"}),
    ("json-missing-field", '{ $.nothing = "x" }', set()),
    ("regex", "%Access[A-Za-z]+Exception%", {"error"}),
    ("regex-anchored", r"%^\[WARN\]%", {"warn"}),
    ("regex-digits", r"%id=\d{2}$%", {"warn"}),
    ("delimited-status", "[ip, identity, user, timestamp, request, status = 404, size]", {"access-404"}),
    ("delimited-ellipsis-and-range", "[ip, ..., status >= 200 && status < 300, size]", {"access-200"}),
    ("delimited-size", "[..., size > 1000]", {"access-404"}),
    ("delimited-wildcard", "[ip = 10.*, ...]", {"access-200"}),
    ("delimited-or", "[..., status = 404 || status = 200, size]", {"access-404", "access-200"}),
]


@pytest.mark.parametrize(("pattern", "expected"), [pytest.param(p, e, id=i) for i, p, e in CASES])
def test_filter_pattern_selects_as_aws(logs: Any, pattern: str, expected: set[str]) -> None:
    assert matching(logs, pattern) == expected


INVALID = [
    ("unterminated-quote", '"AccessDenied'),
    ("unclosed-json", '{ $.level = "ERROR" '),
    ("json-double-equals", '{ $.level == "ERROR" }'),
    ("json-without-selector", '{ level = "ERROR" }'),
    ("regex-with-parentheses", "%(ERROR|WARN)%"),
    ("regex-with-unsupported-character", "%ERROR!%"),
    ("dangling-or", "? ERROR"),
    ("unquoted-punctuation", "ERROR!"),
    ("unclosed-delimited", "[ip, user"),
]


@pytest.mark.parametrize("pattern", [pytest.param(p, id=i) for i, p in INVALID])
def test_invalid_pattern_is_refused(logs: Any, pattern: str) -> None:
    with pytest.raises(ClientError) as exc:
        logs.filter_log_events(logGroupName=GROUP, filterPattern=pattern)
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"
