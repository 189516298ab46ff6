"""Verify a request's SigV4 signature against the secret of its access key, as AWS does.

botocore's own signers recompute it (SigV4Auth, S3SigV4Auth, and their query-string variants for
presigned URLs), from the request exactly as it arrived: the raw path (an S3 key with `'`, `+`,
`(`, `*`, `!`, spaces or unicode is signed in its percent-encoded form, which moto's own check got
wrong), the query parameters, the headers the client named in SignedHeaders, and the body's hash
(or S3's X-Amz-Content-SHA256). The signing key derived from a secret, day, region and service
is cached (it is the same for a whole day's requests). AWS's rules, from its documentation:

- "Create a signed AWS API request" and "Elements of an AWS API request signature" (IAM User
  Guide, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html):
  canonical request, string to sign, signing key derived from the secret, date, region and service.
- "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)" (S3 API Reference,
  https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html): presigned URLs
  sign UNSIGNED-PAYLOAD and every query parameter but X-Amz-Signature.
- "Common Errors" (e.g. https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/CommonErrors.html):
  a request more than 15 minutes off the server's clock is refused (RequestExpired; S3:
  RequestTimeTooSkewed, https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).
- "Appendix: Authenticating requests (AWS signature version 2)"
  (https://docs.aws.amazon.com/AmazonS3/latest/API/Appendix-Sigv2.html): S3 still verifies SigV2
  (HMAC-SHA1) header and query-string signatures, which boto3's `generate_presigned_url` makes for
  a custom endpoint; botocore's HmacV1Auth / HmacV1QueryAuth recompute those. Other services: SigV4 only.
"""

from __future__ import annotations

import calendar
import email.utils
import functools
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote, unquote, urlsplit

from botocore.auth import HmacV1Auth, S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW_S = 15 * 60
_SIGV2 = re.compile(r"^AWS ([^:\s]+):(\S+)$")
_FIELD = re.compile(r"(Credential|SignedHeaders|Signature)=([^,\s]*)")
_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")

# Why a signature is refused: it does not match, the request's time is off by more than 15 minutes,
# or it is not SigV4 at all.
Problem = Literal["mismatch", "skewed", "unsupported"]


@dataclass(frozen=True)
class Signature:
    """The signature part of a request: header (Authorization) or query string (presigned URL)."""

    access_key: str
    date: str  # yyyymmdd of the credential scope
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str  # X-Amz-Date
    presigned: bool


@dataclass(frozen=True)
class SignatureV2:
    """An S3 SigV2 signature: `Authorization: AWS key:signature`, or AWSAccessKeyId/Signature/Expires."""

    access_key: str
    signature: str
    date: str  # the Date header, or the presigned URL's Expires
    presigned: bool
    token: str | None


def _query_pairs(query: str) -> list[tuple[str, str]]:
    pairs = []
    for part in query.split("&"):
        if part:
            key, _, value = part.partition("=")
            pairs.append((unquote(key), unquote(value)))
    return pairs


def raw_target(environ: dict[str, Any]) -> tuple[str, str]:
    """(path, query) of the request line as the client sent them, percent-encoding intact."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        if not raw.startswith("/"):  # absolute-form request target
            parts = urlsplit(raw)
            return parts.path or "/", parts.query
        path, _, query = raw.partition("?")
        return path, query
    # No raw target (a WSGI server other than werkzeug's): re-encode the decoded path as botocore does.
    path = environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8", "replace")
    return quote(path, safe="/~"), environ.get("QUERY_STRING", "")


def _v4(
    credential: str, signed_headers: str, signature: str, timestamp: str, *, presigned: bool
) -> Signature | Problem:
    """A SigV4 signature from its fields, the same in the Authorization header and a presigned query."""
    scope = credential.split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not signature:
        return "mismatch"
    access_key, date, region, service, _ = scope
    return Signature(
        access_key, date, region, service, tuple(signed_headers.split(";")), signature, timestamp, presigned
    )


def parse(environ: dict[str, Any]) -> Signature | SignatureV2 | Problem | None:
    """The request's signature; "unsupported" for another scheme; None when it carries none."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if auth:
        v2 = _SIGV2.match(auth)
        if v2:
            token = environ.get("HTTP_X_AMZ_SECURITY_TOKEN")
            return SignatureV2(v2.group(1), v2.group(2), str(environ.get("HTTP_DATE", "")), False, token)
        if not auth.startswith(ALGORITHM + " "):
            return "unsupported"
        fields = dict(_FIELD.findall(auth))
        return _v4(
            fields.get("Credential", ""),
            fields.get("SignedHeaders", ""),
            fields.get("Signature", ""),
            environ.get("HTTP_X_AMZ_DATE", ""),
            presigned=False,
        )
    query = environ.get("QUERY_STRING", "")
    if "X-Amz-Signature=" in query or "X-Amz-Credential=" in query:
        params = dict(_query_pairs(query))
        if params.get("X-Amz-Algorithm") != ALGORITHM:
            return "mismatch"
        return _v4(
            params.get("X-Amz-Credential", ""),
            params.get("X-Amz-SignedHeaders", "host"),
            params.get("X-Amz-Signature", ""),
            params.get("X-Amz-Date", ""),
            presigned=True,
        )
    if "Signature=" in query and "AWSAccessKeyId=" in query:
        params = dict(_query_pairs(query))
        return SignatureV2(
            params.get("AWSAccessKeyId", ""),
            params.get("Signature", ""),
            params.get("Expires", ""),
            True,
            params.get("x-amz-security-token"),
        )
    return None


def _header_value(environ: dict[str, Any], name: str) -> str | None:
    if name == "content-type":
        return environ.get("CONTENT_TYPE")
    if name == "content-length":
        return environ.get("CONTENT_LENGTH")
    value = environ.get("HTTP_" + name.upper().replace("-", "_"))
    return None if value is None else str(value)


@dataclass
class _Request:
    """What botocore's signers read of a request (AWSRequest would re-prepare its body on every read)."""

    method: str
    url: str
    headers: HTTPHeaders
    params: list[tuple[str, str]]
    body: bytes
    context: dict[str, Any] = field(default_factory=dict)


@functools.lru_cache(maxsize=1024)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """AWS4 signing key of a secret for a day, region and service (as botocore derives it), cached."""
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


class _Signed:
    """Mixin: sign exactly the headers the client named, with the signing key cached per key and day."""

    signed: tuple[str, ...] = ()
    credentials: Credentials
    _region_name: str
    _service_name: str

    def signature(self, string_to_sign: str, request: _Request) -> str:
        key = _signing_key(
            self.credentials.secret_key, request.context["timestamp"][0:8], self._region_name, self._service_name
        )
        return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()

    def headers_to_sign(self, request: _Request) -> HTTPHeaders:
        found = HTTPHeaders()
        for name in self.signed:
            value = request.headers.get(name)
            if value is not None:
                found[name] = value
        return found


class _HeaderAuth(_Signed, SigV4Auth):  # type: ignore[misc]  # botocore is untyped
    pass


class _S3HeaderAuth(_Signed, S3SigV4Auth):  # type: ignore[misc]
    pass


class _QueryAuth(_Signed, SigV4QueryAuth):  # type: ignore[misc]
    pass


class _S3QueryAuth(_Signed, S3SigV4QueryAuth):  # type: ignore[misc]
    pass


def expected_signature(
    signature: Signature, environ: dict[str, Any], body: bytes, secret: str, *, path: str, query: str
) -> str:
    """The signature botocore computes for this request with the given secret."""
    headers = HTTPHeaders()
    for name in signature.signed_headers:
        value = _header_value(environ, name)
        if value is not None:
            headers[name] = value
    content_sha = environ.get("HTTP_X_AMZ_CONTENT_SHA256")
    if content_sha is not None and not signature.presigned:
        headers["X-Amz-Content-SHA256"] = content_sha  # S3's payload hash stands for the body
    params = [(k, v) for k, v in _query_pairs(query) if not (signature.presigned and k == "X-Amz-Signature")]
    request = _Request(environ.get("REQUEST_METHOD", "GET"), f"http://signed{path}", headers, params, body)
    request.context["timestamp"] = signature.timestamp
    s3 = signature.service == "s3"
    cls: type[SigV4Auth] = (
        (_S3QueryAuth if s3 else _QueryAuth) if signature.presigned else (_S3HeaderAuth if s3 else _HeaderAuth)
    )
    auth = cls(Credentials(signature.access_key, secret), signature.service, signature.region)
    auth.signed = signature.signed_headers
    canonical = auth.canonical_request(request)
    return str(auth.signature(auth.string_to_sign(request, canonical), request))


class _V2Auth(HmacV1Auth):  # type: ignore[misc]  # botocore is untyped
    """botocore's SigV2 signer, with the request's own Date (or Expires) instead of the clock's."""

    date = ""

    def _get_date(self) -> str:
        return self.date


def expected_signature_v2(
    signature: SignatureV2, environ: dict[str, Any], secret: str, *, path: str, query: str
) -> str:
    """The SigV2 signature botocore computes for this request with the given secret."""
    headers = HTTPHeaders()
    for key, value in environ.items():
        if key.startswith("HTTP_") and key not in ("HTTP_AUTHORIZATION", "HTTP_DATE", "HTTP_X_AMZ_SECURITY_TOKEN"):
            headers[key[5:].replace("_", "-").lower()] = str(value)
    for key in ("CONTENT_TYPE", "CONTENT_MD5"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    if signature.presigned:  # x-amz-* headers travel in the query string of a presigned URL
        for key, value in _query_pairs(query):
            if key.lower().startswith("x-amz-") and key.lower() != "x-amz-security-token":
                headers[key.lower()] = value
    auth = _V2Auth(Credentials(signature.access_key, secret, signature.token))
    auth.date = signature.date
    return str(
        auth.get_signature(environ.get("REQUEST_METHOD", "GET"), urlsplit(f"http://signed{path}?{query}"), headers)
    )


def verify_v2(signature: SignatureV2, environ: dict[str, Any], secret: str) -> Problem | None:
    """None when the S3 SigV2 request is signed with this secret."""
    if not signature.presigned:  # a presigned URL's Expires is checked by the caller
        try:
            signed = email.utils.parsedate_to_datetime(signature.date).timestamp()
        except (TypeError, ValueError):
            return "skewed"
        if abs(datetime.now(UTC).timestamp() - signed) > MAX_SKEW_S:
            return "skewed"
    path, query = raw_target(environ)
    given = signature.signature.encode()
    # SigV2's resource of a bucket is "/bucket/" (botocore's auth_path) when the URL says "/bucket".
    bucket_root = path + "/" if path.count("/") == 1 and path != "/" else path
    for candidate in dict.fromkeys((path, quote(unquote(path), safe="/~"), bucket_root)):
        expected = expected_signature_v2(signature, environ, secret, path=candidate, query=query)
        if hmac.compare_digest(expected.encode(), given):
            return None
    return "mismatch"


def _epoch(amz_date: str) -> float | None:
    """Seconds since the epoch of an X-Amz-Date (yyyymmddThhmmssZ); None if malformed."""
    if not _AMZ_DATE.fullmatch(amz_date):
        return None
    ts = amz_date
    try:
        fields = (int(ts[0:4]), int(ts[4:6]), int(ts[6:8]), int(ts[9:11]), int(ts[11:13]), int(ts[13:15]))
        datetime(*fields)  # a real date and time
    except ValueError:
        return None
    return float(calendar.timegm((*fields, 0, 0, 0)))


def _skewed(signature: Signature, now: datetime) -> bool:
    signed = _epoch(signature.timestamp)
    if signed is None or signature.date != signature.timestamp[:8]:
        return True
    if signature.presigned:  # a presigned URL's own expiry is checked by the caller
        return signed > now.timestamp() + MAX_SKEW_S
    return abs(now.timestamp() - signed) > MAX_SKEW_S


def verify(
    signature: Signature, environ: dict[str, Any], body: bytes, secret: str, now: datetime | None = None
) -> Problem | None:
    """None when the request is signed with this secret, else why not."""
    if _skewed(signature, now or datetime.now(UTC)):
        return "skewed"
    if "host" not in signature.signed_headers:  # SigV4 always signs the Host header
        return "mismatch"
    path, query = raw_target(environ)
    given = signature.signature.encode()
    if hmac.compare_digest(
        expected_signature(signature, environ, body, secret, path=path, query=query).encode(), given
    ):
        return None
    if signature.service == "s3":
        # AWS's canonical form of an S3 key: every byte but unreserved ones and `/` percent-encoded once.
        canonical = quote(unquote(path), safe="/~")
        if canonical != path and hmac.compare_digest(
            expected_signature(signature, environ, body, secret, path=canonical, query=query).encode(), given
        ):
            return None
    return "mismatch"


def needs_body(signature: Signature, environ: dict[str, Any]) -> bool:
    """Whether the body's hash is part of the signature (S3 sends it in X-Amz-Content-SHA256)."""
    if signature.presigned:
        return signature.service != "s3"  # S3's presigned URLs sign UNSIGNED-PAYLOAD
    return "HTTP_X_AMZ_CONTENT_SHA256" not in environ
