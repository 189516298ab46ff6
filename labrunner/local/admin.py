"""Client helpers for the local server's own admin endpoints (/_labrunner/...).

They build states that tests need but that AWS no longer lets anyone create, or tune AWS's
asynchronous behaviour for fault injection. They only ever talk to the local server.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from labrunner.errors import LocalServerError

TIMEOUT_S = 30.0


def call(endpoint_url: str, method: str, name: str, **query: str) -> dict[str, Any]:
    """Call /_labrunner/<name>; the JSON answer, or LocalServerError with the server's reason."""
    url = f"{endpoint_url.rstrip('/')}/_labrunner/{name}"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
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
