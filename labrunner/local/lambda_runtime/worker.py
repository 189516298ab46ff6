"""One warm execution environment: a separate Python process running one function's code.

The server talks to it over pipes: requests as JSON lines on the worker's stdin, replies (log
events, results) as JSON lines on a control pipe. Closing stdin ends the worker, so workers never
outlive the server. Anything the process writes to its real stdout/stderr below Python (C code,
child processes) is still captured and logged.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labrunner.local.faults import lambda_cold_start
from labrunner.local.lambda_runtime.credentials import RoleCredentials, assume_execution_role
from labrunner.local.lambda_runtime.logs import FunctionLog, LogEvent
from labrunner.local.lambda_runtime.spec import FunctionSpec

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
PROVIDED_MODULES = Path(__file__).with_name("provided")
RESERVED_PREFIXES = ("AWS_LAMBDA_", "LAMBDA_", "_")
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Invocation:
    """The outcome of one invocation as Lambda reports it."""

    request_id: str
    payload: bytes
    error_type: str | None
    log_text: str
    duration_ms: float
    cold: bool

    @property
    def errored(self) -> bool:
        return self.error_type is not None


@dataclass
class _Reply:
    result: dict[str, Any] | None = None
    init_events: list[LogEvent] = field(default_factory=list)
    events: list[LogEvent] = field(default_factory=list)
    exit_code: int | None = None
    timed_out: bool = False


class WorkerError(Exception):
    """The worker process could not be started."""


class Worker:
    """A live process for one function at one fingerprint; serves one invocation at a time."""

    def __init__(self, spec: FunctionSpec, credentials: RoleCredentials, endpoint_url: str, log: FunctionLog) -> None:
        self.spec = spec
        self.credentials = credentials
        self.log = log
        self.started_at = time.monotonic()
        self.last_used = self.started_at
        self.invocations = 0
        self._code_dir = Path(tempfile.mkdtemp(prefix=f"labrunner-lambda-{spec.name[:40]}-"))
        self._pending: list[LogEvent] = []  # init lines and stray output not yet written
        self._pending_lock = threading.Lock()
        self._buffer = b""
        self._dead = False
        self._invoking = False
        self._cleaned = False
        self._state_lock = threading.Lock()
        self._extract_code()
        control_read, control_write = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-X", "utf8", str(BOOTSTRAP)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(control_write,),
                cwd=self._code_dir,
                env=self._environment(endpoint_url, control_write),
                start_new_session=True,  # its own process group: a timeout kills its children too
            )
        except OSError as exc:
            os.close(control_read)
            shutil.rmtree(self._code_dir, ignore_errors=True)
            raise WorkerError(f"cannot start the Python runtime: {exc}") from exc
        finally:
            os.close(control_write)
        self._control = control_read
        threading.Thread(target=self._drain_stray_output, daemon=True, name=f"lambda-out-{spec.name}").start()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return not self._dead and self.process.poll() is None

    def _extract_code(self) -> None:
        if not self.spec.code:
            return
        try:
            with zipfile.ZipFile(io.BytesIO(self.spec.code)) as archive:
                archive.extractall(self._code_dir)
        except zipfile.BadZipFile:
            pass  # the runtime then reports Runtime.ImportModuleError, as Lambda does

    def _environment(self, endpoint_url: str, control_fd: int) -> dict[str, str]:
        spec, creds = self.spec, self.credentials
        env = {k: v for k, v in spec.environment.items() if not k.startswith(RESERVED_PREFIXES)}
        env.update(
            {
                "PATH": SYSTEM_PATH,
                "LANG": "en_US.UTF-8",
                "TZ": ":UTC",
                "HOME": str(self._code_dir),
                "PYTHONUNBUFFERED": "1",
                "PYTHONDONTWRITEBYTECODE": "1",
                "LAMBDA_TASK_ROOT": str(self._code_dir),
                "LAMBDA_RUNTIME_DIR": str(BOOTSTRAP.parent),
                "_HANDLER": spec.handler,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
                "AWS_LAMBDA_LOG_STREAM_NAME": self.log.stream_name,
                "AWS_REGION": spec.region,
                "AWS_DEFAULT_REGION": spec.region,
                **creds.environment(),
                # Every AWS call of the function goes to the local AWS, never anywhere else.
                "AWS_ENDPOINT_URL": endpoint_url,
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_EC2_METADATA_DISABLED": "true",
                "LABRUNNER_CONTROL_FD": str(control_fd),
                "LABRUNNER_PARENT_PID": str(os.getpid()),
                "LABRUNNER_PROVIDED_MODULES": str(PROVIDED_MODULES),
            }
        )
        return env

    def _drain_stray_output(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        try:
            for raw in stream:
                with self._pending_lock:
                    self._pending.append(LogEvent(now_ms(), raw.decode("utf-8", "replace").rstrip("\n")))
        except (OSError, ValueError):  # closed by kill(): the process is gone
            return

    def _read_reply(self, deadline: float) -> _Reply:
        """Collect log events until the result arrives, the deadline passes or the process dies."""
        reply = _Reply()
        while True:
            while b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                message = json.loads(line)
                if message["op"] == "log":
                    event = LogEvent(int(message["ts"]), str(message["message"]))
                    (reply.init_events if message.get("init") else reply.events).append(event)
                elif message["op"] == "result":
                    reply.result = message
                    return reply
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                reply.timed_out = True
                return reply
            ready, _, _ = select.select([self._control], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self._control, 65536)
            if not chunk:
                reply.exit_code = self.process.wait()
                return reply
            self._buffer += chunk

    def invoke(self, event: Any, *, invoked_arn: str | None = None) -> Invocation:
        """Run the handler once (the caller holds this worker exclusively)."""
        spec = self.spec
        request_id = str(uuid.uuid4())
        cold = self.invocations == 0
        self.invocations += 1
        if cold:
            lambda_cold_start()  # an injected cold start (fault injection; none by default)
        started = time.monotonic()
        deadline = started + spec.timeout_s
        request = {
            "request_id": request_id,
            "event": event,
            "deadline_ms": now_ms() + int(spec.timeout_s * 1000),
            "invoked_function_arn": invoked_arn or spec.arn,
        }
        if self.credentials.due():  # a warm worker's role session nears its end: a new one, as Lambda does
            self.credentials = assume_execution_role(spec)
            request["credentials"] = self.credentials.environment()
        start_event = LogEvent(now_ms(), f"START RequestId: {request_id} Version: $LATEST")
        with self._state_lock:
            self._invoking = True
        try:
            assert self.process.stdin is not None
            self.process.stdin.write((json.dumps(request) + "\n").encode())
            self.process.stdin.flush()
            reply = self._read_reply(deadline)
        except OSError:  # the process is gone (killed, crashed)
            reply = _Reply(exit_code=self.process.wait())
        finally:
            with self._state_lock:
                self._invoking = False
        duration_ms = (time.monotonic() - started) * 1000
        self.last_used = time.monotonic()
        memory = self._peak_memory_mb()
        events = [*reply.init_events, start_event, *reply.events]
        payload: bytes
        error_type: str | None = None
        status = ""
        result = reply.result
        if result is not None and result.get("ok"):
            payload = str(result["payload"]).encode()
        elif result is not None:
            error = dict(result["error"])
            error_type = str(error.get("errorType") or "Unhandled")
            payload = json.dumps(error).encode()
            if result.get("fatal"):
                status = "\tStatus: error\tError Type: " + error_type
                self.kill()
        elif reply.timed_out:
            self.kill()
            seconds = f"{spec.timeout_s:.2f}"
            events.append(LogEvent(now_ms(), f"{_iso_now()} {request_id} Task timed out after {seconds} seconds"))
            error_type = "Sandbox.Timedout"
            payload = json.dumps(
                {
                    "errorType": error_type,
                    "errorMessage": f"RequestId: {request_id} Error: Task timed out after {seconds} seconds",
                }
            ).encode()
            status = "\tStatus: timeout"
        else:
            self.kill()
            message = f"RequestId: {request_id} Error: Runtime exited with error: exit status {reply.exit_code}"
            events.append(LogEvent(now_ms(), message))
            error_type = "Runtime.ExitError"
            payload = json.dumps({"errorType": error_type, "errorMessage": message}).encode()
            status = "\tStatus: error\tError Type: Runtime.ExitError"
        events.append(LogEvent(now_ms(), f"END RequestId: {request_id}"))
        if memory is None:
            memory = int(result.get("max_memory_mb", 0)) if result else 0
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {max(1, int(duration_ms + 0.999))} ms\tMemory Size: {spec.memory_mb} MB\t"
            f"Max Memory Used: {memory} MB"
        )
        if result is not None and "init_ms" in result:
            report += f"\tInit Duration: {float(result['init_ms']):.2f} ms"
        events.append(LogEvent(now_ms(), report + status))
        if self._dead:
            self._cleanup()
        with self._pending_lock:
            stray, self._pending = self._pending, []
        ordered = _merge(stray, events)
        self.log.write(ordered)
        return Invocation(
            request_id=request_id,
            payload=payload,
            error_type=error_type,
            log_text="\n".join(e.message for e in ordered) + "\n",
            duration_ms=duration_ms,
            cold=cold,
        )

    def _peak_memory_mb(self) -> int | None:
        """The process's peak resident memory (Linux /proc; None elsewhere or once it is gone)."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return -(-int(line.split()[1]) // 1024)
        return None

    def kill(self) -> None:
        """Stop the process (and anything it started); its pipes and code go once it is unused."""
        with self._state_lock:
            if self._dead:
                return
            self._dead = True
            invoking = self._invoking
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        if not invoking:  # else the invoking thread sees EOF and cleans up itself
            self._cleanup()

    def _cleanup(self) -> None:
        with self._state_lock:
            if self._cleaned:  # never close an fd twice: its number may belong to someone else
                return
            self._cleaned = True
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        with contextlib.suppress(OSError):
            os.close(self._control)
        shutil.rmtree(self._code_dir, ignore_errors=True)


def _merge(stray: list[LogEvent], events: list[LogEvent]) -> list[LogEvent]:
    """Stray lines go where their time puts them; the runtime's own order is kept."""
    if not stray:
        return events
    merged: list[LogEvent] = []
    queue = sorted(stray, key=lambda e: e.timestamp_ms)
    for event in events:
        while queue and queue[0].timestamp_ms < event.timestamp_ms:
            merged.append(queue.pop(0))
        merged.append(event)
    merged.extend(queue)
    return merged


def _iso_now() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
