"""Who may talk to the local AWS at all (SPEC §6 item 8), checked before anything else.

- The Host header must name this machine's loopback (`127.0.0.1`, `localhost`, `[::1]`, with
  this server's port or none): a web page that rebinds its own DNS name to 127.0.0.1 (DNS
  rebinding) sends its own name, and is refused.
- The server's control endpoints (`/_labrunner/…` but `health`, and moto's `/moto-api/…`) need
  a request signed by the local admin: SigV4 with the admin's access key and secret, service name
  `labrunner` (identity.CONTROL_SERVICE), any region; `labrunner.local.admin.call` signs so. A browser
  cannot make such a request cross-site (it has no secret), so a page's `text/plain` POST to
  `/_labrunner/reset` changes nothing.
- moto's `/moto-api/reset-auth` is refused even to the admin: it would switch on moto's own
  authentication (which checks SigV4 itself, wrongly for S3 keys with `'`, `+`, `(`, `*`, `!`)
  next to fidelity/iam_enforcement.py, which verifies every AWS request's signature.
- No CORS: moto's global CORS headers are off (moto_settings.py), so no page may read an answer.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from typing import Any

from labrunner.local import identity
from labrunner.local.iam import signatures

OPEN_PATHS = frozenset({"/_labrunner/health"})  # the lifecycle's probe; it reveals nothing secret
REFUSED_PATHS = frozenset({"/moto-api/reset-auth"})
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


def is_control_path(path: str) -> bool:
    return path.startswith(("/_labrunner/", "/moto-api")) and path not in OPEN_PATHS


def host_allowed(host: str, port: int) -> bool:
    """True for a loopback name with this server's port (or none)."""
    if host.startswith("["):  # [::1]:4599
        name, _, rest = host[1:].partition("]")
        given_port = rest[1:] if rest.startswith(":") else rest
    elif host.count(":") == 1:
        name, _, given_port = host.partition(":")
    else:
        name, given_port = host, ""
    if name.lower().rstrip(".") not in LOOPBACK_NAMES:
        return False
    return given_port == "" or given_port == str(port)


def _read_body(environ: dict[str, Any]) -> bytes:
    """Read the body once and put it back for the handler."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body: bytes = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def signed_by_admin(environ: dict[str, Any], secret: str) -> bool:
    """True when the request carries a valid SigV4 header signature of the local admin for `labrunner`."""
    signature = signatures.parse(environ)
    if not isinstance(signature, signatures.Signature) or signature.presigned:
        return False
    if signature.access_key != identity.ADMIN_ACCESS_KEY or signature.service != identity.CONTROL_SERVICE or not secret:
        return False
    return signatures.verify(signature, environ, _read_body(environ), secret) is None


def _refuse(start_response: Callable[..., Any], status: str, message: str) -> Iterable[bytes]:
    payload = json.dumps({"error": message}).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]


def refusal(
    environ: dict[str, Any], start_response: Callable[..., Any], port: int, secret: str
) -> Iterable[bytes] | None:
    """The answer refusing the request, or None when it may go on."""
    if not host_allowed(str(environ.get("HTTP_HOST", "")), port):
        return _refuse(start_response, "403 Forbidden", "the local AWS answers only requests to 127.0.0.1 or localhost")
    path = environ.get("PATH_INFO", "")
    if path in REFUSED_PATHS:
        return _refuse(start_response, "403 Forbidden", "moto's own authentication stays off in the local AWS")
    if is_control_path(path) and not signed_by_admin(environ, secret):
        return _refuse(
            start_response,
            "403 Forbidden",
            f"control endpoints need a request signed by the local admin (SigV4, service {identity.CONTROL_SERVICE!r})",
        )
    return None
