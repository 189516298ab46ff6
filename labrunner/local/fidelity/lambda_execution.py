"""Gap: moto runs Lambda functions only in Docker. Here they run in local Python workers.

`LambdaFunction._invoke_lambda` is the one hook every caller of moto uses (Invoke, S3 and SNS
notifications, CloudFormation custom resources); it now runs the function's own handler through
`labrunner.local.lambda_runtime`. `LambdaFunction.invoke` answers like the Invoke API: the
handler's JSON result, `X-Amz-Function-Error: Unhandled` with `{"errorMessage", "errorType",
"stackTrace"}` on errors, the last 4 KB of log for LogType=Tail, Event (202, asynchronous) and
DryRun (204, nothing runs) invocation types.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
from pathlib import Path
from typing import Any

from labrunner.local.hooks import ServerHooks
from labrunner.local.lambda_runtime import FunctionSpec, Invocation, LambdaRuntime, get_runtime, set_runtime

LOG_TAIL_BYTES = 4096
CFNRESPONSE = Path(__file__).resolve().parent.parent / "lambda_runtime" / "provided" / "cfnresponse.py"


def run_function(function: Any, event: Any) -> Invocation:
    """Invoke a moto `LambdaFunction` synchronously on the local runtime."""
    return get_runtime().invoke(FunctionSpec.from_moto(function), event)


def invoke_async(function: Any, event: Any) -> None:
    """Lambda's asynchronous (Event) invocation: queued, run in the background."""
    spec = FunctionSpec.from_moto(function)

    def run() -> None:
        try:
            get_runtime().invoke(spec, event)
        except Exception as exc:  # nobody waits for an async invocation; the server log says why
            print(f"asynchronous invocation of {spec.name} failed: {exc!r}", flush=True)

    threading.Thread(target=run, daemon=True, name=f"lambda-async-{spec.name}").start()


def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
    """moto's hook: (payload, errored, logs)."""
    if isinstance(event, str):  # some moto callers pass the JSON text
        with contextlib.suppress(ValueError):
            event = json.loads(event)
    result = run_function(self, {} if event is None else event)
    return result.payload.decode(), result.errored, result.log_text


def _header(headers: Any, name: str, default: str) -> str:
    if not headers:
        return default
    getter = getattr(headers, "get", None)
    value = getter(name) if getter else None
    if value is None:  # plain dicts from moto's internal callers are case-sensitive
        lowered = {str(k).lower(): v for k, v in dict(headers).items()}
        value = lowered.get(name.lower())
    return str(value) if value is not None else default


def invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> bytes:
    """The Invoke API on one function (moto's responses layer sets the status code)."""
    if isinstance(body, bytes):
        body = body.decode()
    event = json.loads(body) if body else {}
    invocation_type = _header(request_headers, "X-Amz-Invocation-Type", "RequestResponse")
    response_headers["x-amz-executed-version"] = "$LATEST"
    if invocation_type == "DryRun":
        return b""
    if invocation_type == "Event":
        invoke_async(self, event)
        return b""
    result = run_function(self, event)
    if result.errored:
        response_headers["x-amz-function-error"] = "Unhandled"
    tail = result.log_text.encode()[-LOG_TAIL_BYTES:]
    response_headers["x-amz-log-result"] = base64.b64encode(tail).decode()
    return result.payload


def _zipfile_from_inline_code(code: str) -> bytes:
    """CloudFormation's inline ZipFile package: index.py plus the cfnresponse module."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.py", code)
        archive.writestr("cfnresponse.py", CFNRESPONSE.read_text())
    return buffer.getvalue()


def _invoke_s3_notification_async(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
    """S3 invokes a Lambda destination asynchronously, never inside the PutObject request."""
    from moto.awslambda.utils import get_backend

    try:
        function = get_backend(account_id, region_name).get_function(fn_arn)
    except Exception:  # a missing function fails silently in AWS too (asynchronous delivery)
        return
    invoke_async(function, event_body)


def install(hooks: ServerHooks) -> None:
    from moto.awslambda.models import LambdaBackend, LambdaFunction
    from moto.s3 import notifications

    runtime = LambdaRuntime(lambda: hooks.base_url)
    set_runtime(runtime)
    setattr(LambdaFunction, "_invoke_lambda", _invoke_lambda)  # noqa: B010 (patching moto)
    setattr(LambdaFunction, "invoke", invoke)  # noqa: B010
    setattr(LambdaFunction, "_create_zipfile_from_plaintext_code", staticmethod(_zipfile_from_inline_code))  # noqa: B010
    setattr(notifications, "_invoke_awslambda", _invoke_s3_notification_async)  # noqa: B010

    original_delete = LambdaBackend.delete_function

    def delete_function(self: Any, function_name: str, qualifier: str | None = None) -> None:
        function = self.get_function(function_name)
        original_delete(self, function_name, qualifier)
        if qualifier is None:  # the function itself is gone, not just one published version
            runtime.retire(FunctionSpec.from_moto(function).key)

    setattr(LambdaBackend, "delete_function", delete_function)  # noqa: B010
    hooks.on_start(lambda: runtime.run_reaper(hooks.stopping))
    hooks.on_stop(runtime.stop)
    hooks.on_reset(runtime.reset)
