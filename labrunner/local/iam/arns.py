"""The resource ARNs AWS authorizes requests against (and names in its AccessDenied messages).

Shared by the request middleware and in-process callers (the Lambda runtime), so both ask IAM
about the same resource strings.
"""

from __future__ import annotations


def table_arn(region: str, account: str, table: str, index: str | None = None) -> str:
    arn = f"arn:aws:dynamodb:{region}:{account}:table/{table}"
    return f"{arn}/index/{index}" if index else arn


def queue_arn(region: str, account: str, queue: str) -> str:
    return f"arn:aws:sqs:{region}:{account}:{queue}"


def log_group_arn(region: str, account: str, group: str) -> str:
    """A log group as AWS writes it for group-level actions (CreateLogGroup …): empty stream part."""
    return f"arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:"


def log_stream_arn(region: str, account: str, group: str, stream: str) -> str:
    """A log stream (CreateLogStream, PutLogEvents, GetLogEvents)."""
    return f"arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{stream}"


def function_arn(region: str, account: str, function: str) -> str:
    return f"arn:aws:lambda:{region}:{account}:function:{function}"
