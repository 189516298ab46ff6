"""Client helpers for the local server's own admin endpoints (/_labrunner/...).

They build states that tests need but that AWS no longer lets anyone create, or tune AWS's
asynchronous behaviour for fault injection. They only ever talk to the local server, and sign
every request as the local admin (SigV4, service `labrunner`; see access.py), with the secret of
this LABRUNNER_HOME unless given.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from labrunner.errors import LocalServerError
from labrunner.local import identity, state

TIMEOUT_S = 30.0


def signed_request(url: str, method: str, body: bytes, secret: str) -> urllib.request.Request:
    """A urllib request to the local server, signed by the local admin."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    aws = AWSRequest(method=method, url=url, data=body)
    SigV4Auth(
        Credentials(identity.ADMIN_ACCESS_KEY, secret), identity.CONTROL_SERVICE, identity.DEFAULT_REGION
    ).add_auth(aws)
    headers = {name: str(value) for name, value in aws.headers.items()}
    return urllib.request.Request(url, method=method, data=body if method in ("POST", "PUT") else None, headers=headers)


def call(endpoint_url: str, method: str, name: str, **query: str) -> dict[str, Any]:
    """Call /_labrunner/<name>?query as the local admin of this LABRUNNER_HOME; the JSON answer."""
    return control(endpoint_url, method, name, query)


def control(
    endpoint_url: str,
    method: str,
    name: str,
    query: Mapping[str, str] | None = None,
    *,
    body: bytes = b"",
    secret: str | None = None,
) -> dict[str, Any]:
    """Call /_labrunner/<name>; the JSON answer, or LocalServerError with the server's reason.

    `secret`: the admin's secret of the server's LABRUNNER_HOME (default: this process's home).
    """
    url = f"{endpoint_url.rstrip('/')}/_labrunner/{name}"
    if query:
        url += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote, safe="-_.~")
    request = signed_request(url, method, body, secret if secret is not None else state.admin_secret())
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as resp:
            answer: dict[str, Any] = json.loads(resp.read())
            return answer
    except urllib.error.HTTPError as exc:
        try:
            reason = json.loads(exc.read()).get("error", "")
        except ValueError:
            reason = ""
        raise LocalServerError(f"{method} /_labrunner/{name} failed (HTTP {exc.code}): {reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise LocalServerError(f"the local AWS at {endpoint_url} cannot be reached: {exc}") from None


def make_legacy_unencrypted_bucket(endpoint_url: str, bucket: str) -> None:
    """Turn an existing bucket into a pre-2023 one: no default encryption at all.

    AWS has encrypted every bucket with SSE-S3 since January 2023 and no API removes that, so
    only this admin endpoint can build the state. Objects written afterwards without explicit
    SSE are stored unencrypted; `get_bucket_encryption` answers
    ServerSideEncryptionConfigurationNotFoundError, as it did for such buckets.
    """
    call(endpoint_url, "POST", "s3/legacy-unencrypted", bucket=bucket)


def set_s3_access_log_delay(endpoint_url: str, seconds: float) -> None:
    """Delay server access log delivery (0 = immediate, the default) until the next reset."""
    call(endpoint_url, "POST", "s3/access-log-delay", seconds=str(seconds))


def set_config_evaluation_delay(endpoint_url: str, seconds: float) -> None:
    """Delay AWS Config rule evaluations (0 = immediate, the default) until the next reset."""
    call(endpoint_url, "POST", "config/evaluation-delay", seconds=str(seconds))
