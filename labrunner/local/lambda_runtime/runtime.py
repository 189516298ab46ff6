"""The Lambda service's execution side: warm workers per function, as Lambda keeps containers.

A worker serves one invocation at a time; concurrent invocations of a function get more workers
(up to a cap). Workers are replaced when the function's code, configuration or role changes,
reaped when idle, and all killed at server stop or reset.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from labrunner.local.lambda_runtime.credentials import assume_execution_role
from labrunner.local.lambda_runtime.logs import FunctionLog, new_stream_name
from labrunner.local.lambda_runtime.spec import FunctionSpec
from labrunner.local.lambda_runtime.worker import Invocation, Worker

Key = tuple[str, str, str]


def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


class RuntimeStopped(Exception):
    """The server is stopping or resetting: no new invocation starts."""


class LambdaRuntime:
    """Runs invocations on warm worker processes."""

    def __init__(
        self,
        endpoint_url: Callable[[], str],
        *,
        max_workers: int | None = None,
        max_per_function: int = 4,
        idle_timeout_s: float | None = None,
    ) -> None:
        self._endpoint_url = endpoint_url
        self.max_workers = max_workers or int(_env_number("LABRUNNER_LAMBDA_MAX_WORKERS", 16))
        self.max_per_function = max_per_function
        self.idle_timeout_s = (
            idle_timeout_s if idle_timeout_s is not None else _env_number("LABRUNNER_LAMBDA_IDLE_S", 600)
        )
        self._cond = threading.Condition()
        self._idle: list[Worker] = []
        self._busy: set[Worker] = set()
        self._starting: dict[Key, int] = {}
        self._latest: dict[Key, str] = {}
        self._stopped = threading.Event()
        self._generation = 0  # bumped by reset: workers of an older generation are not reused

    # --- invocation ---------------------------------------------------------------------------

    def invoke(self, spec: FunctionSpec, event: Any, *, invoked_arn: str | None = None) -> Invocation:
        """Run the function's handler on a warm (or new) worker and return what Lambda would."""
        worker = self._acquire(spec)
        try:
            return worker.invoke(event, invoked_arn=invoked_arn)
        finally:
            self._release(worker)

    def _count(self, key: Key) -> int:
        return (
            sum(1 for w in self._idle if w.spec.key == key)
            + sum(1 for w in self._busy if w.spec.key == key)
            + self._starting.get(key, 0)
        )

    def _total(self) -> int:
        return len(self._idle) + len(self._busy) + sum(self._starting.values())

    def _acquire(self, spec: FunctionSpec) -> Worker:
        key, fingerprint = spec.key, spec.fingerprint
        doomed: list[Worker] = []
        try:
            with self._cond:
                self._latest[key] = fingerprint
                while True:
                    if self._stopped.is_set():
                        raise RuntimeStopped("the local AWS is stopping")
                    for worker in list(self._idle):
                        if worker.spec.key == key and (
                            worker.spec.fingerprint != fingerprint or not self._usable(worker)
                        ):
                            self._idle.remove(worker)
                            doomed.append(worker)
                    for worker in reversed(self._idle):  # most recently used first: stays warm
                        if worker.spec.key == key:
                            self._idle.remove(worker)
                            self._busy.add(worker)
                            return worker
                    if self._count(key) < self.max_per_function:
                        if self._total() < self.max_workers:
                            self._starting[key] = self._starting.get(key, 0) + 1
                            break
                        if self._idle:  # full: the least recently used idle worker makes room
                            lru = min(self._idle, key=lambda w: w.last_used)
                            self._idle.remove(lru)
                            doomed.append(lru)
                            continue
                    self._cond.wait(timeout=0.5)
        finally:
            for worker in doomed:
                worker.kill()
        generation = self._generation
        try:
            worker = Worker(
                spec,
                assume_execution_role(spec),
                self._endpoint_url(),
                FunctionLog(spec, new_stream_name()),
            )
        finally:
            with self._cond:
                self._starting[key] -= 1
                if not self._starting[key]:
                    del self._starting[key]
                self._cond.notify_all()
        with self._cond:
            if self._stopped.is_set() or generation != self._generation:
                worker.kill()
                raise RuntimeStopped("the local AWS was reset while a worker started")
            self._busy.add(worker)
        return worker

    def _usable(self, worker: Worker) -> bool:
        # A worker near the end of its role session gets new credentials before it invokes (worker.py).
        return worker.alive

    def _release(self, worker: Worker) -> None:
        with self._cond:
            self._busy.discard(worker)
            keep = (
                worker.alive
                and not self._stopped.is_set()
                and self._latest.get(worker.spec.key) == worker.spec.fingerprint
            )
            if keep:
                self._idle.append(worker)
            self._cond.notify_all()
        if not keep:
            worker.kill()

    # --- housekeeping -------------------------------------------------------------------------

    def workers(self) -> list[Worker]:
        with self._cond:
            return [*self._idle, *self._busy]

    def retire(self, key: Key) -> None:
        """The function was deleted: its idle workers go now, busy ones when they finish."""
        with self._cond:
            self._latest[key] = "retired"
            doomed = [w for w in self._idle if w.spec.key == key]
            for worker in doomed:
                self._idle.remove(worker)
        for worker in doomed:
            worker.kill()

    def reap(self) -> None:
        """Kill workers idle for longer than the idle timeout (Lambda recycles containers too)."""
        now = time.monotonic()
        with self._cond:
            doomed = [w for w in self._idle if now - w.last_used > self.idle_timeout_s or not self._usable(w)]
            for worker in doomed:
                self._idle.remove(worker)
        for worker in doomed:
            worker.kill()

    def run_reaper(self, stopping: threading.Event) -> None:
        def loop() -> None:
            interval = max(0.5, min(30.0, self.idle_timeout_s / 4))
            while not stopping.wait(interval) and not self._stopped.is_set():
                self.reap()

        threading.Thread(target=loop, daemon=True, name="lambda-reaper").start()

    def reset(self) -> None:
        """Every account was wiped: no worker of the old world survives."""
        with self._cond:
            self._generation += 1
            doomed = [*self._idle, *self._busy]
            self._idle.clear()
            self._busy.clear()
            self._latest.clear()
            self._cond.notify_all()
        for worker in doomed:
            worker.kill()

    def stop(self) -> None:
        self._stopped.set()
        self.reset()


_installed: dict[str, LambdaRuntime] = {}


def set_runtime(runtime: LambdaRuntime) -> None:
    """The server's runtime (one per server process)."""
    _installed["runtime"] = runtime


def get_runtime() -> LambdaRuntime:
    runtime = _installed.get("runtime")
    if runtime is None:
        raise RuntimeError("the Lambda runtime is not installed (fidelity.lambda_execution)")
    return runtime
