"""Who signed a request: the access key, who owns it in moto, and its secret (signatures.py checks the signature)."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qs

_SIGV4 = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")
_SIGV2 = re.compile(r"^AWS ([^:\s]+):")


@dataclass(frozen=True)
class Credential:
    """The credential part of a signed (or presigned) request."""

    access_key: str
    region: str | None
    service: str | None  # the SigV4 signing name (credential scope)
    session_token: str | None


def request_credential(environ: dict[str, Any]) -> Credential | None:
    """The access key of the request (header or presigned query), or None for an anonymous one."""
    token = environ.get("HTTP_X_AMZ_SECURITY_TOKEN")
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if auth:
        v4 = _SIGV4.search(auth)
        if v4:
            return Credential(v4.group(1), v4.group(3), v4.group(4), token)
        v2 = _SIGV2.match(auth)
        if v2:
            return Credential(v2.group(1), None, None, token)
    query = environ.get("QUERY_STRING", "")
    if "X-Amz-Credential" in query or "AWSAccessKeyId" in query:
        params = parse_qs(query)
        scope = params.get("X-Amz-Credential", [""])[0]
        # SigV4 URLs carry X-Amz-Security-Token, botocore's SigV2 URLs x-amz-security-token.
        query_token = params.get("X-Amz-Security-Token", params.get("x-amz-security-token", [token]))[0]
        if scope:
            parts = scope.split("/")
            if len(parts) == 5:
                return Credential(parts[0], parts[2], parts[3], query_token)
            return Credential(parts[0], None, None, query_token)
        key = params.get("AWSAccessKeyId", [""])[0]
        if key:
            return Credential(key, None, None, query_token)
    return None


def presigned_url_expired(environ: dict[str, Any], now: datetime | None = None) -> bool:
    """True when a presigned URL is past its expiry (SigV4 X-Amz-Date + X-Amz-Expires, SigV2 Expires)."""
    query = environ.get("QUERY_STRING", "")
    if "Expires=" not in query:
        return False
    params = parse_qs(query)
    current = (now or datetime.now(UTC)).timestamp()
    try:
        if "X-Amz-Expires" in params:
            signed = datetime.strptime(params["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            return current > signed.timestamp() + int(params["X-Amz-Expires"][0])
        if "AWSAccessKeyId" in params and "Expires" in params:
            return current > int(params["Expires"][0])
    except (KeyError, ValueError):
        return False
    return False


PrincipalKind = Literal["user", "assumed-role"]
Failure = Literal["InvalidClientTokenId", "InvalidToken", "ExpiredToken"]


@dataclass(frozen=True)
class KeyOwner:
    """The principal behind an access key."""

    account: str
    kind: PrincipalKind
    arn: str  # user ARN, or arn:aws:sts::A:assumed-role/ROLE/SESSION
    session_policy: str | None = None
    user_name: str | None = None
    secret: str = field(default="", repr=False)  # the key's secret, to verify the request's signature


@dataclass(frozen=True)
class KeyRejected:
    """AWS refuses the credential itself (before any policy is evaluated)."""

    reason: Failure


def iam_backends_by_account() -> list[tuple[str, Any]]:
    from moto.iam.models import iam_backends

    found = []
    for account_id, per_partition in list(iam_backends.items()):
        backend = dict.get(per_partition, "aws")  # never create a partition's backend as a side effect
        if backend is not None:
            found.append((account_id, backend))
    return found


class _AssumedRoleIndex:
    """access key id -> moto AssumedRole; moto keeps them in lists that grow with every session."""

    def __init__(self) -> None:
        self._by_key: dict[str, Any] = {}
        self._lock = threading.Lock()

    def find(self, account_id: str, access_key_id: str) -> Any | None:
        cached = self._by_key.get(access_key_id)
        if cached is not None and cached.account_id == account_id:
            return cached
        from moto.sts.models import sts_backends

        sts = dict.get(sts_backends.get(account_id) or {}, "aws")
        if sts is None:
            return None
        with self._lock:
            for assumed in list(sts.assumed_roles):
                self._by_key[assumed.access_key_id] = assumed
        return self._by_key.get(access_key_id)

    def clear(self) -> None:
        with self._lock:
            self._by_key.clear()


assumed_roles = _AssumedRoleIndex()


def key_owner(credential: Credential, now: datetime | None = None) -> KeyOwner | KeyRejected:
    """Look the access key up in every account's IAM (user keys and STS temporary keys)."""
    for account_id, backend in iam_backends_by_account():
        key = backend.access_keys.get(credential.access_key)
        if key is None:
            continue
        if getattr(key, "status", "Active") != "Active":
            return KeyRejected("InvalidClientTokenId")
        if key.user_name is not None:
            user = backend.users.get(key.user_name)
            if user is None or key not in user.access_keys:
                return KeyRejected("InvalidClientTokenId")
            if credential.session_token:
                return KeyRejected("InvalidToken")
            return KeyOwner(
                account=account_id, kind="user", arn=user.arn, user_name=user.name, secret=key.secret_access_key
            )
        assumed = assumed_roles.find(account_id, credential.access_key)
        if assumed is None or assumed.access_key is not key:
            return KeyRejected("InvalidClientTokenId")
        if credential.session_token != assumed.session_token:
            return KeyRejected("InvalidToken")
        expiration = assumed.expiration
        if expiration.tzinfo is None:
            expiration = expiration.replace(tzinfo=UTC)
        if (now or datetime.now(UTC)) >= expiration:
            return KeyRejected("ExpiredToken")
        role_name = assumed.role_arn.rsplit("/", 1)[-1]
        return KeyOwner(
            account=account_id,
            kind="assumed-role",
            arn=f"arn:aws:sts::{account_id}:assumed-role/{role_name}/{assumed.session_name}",
            session_policy=assumed.policy or None,
            secret=assumed.secret_access_key,
        )
    return KeyRejected("InvalidClientTokenId")
