"""Gap: moto's GetFunction answers `Code.Location` with a URL on amazonaws.com
(`https://awslambda-<region>-tasks.s3.<region>.amazonaws.com/<key>`) that nobody can reach.

AWS (Lambda API Reference, FunctionCodeLocation: "Location — A presigned URL that you can use to
download the deployment package", valid for up to 10 minutes; GetFunction: "a link to download the
deployment package that's valid for 10 minutes") answers a presigned URL. Here Location is a URL of
the local endpoint that serves the function's zip (the version asked for) to whoever holds it for
10 minutes, like a presigned URL: an unguessable token stands for the signature, no credentials
are needed, and an expired or unknown token is S3's `AccessDenied` 403 in S3's XML.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from labrunner.local.hooks import ServerHooks, WSGIApp
from labrunner.local.iam import errors

ORDER = 4  # outside iam_enforcement: a presigned URL carries no AWS credentials
PATH_PREFIX = "/_lambda_code/"  # "_" cannot start a bucket name, so no S3 path-style request looks like it
VALID_S = 600.0


@dataclass(frozen=True)
class _Link:
    code: bytes  # the zip as it was when GetFunction described it
    expires: float


_links: dict[str, _Link] = {}
_lock = threading.Lock()
_server: dict[str, Callable[[], str]] = {}


def presigned_url(function: Any) -> str:
    """A new download link for the function's current zip, valid for VALID_S seconds."""
    token = secrets.token_urlsafe(24)
    now = time.monotonic()
    with _lock:
        for old in [t for t, link in _links.items() if link.expires < now]:
            del _links[old]
        _links[token] = _Link(bytes(function.code_bytes), now + VALID_S)
    return f"{_server['base_url']()}{PATH_PREFIX}{token}/{function.function_name}.zip"


def _zip_of(path: str) -> bytes | None:
    token = path[len(PATH_PREFIX) :].split("/", 1)[0]
    with _lock:
        link = _links.get(token)
    if link is None or link.expires < time.monotonic():
        return None
    return link.code


def download_endpoint(app: WSGIApp) -> WSGIApp:
    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if not path.startswith(PATH_PREFIX):
            return app(environ, start_response)
        method = str(environ.get("REQUEST_METHOD", "GET"))
        code = _zip_of(path) if method in ("GET", "HEAD") else None
        if code is None:
            answer = errors.service_error(
                "s3", "rest-xml", method, status=403, code="AccessDenied", message="Request has expired"
            )
            start_response(answer.status_line, list(answer.headers))
            return [answer.body]
        start_response("200 OK", [("Content-Type", "application/zip"), ("Content-Length", str(len(code)))])
        return [b"" if method == "HEAD" else code]

    return middleware


def install(hooks: ServerHooks) -> None:
    from moto.awslambda.models import LambdaFunction

    _server["base_url"] = lambda: hooks.base_url
    original = LambdaFunction.get_code

    def get_code(self: Any) -> dict[str, Any]:
        answer: dict[str, Any] = original(self)
        code = answer.get("Code")
        if isinstance(code, dict) and code.get("RepositoryType") == "S3":
            code["Location"] = presigned_url(self)
        return answer

    setattr(LambdaFunction, "get_code", get_code)  # noqa: B010 (patching moto)
    hooks.add_middleware(download_endpoint, order=ORDER, name="lambda-code-location")
    hooks.on_reset(_links.clear)
