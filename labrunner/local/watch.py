"""A local server frozen during a command ends the command with one line, not minutes of silence.

botocore waits read_timeout for each answer and retries a read timeout (standard mode, 8 attempts):
against a stopped (SIGSTOP) or hung local server a command would wait many minutes. Clients of the
local target therefore carry this watch: before and (each second) while waiting for each answer,
a server process that is stopped (its state in /proc on Linux) is a LocalServerError; after a read
timeout (READ_TIMEOUT, shorter than the real-AWS client's), a server that does not answer its
health check within health_wait_s() is one too. A server that answers its health check is only busy: the request is
tried once more, and a second read timeout is a LocalServerError as well.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.config import Config
from botocore.exceptions import ConnectionClosedError, ReadTimeoutError

from labrunner.errors import LocalServerError, UsageError

STOPPED = "is stopped (SIGSTOP) and cannot answer"
STOPPED_CHECK_S = 1.0  # how often a command waiting for an answer looks whether the server is stopped


def is_stopped(pid: int) -> bool:
    """Whether the process is stopped (SIGSTOP, state T) — False where /proc cannot tell."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat.rpartition(")")[2].split()  # the name in parentheses may contain spaces
    return bool(fields) and fields[0] in ("T", "t")


def read_timeout_s() -> float:
    from labrunner.local.faults import READ_TIMEOUT

    try:
        value = READ_TIMEOUT.from_environment()
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if value <= 0:
        raise UsageError(f"{READ_TIMEOUT.env_var} must be more than 0 (seconds)")
    return value


@dataclass(frozen=True)
class ServerWatch:
    port: int
    pid: int
    read_timeout: float  # read_timeout_s(), read once when the target opens (bad values refused there)

    def config(self, base: Config) -> Config:
        return base.merge(Config(read_timeout=self.read_timeout))

    def frozen(self, how: str) -> LocalServerError:
        from labrunner.local import lifecycle

        if not lifecycle.is_alive(self.pid):
            return LocalServerError(
                f"the local AWS on port {self.port} (pid {self.pid}) ended during the command; the next command "
                "starts an empty one: run `labrunner up` to deploy the workload again"
            )
        return LocalServerError(
            f"the local AWS on port {self.port} (pid {self.pid}) {how}; "
            "`labrunner local stop` ends it, then `labrunner up` starts a new one (empty)"
        )

    def send(self, http_session: Any, request: Any) -> Any:
        """Send in a helper thread and look at the server while waiting: a server stopped during the
        request ends it within STOPPED_CHECK_S, not after the read timeout (the helper, a daemon
        thread, is left to its timeout)."""
        if is_stopped(self.pid):
            raise self.frozen(STOPPED)
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["response"] = http_session.send(request)
            except BaseException as exc:  # handed to the caller's thread as botocore's send would raise it
                outcome["error"] = exc

        helper = threading.Thread(target=run, name="labrunner-local-send", daemon=True)
        helper.start()
        while helper.is_alive():
            helper.join(STOPPED_CHECK_S)
            if helper.is_alive() and is_stopped(self.pid):
                raise self.frozen(STOPPED)
        if "error" in outcome:
            raise outcome["error"]
        return outcome["response"]

    def needs_retry(self, caught_exception: Exception | None = None, attempts: int = 1, **_kwargs: Any) -> None:
        if not isinstance(caught_exception, ReadTimeoutError | ConnectionClosedError):
            return None  # botocore's retry handler decides
        from labrunner.local import lifecycle

        wait = lifecycle.health_wait_s()
        if is_stopped(self.pid):
            raise self.frozen(STOPPED)
        if lifecycle.probe(self.port, timeout=wait) is None:
            unanswered = "a request" if isinstance(caught_exception, ConnectionClosedError) else "a request within"
            waited = "" if isinstance(caught_exception, ConnectionClosedError) else f" {self.read_timeout:g} s"
            raise self.frozen(f"did not answer {unanswered}{waited} nor its health check within {wait:g} s: it is hung")
        # Alive but stuck on requests: one more try is enough, not seven times the read timeout.
        if attempts >= 2 and isinstance(caught_exception, ReadTimeoutError):
            raise LocalServerError(
                f"the local AWS on port {self.port} answers its health check but left a request unanswered "
                f"twice for {self.read_timeout:g} s: it is overloaded or stuck; try again, or `labrunner local "
                "stop` and `labrunner up` (LABRUNNER_LOCAL_READ_TIMEOUT_S waits longer)"
            )
        return None  # only busy: retried as botocore does

    def attach(self, client: Any) -> None:
        http_session = client._endpoint.http_session  # what botocore sends with when before-send answers nothing

        def before_send(request: Any, **_kwargs: Any) -> Any:
            return self.send(http_session, request)  # a response here is the one botocore uses

        client.meta.events.register_first("before-send", before_send)
        client.meta.events.register_first("needs-retry", self.needs_retry)
