"""Authorization and credential errors in each service's own protocol, so botocore parses AWS's code."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Literal
from xml.sax.saxutils import escape

CredentialProblem = Literal[
    "unknown-key", "invalid-token", "expired", "missing", "signature", "skewed", "unsupported-signature"
]

# Services that speak JSON but keep their old query-protocol error codes (x-amzn-query-error).
QUERY_COMPATIBLE = frozenset({"sqs"})


@dataclass(frozen=True)
class ErrorResponse:
    """A complete HTTP answer."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""

    @property
    def status_line(self) -> str:
        reasons = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests", 503: "Slow Down"}
        return f"{self.status} {reasons.get(self.status, 'Error')}"


@dataclass(frozen=True)
class _Shape:
    status: int
    code: str
    message: str
    query_code: str | None = None  # for query-compatible JSON services
    s3_extra: tuple[tuple[str, str], ...] = field(default=())


def _request_id() -> str:
    return str(uuid.uuid4())


def _json(shape: _Shape, service: str, protocol: str) -> ErrorResponse:
    request_id = _request_id()
    headers = [("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", shape.code)]
    if protocol == "json":
        body = {"__type": f"com.amazon.coral.service#{shape.code}", "Message": shape.message}
        headers.append(("Content-Type", "application/x-amz-json-1.0"))
        if service in QUERY_COMPATIBLE and shape.query_code:
            headers.append(("x-amzn-query-error", f"{shape.query_code};Sender"))
    else:  # rest-json (Lambda): the code travels in x-amzn-ErrorType
        body = {"Type": "User", "Message": shape.message}
        headers.append(("Content-Type", "application/json"))
    payload = json.dumps(body).encode()
    headers.append(("Content-Length", str(len(payload))))
    return ErrorResponse(shape.status, tuple(headers), payload)


def _query_xml(shape: _Shape) -> ErrorResponse:
    request_id = _request_id()
    payload = (
        "<ErrorResponse>"
        f"<Error><Type>Sender</Type><Code>{escape(shape.code)}</Code><Message>{escape(shape.message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()
    return ErrorResponse(
        shape.status,
        (
            ("Content-Type", "text/xml"),
            ("x-amzn-RequestId", request_id),
            ("Content-Length", str(len(payload))),
        ),
        payload,
    )


def _s3_xml(shape: _Shape, method: str) -> ErrorResponse:
    request_id = uuid.uuid4().hex[:16].upper()
    extra = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in shape.s3_extra)
    payload = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(shape.code)}</Code><Message>{escape(shape.message)}</Message>{extra}"
        f"<RequestId>{request_id}</RequestId><HostId>{request_id}</HostId></Error>"
    ).encode()
    if method == "HEAD":  # HEAD answers carry no body; botocore then reports the status code
        payload = b""
    return ErrorResponse(
        shape.status,
        (
            ("Content-Type", "application/xml"),
            ("x-amz-request-id", request_id),
            ("Content-Length", str(len(payload))),
        ),
        payload,
    )


def _render(shape: _Shape, service: str, protocol: str, method: str) -> ErrorResponse:
    if service == "s3":
        return _s3_xml(shape, method)
    if protocol in ("json", "rest-json"):
        return _json(shape, service, protocol)
    return _query_xml(shape)


def service_error(service: str, protocol: str, method: str, *, status: int, code: str, message: str) -> ErrorResponse:
    """Any AWS error `code` with `status`, in the service's protocol (e.g. NotImplemented 501)."""
    query_code = code if service in QUERY_COMPATIBLE else None
    return _render(_Shape(status, code, message, query_code), service, protocol, method)


def access_denied(service: str, protocol: str, method: str, message: str) -> ErrorResponse:
    """AWS's AccessDenied(Exception) answer for the service."""
    if service == "s3" or protocol == "query":
        return _render(_Shape(403, "AccessDenied", message), service, protocol, method)
    if service in QUERY_COMPATIBLE:
        return _render(_Shape(403, "AccessDeniedException", message, "AccessDenied"), service, protocol, method)
    status = 403 if protocol == "rest-json" else 400
    return _render(_Shape(status, "AccessDeniedException", message), service, protocol, method)


def throttling(service: str, protocol: str, method: str) -> ErrorResponse:
    """AWS's throttling answer for the service (botocore retries each of these codes as throttling)."""
    if service == "s3":
        shape = _Shape(503, "SlowDown", "Please reduce your request rate.")
    elif protocol == "rest-json":  # Lambda
        shape = _Shape(429, "TooManyRequestsException", "Rate exceeded")
    elif service in QUERY_COMPATIBLE:
        shape = _Shape(400, "RequestThrottled", "Rate exceeded", "RequestThrottled")
    elif protocol == "json":
        shape = _Shape(400, "ThrottlingException", "Rate exceeded")
    else:
        shape = _Shape(400, "Throttling", "Rate exceeded")
    return _render(shape, service, protocol, method)


_INVALID = "The security token included in the request is invalid."
_EXPIRED = "The security token included in the request is expired"
_MISSING = "Request is missing Authentication Token"
_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
_SKEWED = "Signature expired: the request time is more than 15 minutes away from the server's time."


def credential_error(
    service: str, protocol: str, method: str, problem: CredentialProblem, access_key: str = ""
) -> ErrorResponse:
    """AWS's answer when the credential itself is refused (unknown key, bad or expired token)."""
    if service == "s3":
        shapes = {
            "unknown-key": _Shape(
                403,
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
                s3_extra=(("AWSAccessKeyId", access_key),),
            ),
            "invalid-token": _Shape(400, "InvalidToken", "The provided token is malformed or otherwise invalid."),
            "expired": _Shape(400, "ExpiredToken", "The provided token has expired."),
            "missing": _Shape(403, "AccessDenied", "Access Denied"),
            "signature": _Shape(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. "
                "Check your key and signing method.",
                s3_extra=(("AWSAccessKeyId", access_key),),
            ),
            "skewed": _Shape(
                403,
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
            ),
            "unsupported-signature": _Shape(
                400,
                "InvalidRequest",
                "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
            ),
        }
        return _render(shapes[problem], service, protocol, method)
    if protocol == "query":
        query_shapes = {
            "unknown-key": _Shape(403, "InvalidClientTokenId", _INVALID),
            "invalid-token": _Shape(403, "InvalidClientTokenId", _INVALID),
            "expired": _Shape(403, "ExpiredToken", _EXPIRED),
            "missing": _Shape(403, "MissingAuthenticationToken", _MISSING),
            "signature": _Shape(403, "SignatureDoesNotMatch", _SIGNATURE),
            "skewed": _Shape(403, "SignatureDoesNotMatch", _SKEWED),
            "unsupported-signature": _Shape(403, "SignatureDoesNotMatch", _SIGNATURE),
        }
        return _render(query_shapes[problem], service, protocol, method)
    status = 403 if protocol == "rest-json" or service in QUERY_COMPATIBLE else 400
    json_shapes = {
        "unknown-key": _Shape(status, "UnrecognizedClientException", _INVALID, "InvalidClientTokenId"),
        "invalid-token": _Shape(status, "UnrecognizedClientException", _INVALID, "InvalidClientTokenId"),
        "expired": _Shape(status, "ExpiredTokenException", _EXPIRED, "ExpiredToken"),
        "missing": _Shape(status, "MissingAuthenticationTokenException", _MISSING, "MissingAuthenticationToken"),
        "signature": _Shape(status, "InvalidSignatureException", _SIGNATURE, "SignatureDoesNotMatch"),
        "skewed": _Shape(status, "InvalidSignatureException", _SKEWED, "SignatureDoesNotMatch"),
        "unsupported-signature": _Shape(status, "InvalidSignatureException", _SIGNATURE, "SignatureDoesNotMatch"),
    }
    return _render(json_shapes[problem], service, protocol, method)
