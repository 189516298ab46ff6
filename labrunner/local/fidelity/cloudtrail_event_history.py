"""CloudTrail event history of IAM's and Lambda's management events, with `cloudtrail:LookupEvents`
(moto lacks both).

On AWS every account has 90 days of management events in CloudTrail's event history, free and
without a trail; IAM, a global service, records its events in us-east-1. Lab 3 reads it (a read:
LookupEvents) to tell when the function's role last changed. moto answers LookupEvents with an
error and records nothing, so this module:

* records every IAM call — reads (Get*, List*, Simulate*, Generate*) as well as writes — and every
  Lambda management call (all but Invoke, a data event), as the authenticated caller made it,
  with the record fields AWS writes (eventName, eventTime, eventSource, userIdentity,
  requestParameters with AWS's lower-camel names, readOnly, errorCode for refused calls);
* shows an event in LookupEvents only `cloudtrail_delay_s` (faults knob CLOUDTRAIL_DELAY) after
  the call, as AWS delivers events minutes late;
* answers LookupEvents in the event's region (IAM's in us-east-1) with one lookup attribute
  (EventName, EventSource, ResourceName, ResourceType, Username, EventId, ReadOnly, AccessKeyId),
  StartTime/EndTime, MaxResults (1 to 50, else InvalidMaxResultsException) and NextToken, newest first;
* refuses a third LookupEvents request within one second for an account and region with
  `ThrottlingException` (botocore retries it as throttling).

What AWS documents, and this module reproduces:
- CloudTrail API Reference, "LookupEvents"
  (https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html): "Lookup
  supports the following attributes for management events: AWS access key, Event ID, Event name,
  Event source, Read only, Resource name, Resource type, User name"; "The default number of results
  returned is 50, with a maximum of 50 possible"; "The rate of lookup requests is limited to two per
  second, per account, per Region. If this limit is exceeded, a throttling error occurs"; errors
  InvalidMaxResultsException ("This exception is thrown if the limit specified is not valid", HTTP
  400) and InvalidLookupAttributesException. MaxResults: "Possible values are 1 through 50"
  (botocore's model checks only the minimum, so a larger value reaches the service).
- CloudTrail User Guide, "Viewing events with CloudTrail Event history"
  (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/view-cloudtrail-events.html): the
  Event history shows the past 90 days of management events, read-only as well as write
  (filterable by the `Read only` attribute, the API's `ReadOnly` with "true"/"false").
- CloudTrail User Guide, "How CloudTrail works" / FAQ: "CloudTrail typically delivers events within
  an average of about 5 minutes of an API call. This time is not guaranteed." (the `aws` profile's
  cloudtrail_delay_s, labrunner/local/faults/profile.py).
- CloudTrail User Guide, "Working with CloudTrail data events": Lambda `Invoke` is a data event,
  not in the event history; every other Lambda API call is a management event.

moto's CloudFormation calls IAM in-process, past this middleware: the stack's role changes are
recorded by `record_service_call` (from cfn_iam_role), with invokedBy cloudformation.amazonaws.com.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from labrunner.local.faults import CLOUDTRAIL_DELAY, FAULTS
from labrunner.local.hooks import ServerHooks, WSGIApp
from labrunner.local.iam import actions, credentials, errors

ORDER = 30  # inside iam_enforcement (the caller is known and allowed) and the simulator
IAM_EVENTS_REGION = "us-east-1"
LOOKUP_TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
MAX_EVENTS_PER_ACCOUNT = 20_000
LOOKUPS_PER_SECOND = 2  # per account and region (API Reference: LookupEvents)
_READ_PREFIXES = ("Get", "List", "Simulate", "Generate", "Describe")
_LAMBDA_DATA_EVENTS = frozenset({"Invoke", "InvokeAsync", "InvokeWithResponseStream"})
# AWS names a resource of an event by these request parameters.
_RESOURCE_PARAMS = {
    "RoleName": "AWS::IAM::Role",
    "UserName": "AWS::IAM::User",
    "GroupName": "AWS::IAM::Group",
    "PolicyArn": "AWS::IAM::Policy",
    "InstanceProfileName": "AWS::IAM::InstanceProfile",
    "FunctionName": "AWS::Lambda::Function",
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
    read_only: bool = False
    source: str = "iam.amazonaws.com"
    region: str = IAM_EVENTS_REGION
    visible_at: float = 0.0  # epoch seconds from which LookupEvents shows it (cloudtrail_delay_s)

    def attribute(self, key: str) -> list[str]:
        if key == "EventId":
            return [self.event_id]
        if key == "EventName":
            return [self.name]
        if key == "ReadOnly":
            return [self._read_only_text]
        if key == "Username":
            return [self.username]
        if key == "ResourceType":
            return [t for t, _ in self.resources]
        if key == "ResourceName":
            return [n for _, n in self.resources]
        if key == "EventSource":
            return [self.source]
        if key == "AccessKeyId":
            return [self.access_key]
        return []

    @property
    def _read_only_text(self) -> str:
        return "true" if self.read_only else "false"

    def as_json(self) -> dict[str, Any]:
        return {
            "EventId": self.event_id,
            "EventName": self.name,
            "ReadOnly": self._read_only_text,
            "AccessKeyId": self.access_key,
            "EventTime": self.time.timestamp(),
            "EventSource": self.source,
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


class LookupRate:
    """At most LOOKUPS_PER_SECOND LookupEvents requests in any second, per account and region."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._recent: dict[tuple[str, str], deque[float]] = {}

    def allow(self, account: str, region: str) -> bool:
        now = time.monotonic()
        with self._lock:
            recent = self._recent.setdefault((account, region), deque())
            while recent and now - recent[0] >= 1.0:
                recent.popleft()
            if len(recent) >= LOOKUPS_PER_SECOND:
                return False
            recent.append(now)
            return True

    def clear(self) -> None:
        with self._lock:
            self._recent.clear()


RATE = LookupRate()


def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _identity(owner: credentials.KeyOwner, access_key: str) -> tuple[dict[str, Any], str]:
    identity_type = {"user": "IAMUser", "assumed-role": "AssumedRole", "root": "Root"}.get(owner.kind, "Unknown")
    identity: dict[str, Any] = {
        "type": identity_type,
        "arn": owner.arn,
        "accountId": owner.account,
        "accessKeyId": access_key,
        **({"userName": owner.user_name} if owner.user_name else {}),
    }
    return identity, owner.user_name or owner.arn.rsplit("/", 1)[-1]


def _event(
    name: str,
    params: dict[str, Any],
    identity: dict[str, Any],
    *,
    account: str,
    username: str,
    access_key: str,
    error: str | None,
    read_only: bool = False,
    source: str = "iam.amazonaws.com",
    region: str = IAM_EVENTS_REGION,
) -> Event:
    called = datetime.now(UTC)
    now = called.replace(microsecond=0)  # AWS's eventTime has whole seconds
    event_id = str(uuid.uuid4())
    request = {
        _lower_camel(k): v
        for k, v in params.items()
        if k not in ("Action", "Version") and "." not in k and not k.startswith("__")
    }
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": identity.get("invokedBy", "127.0.0.1"),
        "requestParameters": request,
        "responseElements": None,
        "requestID": str(uuid.uuid4()),
        "eventID": event_id,
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }
    if error:
        record["errorCode"] = error
    resources = tuple(
        (kind, str(params[key])) for key, kind in _RESOURCE_PARAMS.items() if isinstance(params.get(key), str)
    )
    visible_at = called.timestamp() + FAULTS.value(CLOUDTRAIL_DELAY)
    return Event(
        event_id, name, now, username, access_key, resources, json.dumps(record), read_only, source, region, visible_at
    )


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


def _read_body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return bytes(body)


def _error_code(body: bytes) -> str:
    start = body.find(b"<Code>")
    end = body.find(b"</Code>", start)
    if start >= 0 and end > start:
        return body[start + 6 : end].decode()
    try:
        answer = json.loads(body or b"{}")
    except ValueError:
        return "UnknownError"
    code = str(answer.get("__type") or answer.get("Type") or "UnknownError") if isinstance(answer, dict) else ""
    return code.rsplit("#", 1)[-1] or "UnknownError"


def _lookup(request: dict[str, Any], account: str, region: str) -> tuple[int, dict[str, Any]]:
    attributes = request.get("LookupAttributes") or []
    if len(attributes) > 1:
        return 400, {
            "__type": "InvalidLookupAttributesException",
            "message": "You can only specify one lookup attribute.",
        }
    size = int(request.get("MaxResults") or 50)
    if not 1 <= size <= 50:
        return 400, {
            "__type": "InvalidMaxResultsException",
            "message": "This exception is thrown if the limit specified is not valid.",
        }
    now = time.time()
    events = [e for e in HISTORY.of(account)[::-1] if e.region == region and e.visible_at <= now]  # newest first
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
    offset = int(base64.b64decode(request["NextToken"]).decode()) if request.get("NextToken") else 0
    page = events[offset : offset + size]
    answer: dict[str, Any] = {"Events": [e.as_json() for e in page]}
    if offset + size < len(events):
        answer["NextToken"] = base64.b64encode(str(offset + size).encode()).decode()
    return 200, answer


class EventHistory:
    """Records IAM and Lambda management events; answers LookupEvents."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET") == LOOKUP_TARGET:
            return self.lookup(environ, start_response)
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        if "/iam/aws4_request" in authorization and environ.get("REQUEST_METHOD") == "POST":
            params: dict[str, Any] = _read_form(environ)
            name, source, region = str(params.get("Action", "")), "iam.amazonaws.com", IAM_EVENTS_REGION
        elif "/lambda/aws4_request" in authorization:
            credential = credentials.request_credential(environ)
            region = (credential.region if credential else None) or IAM_EVENTS_REGION
            operation = actions.identify("lambda", environ, _read_body(environ), region, "")
            name, params, source = operation.name, dict(operation.params), "lambda.amazonaws.com"
            if name in _LAMBDA_DATA_EVENTS:
                name = ""
        else:
            return self.app(environ, start_response)
        if not name:
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
        identity, username = _identity(owner, credential.access_key)
        read_only = name.startswith(_READ_PREFIXES)
        event = _event(
            name,
            params,
            identity,
            account=owner.account,
            username=username,
            access_key=credential.access_key,
            error=error,
            read_only=read_only,
            source=source,
            region=region,
        )
        HISTORY.add(owner.account, event)
        return [body]

    def lookup(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        request = json.loads(raw or b"{}")
        credential = credentials.request_credential(environ)
        account = environ.get("HTTP_X_MOTO_ACCOUNT_ID", "")
        region = (credential.region if credential else None) or IAM_EVENTS_REGION
        FAULTS.count("cloudtrail_lookups")
        if not RATE.allow(account, region):
            FAULTS.count("cloudtrail_lookups_throttled")
            answer = errors.throttling("cloudtrail", "json", "POST")
            start_response(answer.status_line, list(answer.headers))
            return [answer.body]
        code, found = _lookup(request, account, region)
        payload = json.dumps(found).encode()
        status = "200 OK" if code == 200 else "400 Bad Request"
        start_response(status, [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(payload)))])
        return [payload]


def install(hooks: ServerHooks) -> None:
    hooks.add_middleware(EventHistory, order=ORDER, name="cloudtrail-event-history")
    hooks.on_reset(HISTORY.clear)
    hooks.on_reset(RATE.clear)
