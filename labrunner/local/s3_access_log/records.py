"""Server access log records in AWS's format (LogFormat in the S3 User Guide).

One line per request, space-separated fields, `-` for an empty field:

    bucket-owner bucket [time] remote-ip requester request-id operation key "request-uri"
    status error-code bytes-sent object-size total-time turn-around-time "referer"
    "user-agent" version-id host-id signature-version cipher-suite auth-type host-header
    tls-version access-point-arn acl-required source-region

Operations are named as AWS names them: REST.<METHOD>.<resource type>, e.g. REST.PUT.OBJECT,
REST.GET.BUCKET (a listing), REST.GET.LOGGING_STATUS, REST.COPY.OBJECT, BATCH.DELETE.OBJECT.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

# Sub-resource query parameter -> resource type of the operation name (bucket requests).
BUCKET_SUBRESOURCES: dict[str, str] = {
    "accelerate": "ACCELERATE",
    "acl": "ACL",
    "analytics": "ANALYTICS",
    "cors": "CORS",
    "encryption": "ENCRYPTION",
    "intelligent-tiering": "INTELLIGENT_TIERING",
    "inventory": "INVENTORY",
    "lifecycle": "LIFECYCLE",
    "location": "LOCATION",
    "logging": "LOGGING_STATUS",
    "metrics": "METRICS",
    "notification": "NOTIFICATION",
    "object-lock": "OBJECT_LOCK_CONFIGURATION",
    "ownershipControls": "OWNERSHIP_CONTROLS",
    "policy": "BUCKETPOLICY",
    "policyStatus": "POLICY_STATUS",
    "publicAccessBlock": "PUBLIC_ACCESS_BLOCK",
    "replication": "REPLICATION",
    "requestPayment": "REQUEST_PAYMENT",
    "tagging": "TAGGING",
    "uploads": "UPLOADS",
    "versioning": "VERSIONING",
    "versions": "BUCKETVERSIONS",
    "website": "WEBSITE",
}

# Sub-resource query parameter -> resource type (object requests).
OBJECT_SUBRESOURCES: dict[str, str] = {
    "acl": "ACL",
    "attributes": "OBJECT_ATTRIBUTES",
    "legal-hold": "LEGAL_HOLD",
    "restore": "RESTORE",
    "retention": "RETENTION",
    "select": "SELECT",
    "tagging": "OBJECT_TAGGING",
    "torrent": "TORRENT",
}


def operation_name(method: str, has_key: bool, query: Iterable[str], headers: Mapping[str, str]) -> str:
    """AWS's operation field for a REST request."""
    method = method.upper()
    params = set(query)
    copy_source = bool(headers.get("x-amz-copy-source"))
    if not has_key:
        if method == "POST" and "delete" in params:
            return "REST.POST.MULTI_OBJECT_DELETE"
        for param, resource in BUCKET_SUBRESOURCES.items():
            if param in params:
                return f"REST.{method}.{resource}"
        return "REST.POST.OBJECT" if method == "POST" else f"REST.{method}.BUCKET"
    if "uploadId" in params:
        if method == "PUT":
            return "REST.COPY.PART" if copy_source else "REST.PUT.PART"
        if method == "POST":
            return "REST.POST.UPLOAD"  # CompleteMultipartUpload
        return f"REST.{method}.UPLOAD"  # ListParts, AbortMultipartUpload
    if method == "POST" and "uploads" in params:
        return "REST.POST.UPLOADS"  # CreateMultipartUpload
    for param, resource in OBJECT_SUBRESOURCES.items():
        if param in params:
            return f"REST.{method}.{resource}"
    if method == "PUT" and copy_source:
        return "REST.COPY.OBJECT"
    return f"REST.{method}.OBJECT"


def encode_key(key: str) -> str:
    """The key field: URL-encoded, `/` kept."""
    return urllib.parse.quote(key, safe="/") if key else "-"


def log_time(moment: datetime) -> str:
    return moment.strftime("[%d/%b/%Y:%H:%M:%S +0000]")


def quoted(value: str) -> str:
    return '"' + (value or "-").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class AccessLogRecord:
    """One request to a logged bucket, as AWS writes it."""

    bucket_owner: str
    bucket: str
    time: datetime
    remote_ip: str
    requester: str
    request_id: str
    operation: str
    key: str  # decoded; "" when the operation takes no key
    request_uri: str  # e.g. "PUT /bucket/key HTTP/1.1"
    http_status: int
    error_code: str = ""
    bytes_sent: int = 0
    object_size: int | None = None
    total_time_ms: int | None = None
    turn_around_time_ms: int | None = None
    referer: str = ""
    user_agent: str = ""
    version_id: str = ""
    host_id: str = ""
    signature_version: str = ""
    cipher_suite: str = ""
    authentication_type: str = ""
    host_header: str = ""
    tls_version: str = ""
    access_point_arn: str = ""
    acl_required: str = ""
    source_region: str = ""

    def line(self) -> str:
        def field(value: object) -> str:
            text = "" if value is None else str(value)
            return text if text else "-"

        return " ".join(
            [
                field(self.bucket_owner),
                field(self.bucket),
                log_time(self.time),
                field(self.remote_ip),
                field(self.requester),
                field(self.request_id),
                field(self.operation),
                encode_key(self.key),
                quoted(self.request_uri),
                str(self.http_status),
                field(self.error_code),
                field(self.bytes_sent or ""),
                field(self.object_size),
                field(self.total_time_ms),
                field(self.turn_around_time_ms),
                quoted(self.referer),
                quoted(self.user_agent),
                field(self.version_id),
                field(self.host_id),
                field(self.signature_version),
                field(self.cipher_suite),
                field(self.authentication_type),
                field(self.host_header),
                field(self.tls_version),
                field(self.access_point_arn),
                field(self.acl_required),
                field(self.source_region),
            ]
        )
