"""Turning one S3 request handled by moto into access log records."""

from __future__ import annotations

import base64
import re
import secrets
import time
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from labrunner.local.s3_access_log.delivery import LogDestination
from labrunner.local.s3_access_log.records import AccessLogRecord, operation_name

_V4_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
_ERROR_CODE = re.compile(rb"<Code>([^<]+)</Code>")


@dataclass(frozen=True)
class PendingRequest:
    """What is known when a request to a logged bucket arrives."""

    destination: LogDestination
    bucket_owner: str
    received_at: datetime
    started: float  # time.perf_counter() at arrival


def destination_of(bucket: Any) -> LogDestination | None:
    """The logging configuration of a moto bucket, or None when it does not log."""
    config = bucket.logging or {}
    target = config.get("TargetBucket")
    if not target:
        return None
    key_format = config.get("TargetObjectKeyFormat")
    return LogDestination(
        account_id=bucket.account_id,
        partition=bucket.partition,
        target_bucket=target,
        target_prefix=config.get("TargetPrefix") or "",
        partitioned=isinstance(key_format, dict) and "PartitionedPrefix" in key_format,
        source_bucket=bucket.name,
        source_region=bucket.region_name,
    )


def access_key_of(headers: Mapping[str, str], query: Mapping[str, list[str]]) -> str | None:
    auth = headers.get("Authorization") or headers.get("authorization") or ""
    found = _V4_CREDENTIAL.search(auth)
    if found:
        return found.group(1)
    if auth.startswith("AWS "):
        return auth[4:].split(":", 1)[0]
    credential = (query.get("X-Amz-Credential") or [""])[0]
    if credential:
        return credential.split("/", 1)[0]
    legacy = query.get("AWSAccessKeyId") or [""]
    return legacy[0] or None


def requester_of(access_key: str | None, canonical_owner: str) -> str:
    """The requester field: the IAM user or assumed-role ARN; the canonical id for the account's
    own root-like keys; `-` when unauthenticated."""
    if not access_key:
        return "-"
    from moto.iam.models import get_account_id_from, iam_backends
    from moto.sts.models import sts_backends

    account_id = get_account_id_from(access_key)
    for partition, iam in iam_backends[account_id].items():
        for user in list(iam.users.values()):
            if any(key.access_key_id == access_key for key in user.access_keys):
                return f"arn:{partition}:iam::{account_id}:user/{user.name}"
        for assumed in list(sts_backends[account_id][partition].assumed_roles):
            if assumed.access_key_id == access_key:
                role_name = assumed.role_arn.split("/")[-1]
                return f"arn:{partition}:sts::{account_id}:assumed-role/{role_name}/{assumed.session_name}"
    return canonical_owner


def records_for(
    pending: PendingRequest,
    request: Any,
    *,
    full_url: str,
    key: str,
    response: tuple[int, Mapping[str, str], Any],
    request_body: bytes,
) -> list[AccessLogRecord]:
    """The records AWS writes for one request: usually one, more for a multi-object delete."""
    status, response_headers, body = response
    body_bytes = body.encode() if isinstance(body, str) else (body or b"")
    headers = {k: v for k, v in request.headers.items()}
    lower_headers = {k.lower(): v for k, v in headers.items()}
    parsed = urllib.parse.urlparse(full_url)
    query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
    method = request.method.upper()
    response_lower = {k.lower(): v for k, v in dict(response_headers).items()}
    elapsed_ms = max(0, round((time.perf_counter() - pending.started) * 1000))
    environ = getattr(request, "environ", {}) or {}
    uri = (
        environ.get("RAW_URI")
        or environ.get("REQUEST_URI")
        or (parsed.path + (f"?{parsed.query}" if parsed.query else ""))
    )
    error = _ERROR_CODE.search(body_bytes) if status >= 300 else None
    access_key = access_key_of(headers, query)
    presigned = "X-Amz-Signature" in query or "Signature" in query
    auth = lower_headers.get("authorization", "")
    record = AccessLogRecord(
        bucket_owner=pending.bucket_owner,
        bucket=pending.destination.source_bucket,
        time=pending.received_at,
        remote_ip=environ.get("REMOTE_ADDR", "") or getattr(request, "remote_addr", "") or "",
        requester=requester_of(access_key, pending.bucket_owner),
        request_id=response_lower.get("x-amz-request-id") or secrets.token_hex(8).upper(),
        operation=operation_name(method, bool(key), query.keys(), lower_headers),
        key=key,
        request_uri=f"{method} {uri} {environ.get('SERVER_PROTOCOL', 'HTTP/1.1')}",
        http_status=status,
        error_code=error.group(1).decode() if error else "",
        bytes_sent=0 if method == "HEAD" else len(body_bytes),
        object_size=object_size(pending, key),
        total_time_ms=elapsed_ms,
        turn_around_time_ms=elapsed_ms,
        referer=lower_headers.get("referer", ""),
        user_agent=lower_headers.get("user-agent", ""),
        version_id=version_of(response_lower),
        host_id=response_lower.get("x-amz-id-2") or base64.b64encode(secrets.token_bytes(42)).decode(),
        signature_version=(
            "SigV4"
            if auth.startswith("AWS4-") or "X-Amz-Algorithm" in query
            else "SigV2"
            if auth.startswith("AWS ") or "Signature" in query
            else ""
        ),
        authentication_type="AuthHeader" if auth else "QueryString" if presigned else "",
        host_header=lower_headers.get("host", ""),
    )
    records = [record]
    if record.operation == "REST.POST.MULTI_OBJECT_DELETE" and status < 300:
        for deleted in deleted_keys(request_body):
            records.append(
                replace(
                    record,
                    operation="BATCH.DELETE.OBJECT",
                    key=deleted,
                    request_uri="",
                    http_status=204,
                    bytes_sent=0,
                    object_size=None,
                )
            )
    return records


def object_size(pending: PendingRequest, key: str) -> int | None:
    if not key:
        return None
    from moto.s3.models import s3_backends

    destination = pending.destination
    bucket = s3_backends[destination.account_id][destination.partition].buckets.get(destination.source_bucket)
    found = bucket.keys.get(key) if bucket is not None else None
    size = getattr(found, "size", None)
    return size if isinstance(size, int) else None


def version_of(response_headers: Mapping[str, str]) -> str:
    version = response_headers.get("x-amz-version-id", "")
    return "" if version == "null" else version


def deleted_keys(body: bytes) -> list[str]:
    """The keys named in a DeleteObjects request body."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return []
    return [el.text or "" for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Key"]


def copy_source_of(headers: Mapping[str, str]) -> tuple[str, str] | None:
    """(bucket, key) named by x-amz-copy-source, if any."""
    raw = {k.lower(): v for k, v in headers.items()}.get("x-amz-copy-source")
    if not raw:
        return None
    path = urllib.parse.unquote(raw.split("?", 1)[0]).lstrip("/")
    bucket, _, key = path.partition("/")
    return (bucket, key) if bucket and key else None
