"""The Python runtime inside a Lambda worker process (a stand-in for AWS's awslambdaric bootstrap).

Runs as a script in its own interpreter, never inside the server: it imports the function's
handler (the "init" phase), then serves invocations read as JSON lines from stdin until stdin
closes (the server stopped or dropped this worker). Everything it reports (log events, results)
goes as JSON lines to the control pipe whose fd is in LABRUNNER_CONTROL_FD, so the handler's own
stdout stays the function's log, as in Lambda. Error shapes and log lines follow the AWS runtime.
Standard library only: it must start fast and must not leak labrunner into the function.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import resource
import select
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

CONTROL_FD_ENV = "LABRUNNER_CONTROL_FD"
PARENT_PID_ENV = "LABRUNNER_PARENT_PID"
BUILT_IN_MODULES = frozenset(sys.builtin_module_names) | {"bootstrap"}

Handler = Callable[[Any, Any], Any]


class FaultError(Exception):
    """An error of the runtime itself (bad handler string, import failure), typed like AWS's."""

    def __init__(self, error_type: str, message: str, trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace or []


class ControlChannel:
    """Framed messages to the server: one JSON document per line, written atomically."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()
        self.initializing = True  # lines logged while importing the handler precede START

    def send(self, message: dict[str, Any]) -> None:
        data = (json.dumps(message) + "\n").encode()
        with self._lock:
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]

    def log(self, text: str) -> None:
        self.send({"op": "log", "ts": int(time.time() * 1000), "message": text, "init": self.initializing})


class LogStream:
    """Replaces sys.stdout/sys.stderr: every complete line becomes one log event, as in Lambda."""

    def __init__(self, channel: ControlChannel) -> None:
        self._channel = channel
        self._buffer = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self._buffer += text
            *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            self._channel.log(line)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            rest, self._buffer = self._buffer, ""
        if rest:
            self._channel.log(rest)

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return "utf-8"


class DescriptorCapture:
    """Output written straight to fds 1 and 2 (C code, child processes) becomes log events too.

    The fds are a pipe read here; `drain()` before each result takes everything the handler
    wrote, so no line of an invocation is left for the next one.
    """

    def __init__(self, channel: ControlChannel) -> None:
        self._channel = channel
        self._lock = threading.Lock()
        self._partial = b""
        read, write = os.pipe()
        os.dup2(write, 1)
        os.dup2(write, 2)
        os.close(write)
        os.set_blocking(read, False)
        self._read = read
        threading.Thread(target=self._follow, daemon=True, name="fd-capture").start()

    def _follow(self) -> None:
        while True:
            select.select([self._read], [], [])
            self.drain()

    def drain(self) -> None:
        with self._lock:
            while True:
                try:
                    chunk = os.read(self._read, 65536)
                except BlockingIOError:
                    break
                if not chunk:
                    break
                self._partial += chunk
            *lines, self._partial = self._partial.split(b"\n")
        for line in lines:
            self._channel.log(line.decode("utf-8", "replace"))


class RequestIdFilter(logging.Filter):
    """Adds the current request id to every record (the runtime's %(aws_request_id)s)."""

    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = RequestIdFilter.request_id
        return True


class ChannelHandler(logging.Handler):
    """The runtime's root log handler: one formatted record = one log event."""

    def __init__(self, channel: ControlChannel) -> None:
        super().__init__()
        self._channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._channel.log(self.format(record))
        except Exception:
            self.handleError(record)


def install_logging(channel: ControlChannel) -> None:
    handler = ChannelHandler(channel)
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
        "%Y-%m-%dT%H:%M:%S",
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers = [handler]


class LambdaContext:
    """The context object a handler receives (attributes as in the AWS Python runtime)."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.aws_request_id: str = request["request_id"]
        self.invoked_function_arn: str = request["invoked_function_arn"]
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = request.get("client_context")
        self._deadline_ms: int = request["deadline_ms"]

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, message: str) -> None:
        sys.stdout.write(message)

    def __repr__(self) -> str:
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn}])"
        )


def make_error(message: str, error_type: str, trace: list[str], request_id: str = "") -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": trace}


def fault_result(exc: BaseException, request_id: str = "") -> dict[str, Any]:
    """An uncaught exception as AWS reports it: the handler's frames only, not the runtime's."""
    frames = traceback.extract_tb(exc.__traceback__)
    for index, frame in enumerate(frames):
        if not frame.filename.endswith("bootstrap.py"):
            frames = traceback.StackSummary.from_list(frames[index:])
            break
    else:
        frames = traceback.StackSummary.from_list([])
    return make_error(str(exc), type(exc).__name__, traceback.format_list(frames), request_id)


def error_log_event(error: dict[str, Any]) -> str:
    """The runtime's `[ERROR] Type: message` event, traceback included, as one log event."""
    description = "[ERROR]"
    if error.get("errorType"):
        description += " " + error["errorType"]
    if error.get("errorMessage"):
        if error.get("errorType"):
            description += ":"
        description += " " + error["errorMessage"]
    lines = [description]
    stack = error.get("stackTrace")
    if stack is not None:
        lines.append("Traceback (most recent call last):")
        for element in stack:
            lines.extend(element.splitlines() if element else [""])
    return "\n".join(lines)


def load_handler(handler: str) -> Handler:
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as exc:
        raise FaultError("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {exc}") from None
    if module_name.split(".")[0] in BUILT_IN_MODULES:
        raise FaultError(
            "Runtime.BuiltInModuleConflict", f"Cannot use built-in module {module_name} as a handler module"
        )
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise FaultError("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}") from None
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        raise FaultError(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}", trace
        ) from None
    function = getattr(module, function_name, None)
    if function is None:
        raise FaultError("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")
    return function  # type: ignore[no-any-return]


def max_memory_mb() -> int:
    """Peak resident memory of this process (the server reads /proc itself where it can)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    per_mb = 1024 * 1024 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return -(-peak // per_mb)


def watch_parent(parent_pid: int) -> None:
    """Exit when the server is gone, even while a handler is still running."""
    while True:
        if os.getppid() != parent_pid:
            os._exit(0)
        time.sleep(1.0)


def serve(channel: ControlChannel, capture: DescriptorCapture) -> None:
    started = time.monotonic()
    init_error: dict[str, Any] | None = None
    handler: Handler | None = None
    try:
        handler = load_handler(os.environ["_HANDLER"])
    except FaultError as fault:
        init_error = make_error(fault.message, fault.error_type, fault.trace)
    except Exception as exc:  # the module's own code failed at import: AWS reports its type
        init_error = fault_result(exc)
    init_ms = (time.monotonic() - started) * 1000
    sys.stdout.flush()
    sys.stderr.flush()
    capture.drain()
    channel.initializing = False
    first = True
    for line in sys.stdin:
        request = json.loads(line)
        request_id = request["request_id"]
        # Renewed role credentials: the SDK re-reads them (AWS_CREDENTIAL_EXPIRATION is set).
        os.environ.update(request.get("credentials") or {})
        RequestIdFilter.request_id = request_id
        result: dict[str, Any] = {"op": "result", "request_id": request_id}
        if first:
            result["init_ms"] = init_ms
            first = False
        if init_error is not None:
            error = dict(init_error, requestId=request_id)
            channel.log(error_log_event(error))
            result.update(ok=False, error=error, fatal=True)
        else:
            assert handler is not None
            result.update(invoke(channel, handler, request))
        sys.stdout.flush()
        sys.stderr.flush()
        capture.drain()
        result["max_memory_mb"] = max_memory_mb()
        channel.send(result)
        if result.get("fatal"):
            return


def invoke(channel: ControlChannel, handler: Handler, request: dict[str, Any]) -> dict[str, Any]:
    request_id = request["request_id"]
    try:
        output = handler(request["event"], LambdaContext(request))
    except Exception as exc:
        error = fault_result(exc, request_id)
        sys.stdout.flush()
        channel.log(error_log_event(error))
        return {"ok": False, "error": error}
    try:
        payload = json.dumps(output)
    except (TypeError, ValueError) as exc:
        error = make_error(f"Unable to marshal response: {exc}", "Runtime.MarshalError", [], request_id)
        channel.log(error_log_event(error))
        return {"ok": False, "error": error}
    return {"ok": True, "payload": payload}


def main() -> None:
    channel = ControlChannel(int(os.environ.pop(CONTROL_FD_ENV)))
    parent = int(os.environ.pop(PARENT_PID_ENV, str(os.getppid())))
    threading.Thread(target=watch_parent, args=(parent,), daemon=True, name="watch-parent").start()
    capture = DescriptorCapture(channel)
    sys.stdout = LogStream(channel)
    sys.stderr = LogStream(channel)
    install_logging(channel)
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    os.chdir(task_root)
    sys.path.insert(0, task_root)
    provided = os.environ.get("LABRUNNER_PROVIDED_MODULES")
    if provided:
        sys.path.append(provided)
    serve(channel, capture)


if __name__ == "__main__":
    main()
