"""Every answer to an AWS request is an AWS error the client can parse, never an HTML page.

moto raises NotImplementedError for an operation it lacks (`iam list-service-specific-credentials`)
and lets any other exception escape; werkzeug then answers with an HTML 500 page that botocore
retries and cannot parse ("Unable to parse response … invalid XML received"). LocalStack answers
both in the service's own protocol in one place (localstack/aws/skeleton.py: `NotImplemented`-style
501 for a missing operation, `InternalFailure` 500 for a crash); so does this outermost middleware:
- an operation moto lacks → `NotImplemented`, HTTP 501 (S3: "A header you provided implies
  functionality that is not implemented", Amazon S3 API Reference, "Error responses" — the same code
  and status in every protocol here);
- any other exception → `InternalFailure`, HTTP 500 ("The request processing has failed because of
  an unknown error, exception or failure", the "Common Errors" page of every query/JSON API
  reference, e.g. https://docs.aws.amazon.com/ses/latest/APIReference/CommonErrors.html);
- a REST path moto routes nowhere (werkzeug's HTML "404 Not Found" page, or moto's empty text/html
  404): `NotImplemented` 501 when the path is an operation of the service's botocore model that moto
  lacks (Lambda's GetAccountSettings), else `InvalidAction` 400 ("The action or operation requested
  is invalid. Verify that the action is typed correctly.", the same Common Errors page);
moto's Flask apps run in debug mode, so their exceptions reach this middleware rather than becoming
HTML pages inside them.
The shapes are those of labrunner/local/iam/errors.py (query XML, JSON with `__type`, REST-JSON with
`x-amzn-ErrorType`, S3's REST-XML `<Error>`), so botocore raises a ClientError with the code.
"""

from __future__ import annotations

import io
import sys
import traceback
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

from labrunner.local.hooks import ServerHooks, WSGIApp
from labrunner.local.iam import actions, credentials, errors

ORDER = 0  # outermost: a crash in any other middleware is answered too
NOT_AWS_PREFIXES = ("/_labrunner/", "/moto-api")


def _service(environ: dict[str, Any]) -> str:
    credential = credentials.request_credential(environ)
    signing_name = (credential.service if credential and credential.service else "s3").lower()
    return actions.model_name(signing_name)


def _query_action(environ: dict[str, Any]) -> str:
    found = urllib.parse.parse_qs(str(environ.get("QUERY_STRING", ""))).get("Action")
    if found:
        return found[0]
    stream = environ.get("wsgi.input")
    if isinstance(stream, io.BytesIO):  # iam_enforcement has read the body and put it back
        body = stream.getvalue().decode("utf-8", "replace")
        found = urllib.parse.parse_qs(body).get("Action")
    return found[0] if found else ""


def operation_name(service: str, protocol: str, environ: dict[str, Any]) -> str:
    """The operation of the request, as far as it can be told without moto ("" otherwise)."""
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    if target:
        return target.rsplit(".", 1)[-1]
    if protocol == "query":
        return _query_action(environ)
    return actions.rest_operation(service, environ)[0]


def aws_error(environ: dict[str, Any], kind: str, detail: str = "") -> errors.ErrorResponse:
    """NotImplemented (kind "not-implemented") or InternalFailure, in the request's service protocol."""
    service = _service(environ)
    protocol = actions.service_protocol(service) or "query"
    if environ.get("HTTP_X_AMZ_TARGET"):
        protocol = "json"
    method = str(environ.get("REQUEST_METHOD", "GET"))
    try:
        name = operation_name(service, protocol, environ)
    except Exception:  # the answer must not fail because the request is strange
        name = ""
    what = f"{service} {name}".strip() if name else f"this {service} operation"
    if kind == "invalid-action":
        message = f"the local AWS knows no {service} operation at {method} {environ.get('PATH_INFO', '/')}"
        return errors.service_error(service, protocol, method, status=400, code="InvalidAction", message=message)
    if kind == "not-implemented":
        message = f"{what} is not implemented by the local AWS (labrunner's embedded moto)"
        return errors.service_error(service, protocol, method, status=501, code="NotImplemented", message=message)
    message = f"the local AWS failed on {what}: {detail}" if detail else f"the local AWS failed on {what}"
    return errors.service_error(service, protocol, method, status=500, code="InternalFailure", message=message)


class AWSErrorsOnly:
    """The WSGI middleware."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if path.startswith(NOT_AWS_PREFIXES):
            return self.app(environ, start_response)
        held: dict[str, Any] = {}

        def hold_html_404(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            if _html_404(environ, status, headers):
                held["status"], held["headers"] = status, headers
                return lambda _data: None
            return start_response(status, headers, *exc_info)

        try:
            answer = self.app(environ, hold_html_404)
            if not held:
                return answer
            return self._unrouted(environ, held, answer, start_response)
        except NotImplementedError:
            return self._answer(aws_error(environ, "not-implemented"), start_response)
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)  # the server's log keeps what went wrong
            return self._answer(aws_error(environ, "internal", type(exc).__name__), start_response)

    def _unrouted(
        self,
        environ: dict[str, Any],
        held: dict[str, Any],
        answer: Iterable[bytes],
        start_response: Callable[..., Any],
    ) -> Iterable[bytes]:
        """An HTML 404 of the router becomes an AWS error; any other 404 body passes unchanged."""
        try:
            body = b"".join(answer)
        finally:
            close = getattr(answer, "close", None)
            if callable(close):
                close()
        if body and not body.lstrip().lower().startswith(b"<!doctype html"):
            start_response(held["status"], held["headers"])
            return [body]
        service = _service(environ)
        protocol = actions.service_protocol(service) or "query"
        known = protocol.startswith("rest") and bool(operation_name(service, protocol, environ))
        return self._answer(aws_error(environ, "not-implemented" if known else "invalid-action"), start_response)

    @staticmethod
    def _answer(answer: errors.ErrorResponse, start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response(_status_line(answer), list(answer.headers))
        return [answer.body]


def _html_404(environ: dict[str, Any], status: str, headers: list[tuple[str, str]]) -> bool:
    """The router's "nothing here" answer (HEAD answers have no body to judge and stay as they are)."""
    if not status.startswith("404") or environ.get("REQUEST_METHOD") == "HEAD":
        return False
    kind = next((value for name, value in headers if name.lower() == "content-type"), "")
    return kind.lower().startswith("text/html")


def _status_line(answer: errors.ErrorResponse) -> str:
    reasons = {400: "Bad Request", 500: "Internal Server Error", 501: "Not Implemented"}
    return f"{answer.status} {reasons[answer.status]}" if answer.status in reasons else answer.status_line


def install(hooks: ServerHooks) -> None:
    hooks.add_middleware(AWSErrorsOnly, order=ORDER, name="aws-errors-only")
