"""CloudTrail event history of IAM's management events, with `cloudtrail:LookupEvents` (moto lacks both).

On AWS every account has 90 days of management events in CloudTrail's event history, free and
without a trail; IAM, a global service, records its events in us-east-1. Lab 3 reads it (a read:
LookupEvents) to tell when the function's role last changed. moto answers LookupEvents with an
error and records nothing, so this module:

* records every IAM call that is not a read (Get*, List*, Simulate*, …), as the authenticated
  caller made it, with the record fields AWS writes (eventName, eventTime, eventSource,
  userIdentity, requestParameters with AWS's lower-camel names, errorCode for refused calls);
* answers LookupEvents in us-east-1 (the region AWS keeps IAM events in) with one lookup
  attribute (EventName, EventSource, ResourceName, ResourceType, Username, EventId, ReadOnly,
  AccessKeyId), StartTime/EndTime, MaxResults (≤ 50) and NextToken, newest first.

moto's CloudFormation calls IAM in-process, past this middleware: the stack's role changes are
recorded by `record_service_call` (from cfn_iam_role), with invokedBy cloudformation.amazonaws.com.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from labrunner.local.hooks import ServerHooks, WSGIApp
from labrunner.local.iam import credentials

ORDER = 30  # inside iam_enforcement (the caller is known and allowed) and the simulator
IAM_EVENTS_REGION = "us-east-1"
LOOKUP_TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
MAX_EVENTS_PER_ACCOUNT = 10_000
_READ_PREFIXES = ("Get", "List", "Simulate", "Generate", "Describe")
# AWS names a resource of an IAM event by these request parameters.
_RESOURCE_PARAMS = {
    "RoleName": "AWS::IAM::Role",
    "UserName": "AWS::IAM::User",
    "GroupName": "AWS::IAM::Group",
    "PolicyArn": "AWS::IAM::Policy",
    "InstanceProfileName": "AWS::IAM::InstanceProfile",
}
_ATTRIBUTE_KEYS = {
    "EventId",
    "EventName",
    "ReadOnly",
    "Username",
    "ResourceType",
    "ResourceName",
    "EventSource",
    "AccessKeyId",
}


@dataclass(frozen=True)
class Event:
    event_id: str
    name: str
    time: datetime
    username: str
    access_key: str
    resources: tuple[tuple[str, str], ...]  # (type, name)
    record: str  # the CloudTrailEvent JSON

    def attribute(self, key: str) -> list[str]:
        if key == "EventId":
            return [self.event_id]
        if key == "EventName":
            return [self.name]
        if key == "ReadOnly":
            return ["false"]
        if key == "Username":
            return [self.username]
        if key == "ResourceType":
            return [t for t, _ in self.resources]
        if key == "ResourceName":
            return [n for _, n in self.resources]
        if key == "EventSource":
            return ["iam.amazonaws.com"]
        if key == "AccessKeyId":
            return [self.access_key]
        return []

    def as_json(self) -> dict[str, Any]:
        return {
            "EventId": self.event_id,
            "EventName": self.name,
            "ReadOnly": "false",
            "AccessKeyId": self.access_key,
            "EventTime": self.time.timestamp(),
            "EventSource": "iam.amazonaws.com",
            "Username": self.username,
            "Resources": [{"ResourceType": t, "ResourceName": n} for t, n in self.resources],
            "CloudTrailEvent": self.record,
        }


class History:
    """Events per account, newest last."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[str, deque[Event]] = {}

    def add(self, account: str, event: Event) -> None:
        with self._lock:
            self._events.setdefault(account, deque(maxlen=MAX_EVENTS_PER_ACCOUNT)).append(event)

    def of(self, account: str) -> list[Event]:
        with self._lock:
            return list(self._events.get(account, ()))

    def clear(self) -> None:
        with self._lock:
            self._events.clear()


HISTORY = History()


def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _record(
    name: str, params: dict[str, str], owner: credentials.KeyOwner, access_key: str, error: str | None
) -> tuple[Event, str]:
    identity_type = {"user": "IAMUser", "assumed-role": "AssumedRole", "root": "Root"}.get(owner.kind, "Unknown")
    identity: dict[str, Any] = {
        "type": identity_type,
        "arn": owner.arn,
        "accountId": owner.account,
        "accessKeyId": access_key,
        **({"userName": owner.user_name} if owner.user_name else {}),
    }
    username = owner.user_name or owner.arn.rsplit("/", 1)[-1]
    event = _event(name, params, identity, account=owner.account, username=username, access_key=access_key, error=error)
    return event, owner.account


def _event(
    name: str,
    params: dict[str, str],
    identity: dict[str, Any],
    *,
    account: str,
    username: str,
    access_key: str,
    error: str | None,
) -> Event:
    now = datetime.now(UTC).replace(microsecond=0)  # AWS's eventTime has whole seconds
    event_id = str(uuid.uuid4())
    request = {_lower_camel(k): v for k, v in params.items() if k not in ("Action", "Version") and "." not in k}
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "iam.amazonaws.com",
        "eventName": name,
        "awsRegion": IAM_EVENTS_REGION,
        "sourceIPAddress": identity.get("invokedBy", "127.0.0.1"),
        "requestParameters": request,
        "responseElements": None,
        "requestID": str(uuid.uuid4()),
        "eventID": event_id,
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }
    if error:
        record["errorCode"] = error
    resources = tuple((kind, params[key]) for key, kind in _RESOURCE_PARAMS.items() if params.get(key))
    return Event(event_id, name, now, username, access_key, resources, json.dumps(record))


def record_service_call(account: str, name: str, params: dict[str, str], service: str) -> None:
    """Record an IAM change a service made in-process (CloudFormation updating a stack's role), as AWS
    records the calls a service makes for you: invokedBy names the service."""
    identity = {"type": "AWSService", "invokedBy": service}
    HISTORY.add(account, _event(name, params, identity, account=account, username=service, access_key="", error=None))


def _read_form(environ: dict[str, Any]) -> dict[str, str]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}


def _error_code(body: bytes) -> str:
    start = body.find(b"<Code>")
    end = body.find(b"</Code>", start)
    return body[start + 6 : end].decode() if start >= 0 and end > start else "UnknownError"


def _lookup(request: dict[str, Any], account: str, region: str) -> tuple[int, dict[str, Any]]:
    if region != IAM_EVENTS_REGION:
        return 200, {"Events": []}  # IAM's events are kept in us-east-1 only
    attributes = request.get("LookupAttributes") or []
    if len(attributes) > 1:
        return 400, {
            "__type": "InvalidLookupAttributesException",
            "message": "You can only specify one lookup attribute.",
        }
    events = HISTORY.of(account)[::-1]  # newest first
    for attribute in attributes:
        key, value = attribute.get("AttributeKey"), attribute.get("AttributeValue")
        if key not in _ATTRIBUTE_KEYS:
            return 400, {"__type": "InvalidLookupAttributesException", "message": f"Invalid attribute key: {key}"}
        events = [e for e in events if value in e.attribute(key)]
    start, end = request.get("StartTime"), request.get("EndTime")
    if start is not None:
        events = [e for e in events if e.time.timestamp() >= float(start)]
    if end is not None:
        events = [e for e in events if e.time.timestamp() <= float(end)]
    size = int(request.get("MaxResults") or 50)
    if not 1 <= size <= 50:
        return 400, {"__type": "InvalidMaxResultsException", "message": "MaxResults must be between 1 and 50."}
    offset = int(base64.b64decode(request["NextToken"]).decode()) if request.get("NextToken") else 0
    page = events[offset : offset + size]
    answer: dict[str, Any] = {"Events": [e.as_json() for e in page]}
    if offset + size < len(events):
        answer["NextToken"] = base64.b64encode(str(offset + size).encode()).decode()
    return 200, answer


class EventHistory:
    """Records IAM writes; answers LookupEvents."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET") == LOOKUP_TARGET:
            return self.lookup(environ, start_response)
        if "/iam/aws4_request" not in environ.get("HTTP_AUTHORIZATION", "") or environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        params = _read_form(environ)
        name = params.get("Action", "")
        if not name or name.startswith(_READ_PREFIXES):
            return self.app(environ, start_response)
        credential = credentials.request_credential(environ)
        owner = credentials.key_owner(credential) if credential else None
        if credential is None or not isinstance(owner, credentials.KeyOwner):
            return self.app(environ, start_response)
        status: list[str] = []

        def capture(status_line: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            status.append(status_line)
            return start_response(status_line, headers, *args)

        body = b"".join(self.app(environ, capture))
        error = None if status and status[0].startswith("2") else _error_code(body)
        event, account = _record(name, params, owner, credential.access_key, error)
        HISTORY.add(account, event)
        return [body]

    def lookup(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        request = json.loads(raw or b"{}")
        credential = credentials.request_credential(environ)
        account = environ.get("HTTP_X_MOTO_ACCOUNT_ID", "")
        region = (credential.region if credential else None) or IAM_EVENTS_REGION
        code, answer = _lookup(request, account, region)
        payload = json.dumps(answer).encode()
        status = "200 OK" if code == 200 else "400 Bad Request"
        start_response(status, [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(payload)))])
        return [payload]


def install(hooks: ServerHooks) -> None:
    hooks.add_middleware(EventHistory, order=ORDER, name="cloudtrail-event-history")
    hooks.on_reset(HISTORY.clear)
