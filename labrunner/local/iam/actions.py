"""What a request asks IAM for: the operation, the IAM action(s) and the resource ARN(s)."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from labrunner.local.iam import arns

# SigV4 signing names whose botocore service model has another name.
SIGNING_TO_MODEL = {"monitoring": "cloudwatch", "email": "ses", "states": "stepfunctions", "eventbridge": "events"}
# SigV4 signing names whose IAM service prefix differs.
SIGNING_TO_IAM_PREFIX = {"monitoring": "cloudwatch", "email": "ses", "eventbridge": "events"}


@dataclass(frozen=True)
class Check:
    """One authorization question: may the caller perform `action` on `resource`?"""

    action: str
    resource: str


@dataclass(frozen=True)
class Operation:
    """The API operation of a request, with its parameters as far as authorization needs them."""

    service: str  # botocore service model name
    protocol: str  # botocore protocol: json, rest-json, query, rest-xml
    name: str  # e.g. PutItem; "" when it could not be determined
    params: Mapping[str, Any]
    region: str
    account: str  # the caller's account (where unqualified resources live)

    def checks(self) -> tuple[Check, ...]:
        builder = _CHECKS.get(self.service)
        if builder is not None:
            found = builder(self)
            if found is not None:
                return found
        return (Check(f"{iam_prefix(self.service)}:{self.name}", "*"),)


def model_name(signing_name: str) -> str:
    return SIGNING_TO_MODEL.get(signing_name, signing_name)


def iam_prefix(service: str) -> str:
    return {"cloudwatch": "cloudwatch", "ses": "ses", "stepfunctions": "states"}.get(
        service, SIGNING_TO_IAM_PREFIX.get(service, service)
    )


@functools.cache
def service_protocol(service: str) -> str | None:
    """The service's botocore protocol, or None when botocore has no such model."""
    from moto.core.utils import get_service_model

    try:
        return str(get_service_model(service).protocol)
    except Exception:  # an unknown service: botocore raises its own UnknownServiceError
        return None


def _json_body(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _form(environ: Mapping[str, Any], body: bytes) -> dict[str, str]:
    params = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
    if body and "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        text = body.decode("utf-8", errors="replace")
        params.update({k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()})
    return params


def rest_operation(service: str, environ: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Match a REST request to its operation with moto's botocore-model router."""
    from moto.core.request import Request
    from moto.core.routing import get_service_router
    from werkzeug.exceptions import NotFound

    try:
        operation, params = get_service_router(service).match(Request(environ, shallow=True))
    except (NotFound, NotImplementedError):
        return "", {}
    return str(operation.name), dict(params)


def identify(service: str, environ: dict[str, Any], body: bytes, region: str, account: str) -> Operation:
    """Work out the operation of a request to `service` (a botocore service name)."""
    if service == "s3" and str(environ.get("PATH_INFO", "")).startswith(S3_CONTROL_PATH):
        # Signed for s3 (and answered as S3 answers), but an operation of S3 Control's API.
        name, control = rest_operation("s3control", environ)
        return Operation("s3", "rest-xml", name, {**control, "__s3control__": True}, region, account)
    protocol = service_protocol(service) or "query"
    name = ""
    params: dict[str, Any] = {}
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        name = target.rsplit(".", 1)[-1]
        params = _json_body(body)
        protocol = "json"
    elif protocol in ("rest-json", "rest-xml"):
        name, params = rest_operation(service, environ)
        if protocol == "rest-json" and body and environ.get("REQUEST_METHOD") in ("POST", "PUT"):
            params = {**_json_body(body), **params}
        query = environ.get("QUERY_STRING", "")
        if query:
            params["__query__"] = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
        if service == "s3":
            if name == "DeleteObjects":
                params["__delete_keys__"] = _s3_keys_to_delete(body)
            if "HTTP_X_AMZ_COPY_SOURCE" in environ:
                params["__copy_source__"] = environ["HTTP_X_AMZ_COPY_SOURCE"]
    else:
        params = _form(environ, body)
        name = str(params.get("Action", ""))
        protocol = "query"
    return Operation(service=service, protocol=protocol, name=name, params=params, region=region, account=account)


# --- DynamoDB -----------------------------------------------------------------------------------

_TRANSACT_ACTIONS = {
    "Get": "GetItem",
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def _table_arn(op: Operation, table: str) -> str:
    return table if table.startswith("arn:") else arns.table_arn(op.region, op.account, table)


def _dynamodb(op: Operation) -> tuple[Check, ...] | None:
    p = op.params
    if op.name in ("BatchGetItem", "BatchWriteItem") and isinstance(p.get("RequestItems"), dict):
        return tuple(Check(f"dynamodb:{op.name}", _table_arn(op, t)) for t in p["RequestItems"])
    if op.name in ("TransactGetItems", "TransactWriteItems") and isinstance(p.get("TransactItems"), list):
        checks = []
        for item in p["TransactItems"]:
            for kind, detail in (item or {}).items():
                if kind in _TRANSACT_ACTIONS and isinstance(detail, dict) and "TableName" in detail:
                    checks.append(Check(f"dynamodb:{_TRANSACT_ACTIONS[kind]}", _table_arn(op, detail["TableName"])))
        return tuple(checks) or None
    table = p.get("TableName")
    if isinstance(table, str):
        arn = _table_arn(op, table)
        index = p.get("IndexName")
        if isinstance(index, str) and op.name in ("Query", "Scan"):
            arn = f"{arn}/index/{index}"
        return (Check(f"dynamodb:{op.name}", arn),)
    for key in ("ResourceArn", "StreamArn", "TableArn", "BackupArn"):
        if isinstance(p.get(key), str):
            return (Check(f"dynamodb:{op.name}", p[key]),)
    return None


# --- SQS ----------------------------------------------------------------------------------------


def queue_arn_from_url(url: str, default_region: str) -> str | None:
    """arn:aws:sqs:REGION:ACCOUNT:NAME from a queue URL (the region from an sqs.REGION. host)."""
    parsed = urlparse(url)
    parts = [p for p in parsed.path.split("/") if p]
    if len(parts) < 2:
        return None
    account, name = parts[-2], parts[-1]
    host = parsed.hostname or ""
    match = re.match(r"^(?:sqs\.)?([a-z]{2}(?:-[a-z]+)+-\d)\.", host)
    region = match.group(1) if match else default_region
    return arns.queue_arn(region, account, unquote(name))


def _sqs(op: Operation) -> tuple[Check, ...] | None:
    p = op.params
    url = p.get("QueueUrl")
    action = f"sqs:{op.name}"
    if isinstance(url, str):
        arn = queue_arn_from_url(url, op.region)
        return (Check(action, arn or "*"),)
    name = p.get("QueueName")
    if isinstance(name, str):
        owner = p.get("QueueOwnerAWSAccountId") or op.account
        return (Check(action, arns.queue_arn(op.region, str(owner), name)),)
    return None


# --- CloudWatch Logs ----------------------------------------------------------------------------

# Actions AWS checks against the log stream ARN rather than the log group's.
_LOG_STREAM_ACTIONS = {"CreateLogStream", "DeleteLogStream", "PutLogEvents", "GetLogEvents"}


def _logs(op: Operation) -> tuple[Check, ...] | None:
    p = op.params
    group = p.get("logGroupName")
    identifier = p.get("logGroupIdentifier")
    if isinstance(identifier, str) and not isinstance(group, str):
        if identifier.startswith("arn:"):
            return (Check(f"logs:{op.name}", identifier),)
        group = identifier
    if isinstance(group, str):
        stream = p.get("logStreamName")
        if op.name in _LOG_STREAM_ACTIONS and isinstance(stream, str):
            return (Check(f"logs:{op.name}", arns.log_stream_arn(op.region, op.account, group, stream)),)
        return (Check(f"logs:{op.name}", arns.log_group_arn(op.region, op.account, group)),)
    if op.name in ("DescribeLogGroups",):
        return (Check(f"logs:{op.name}", arns.log_group_arn(op.region, op.account, "")),)
    arn = p.get("resourceArn")
    if isinstance(arn, str):
        return (Check(f"logs:{op.name}", arn),)
    return None


# --- Lambda -------------------------------------------------------------------------------------

_LAMBDA_ACTIONS = {"Invoke": "InvokeFunction", "InvokeWithResponseStream": "InvokeFunction"}


def _pass_role(op: Operation, param: str) -> tuple[Check, ...]:
    """Handing a role to a service needs iam:PassRole on it (CreateFunction, CreateStack …)."""
    role = op.params.get(param)
    return (Check("iam:PassRole", role),) if isinstance(role, str) and role.startswith("arn:") else ()


def _lambda(op: Operation) -> tuple[Check, ...] | None:
    action = f"lambda:{_LAMBDA_ACTIONS.get(op.name, op.name)}"
    fn = op.params.get("FunctionName")
    if isinstance(fn, str):
        if fn.startswith("arn:"):
            return (Check(action, fn),)
        name, _, qualifier = fn.partition(":")
        qualifier = qualifier or str((op.params.get("__query__") or {}).get("Qualifier", ""))
        arn = arns.function_arn(op.region, op.account, name)
        pass_role = _pass_role(op, "Role") if op.name in ("CreateFunction", "UpdateFunctionConfiguration") else ()
        return (Check(action, f"{arn}:{qualifier}" if qualifier else arn), *pass_role)
    uuid = op.params.get("UUID")
    if isinstance(uuid, str):
        return (Check(action, f"arn:aws:lambda:{op.region}:{op.account}:event-source-mapping:{uuid}"),)
    resource = op.params.get("Resource") or op.params.get("ARN")
    if isinstance(resource, str):
        return (Check(action, resource),)
    return (Check(action, "*"),)


# --- S3 -----------------------------------------------------------------------------------------

# Operation -> IAM action where they differ (Amazon S3 User Guide, "Required permissions for
# Amazon S3 API operations").
S3_ACTIONS = {
    "CompleteMultipartUpload": "PutObject",
    "CopyObject": "PutObject",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "UploadPartCopy": "PutObject",
    "HeadObject": "GetObject",
    "SelectObjectContent": "GetObject",
    "HeadBucket": "ListBucket",
    "ListObjects": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "ListBuckets": "ListAllMyBuckets",
    "ListDirectoryBuckets": "ListAllMyDirectoryBuckets",
    "ListObjectVersions": "ListBucketVersions",
    "ListMultipartUploads": "ListBucketMultipartUploads",
    "ListParts": "ListMultipartUploadParts",
    "DeleteObjects": "DeleteObject",
    "GetBucketAccelerateConfiguration": "GetAccelerateConfiguration",
    "PutBucketAccelerateConfiguration": "PutAccelerateConfiguration",
    "GetBucketAnalyticsConfiguration": "GetAnalyticsConfiguration",
    "ListBucketAnalyticsConfigurations": "GetAnalyticsConfiguration",
    "PutBucketAnalyticsConfiguration": "PutAnalyticsConfiguration",
    "DeleteBucketAnalyticsConfiguration": "PutAnalyticsConfiguration",
    "GetBucketCors": "GetBucketCORS",
    "PutBucketCors": "PutBucketCORS",
    "DeleteBucketCors": "PutBucketCORS",
    "GetBucketEncryption": "GetEncryptionConfiguration",
    "PutBucketEncryption": "PutEncryptionConfiguration",
    "DeleteBucketEncryption": "PutEncryptionConfiguration",
    "GetBucketIntelligentTieringConfiguration": "GetIntelligentTieringConfiguration",
    "ListBucketIntelligentTieringConfigurations": "GetIntelligentTieringConfiguration",
    "PutBucketIntelligentTieringConfiguration": "PutIntelligentTieringConfiguration",
    "DeleteBucketIntelligentTieringConfiguration": "PutIntelligentTieringConfiguration",
    "GetBucketInventoryConfiguration": "GetInventoryConfiguration",
    "ListBucketInventoryConfigurations": "GetInventoryConfiguration",
    "PutBucketInventoryConfiguration": "PutInventoryConfiguration",
    "DeleteBucketInventoryConfiguration": "PutInventoryConfiguration",
    "GetBucketLifecycle": "GetLifecycleConfiguration",
    "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
    "PutBucketLifecycle": "PutLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "PutLifecycleConfiguration",
    "GetBucketMetricsConfiguration": "GetMetricsConfiguration",
    "ListBucketMetricsConfigurations": "GetMetricsConfiguration",
    "PutBucketMetricsConfiguration": "PutMetricsConfiguration",
    "DeleteBucketMetricsConfiguration": "PutMetricsConfiguration",
    "GetBucketNotification": "GetBucketNotification",
    "GetBucketNotificationConfiguration": "GetBucketNotification",
    "PutBucketNotification": "PutBucketNotification",
    "PutBucketNotificationConfiguration": "PutBucketNotification",
    "DeleteBucketOwnershipControls": "PutBucketOwnershipControls",
    "GetBucketReplication": "GetReplicationConfiguration",
    "PutBucketReplication": "PutReplicationConfiguration",
    "DeleteBucketReplication": "PutReplicationConfiguration",
    "DeleteBucketTagging": "PutBucketTagging",
    "GetObjectLockConfiguration": "GetBucketObjectLockConfiguration",
    "PutObjectLockConfiguration": "PutBucketObjectLockConfiguration",
    "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "PutBucketPublicAccessBlock",
}
# With ?versionId=…, object operations need the …Version action.
S3_VERSIONED_ACTIONS = {
    "GetObject": "GetObjectVersion",
    "DeleteObject": "DeleteObjectVersion",
    "GetObjectAcl": "GetObjectVersionAcl",
    "PutObjectAcl": "PutObjectVersionAcl",
    "GetObjectTagging": "GetObjectVersionTagging",
    "PutObjectTagging": "PutObjectVersionTagging",
    "DeleteObjectTagging": "DeleteObjectVersionTagging",
}


def s3_action(operation: str, versioned: bool = False) -> str:
    """The IAM action of an S3 API operation (e.g. ListObjectsV2 -> s3:ListBucket)."""
    action = S3_ACTIONS.get(operation, operation)
    if versioned:
        action = S3_VERSIONED_ACTIONS.get(action, action)
    return f"s3:{action}"


def _s3_keys_to_delete(body: bytes) -> list[str]:
    return [unescape_xml(k) for k in re.findall(rb"<Key>(.*?)</Key>", body, re.DOTALL)]


def unescape_xml(raw: bytes) -> str:
    from xml.sax.saxutils import unescape

    return unescape(raw.decode("utf-8", errors="replace"), {"&quot;": '"', "&apos;": "'"})


def _s3(op: Operation) -> tuple[Check, ...] | None:
    p = op.params
    if p.get("__s3control__"):
        return (Check(f"s3:{S3_CONTROL_ACTIONS.get(op.name, op.name)}", "*"),)
    bucket = p.get("Bucket")
    key = p.get("Key")
    query = p.get("__query__") or {}
    action = s3_action(op.name, versioned="versionId" in query)
    if not isinstance(bucket, str):
        return (Check(action, "*"),)
    if op.name == "DeleteObjects":
        keys = p.get("__delete_keys__") or []
        return tuple(Check(action, f"arn:aws:s3:::{bucket}/{k}") for k in keys) or (
            Check(action, f"arn:aws:s3:::{bucket}/*"),
        )
    if isinstance(key, str):
        checks = [Check(action, f"arn:aws:s3:::{bucket}/{key}")]
        source = p.get("__copy_source__")
        if isinstance(source, str) and op.name in ("CopyObject", "UploadPartCopy"):
            source_key = unquote(source.lstrip("/")).split("?versionId=")[0]
            checks.append(Check("s3:GetObject", f"arn:aws:s3:::{source_key}"))
        return tuple(checks)
    return (Check(action, f"arn:aws:s3:::{bucket}"),)


# --- IAM, STS, CloudFormation ---------------------------------------------------------------------


def _iam(op: Operation) -> tuple[Check, ...] | None:
    p = op.params
    action = f"iam:{op.name}"
    acct = op.account
    for param, kind in (
        ("RoleName", "role"),
        ("UserName", "user"),
        ("GroupName", "group"),
        ("InstanceProfileName", "instance-profile"),
    ):
        name = p.get(param)
        if isinstance(name, str) and name:
            path = p.get("Path", "/") if op.name.startswith("Create") else "/"
            return (Check(action, f"arn:aws:iam::{acct}:{kind}{path or '/'}{name}"),)
    if isinstance(p.get("PolicyArn"), str):
        return (Check(action, p["PolicyArn"]),)
    if op.name == "CreatePolicy" and isinstance(p.get("PolicyName"), str):
        return (Check(action, f"arn:aws:iam::{acct}:policy{p.get('Path') or '/'}{p['PolicyName']}"),)
    if op.name in ("SimulatePrincipalPolicy", "GetContextKeysForPrincipalPolicy"):
        source = p.get("PolicySourceArn")
        return (Check(action, source if isinstance(source, str) else "*"),)
    return None


def _sts(op: Operation) -> tuple[Check, ...] | None:
    role = op.params.get("RoleArn")
    if isinstance(role, str):
        return (Check(f"sts:{op.name}", role),)
    return None


def _cloudformation(op: Operation) -> tuple[Check, ...] | None:
    stack = op.params.get("StackName")
    if isinstance(stack, str) and stack:
        arn = stack if stack.startswith("arn:") else f"arn:aws:cloudformation:{op.region}:{op.account}:stack/{stack}/*"
        return (Check(f"cloudformation:{op.name}", arn), *_pass_role(op, "RoleARN"))
    return None


# --- S3 Control -----------------------------------------------------------------------------------

# S3 Control requests are signed with the signing name s3; their paths start with the API version.
S3_CONTROL_PATH = "/v20180820/"
# Amazon S3 API Reference, PutPublicAccessBlock (S3 Control): "users must have the
# s3:PutAccountPublicAccessBlock permission"; Service Authorization Reference, Amazon S3 actions:
# GetAccountPublicAccessBlock for GetPublicAccessBlock, PutAccountPublicAccessBlock for
# DeletePublicAccessBlock (account level). Not the bucket-level actions of the same operation names.
S3_CONTROL_ACTIONS = {
    "GetPublicAccessBlock": "GetAccountPublicAccessBlock",
    "PutPublicAccessBlock": "PutAccountPublicAccessBlock",
    "DeletePublicAccessBlock": "PutAccountPublicAccessBlock",
}


_CHECKS: dict[str, Callable[[Operation], tuple[Check, ...] | None]] = {
    "dynamodb": _dynamodb,
    "sqs": _sqs,
    "logs": _logs,
    "lambda": _lambda,
    "s3": _s3,
    "iam": _iam,
    "sts": _sts,
    "cloudformation": _cloudformation,
}
