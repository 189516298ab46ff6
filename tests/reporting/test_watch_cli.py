"""`labrunner check --watch` end to end against the local AWS, driven by a student's change made by
hand with boto3 (server access logging turned on): a line for the change when stdout is not a
terminal, the live view updated in place on a terminal (a pty), Ctrl-C ends it with exit 0."""

from __future__ import annotations

import contextlib
import os
import pty
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import IO

import boto3
import pytest

from labrunner.context import Context
from labrunner.local import faults
from labrunner.local.lifecycle import Endpoint
from tests.helpers import cli

STEP = "lab2.access-logging"
CHANGE_LINE = re.compile(rf"^\d\d:\d\d:\d\d {re.escape(STEP)}: fail → pass$")


def watch_command(*extra: str) -> list[str]:
    return [sys.executable, "-m", "labrunner", "check", "--watch", *extra]


def turn_on_access_logging(admin_session: boto3.Session, endpoint: Endpoint, upload_bucket: str) -> None:
    """What a student clicks in the S3 console: a bucket for the logs, then server access logging into it."""
    s3 = admin_session.client("s3", endpoint_url=endpoint.url)
    log_bucket = "my-access-logs-bucket"
    s3.create_bucket(Bucket=log_bucket)
    s3.put_bucket_logging(
        Bucket=upload_bucket,
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": log_bucket, "TargetPrefix": "logs/"}},
    )


class Reader:
    """Collects a stream's output in a thread, so the test can wait for text with a deadline."""

    def __init__(self, stream: IO[bytes] | int) -> None:
        self.chunks: queue.Queue[bytes] = queue.Queue()
        self.text = ""
        self.ended = False  # the stream closed (the process exited)
        self._stream = stream
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        while True:
            try:
                data = os.read(self._stream, 4096) if isinstance(self._stream, int) else self._stream.read1(4096)
            except OSError:  # the pty closed
                data = b""
            self.chunks.put(data)
            if not data:
                return

    def wait_for(self, found: Callable[[str], bool], timeout_s: float = 30) -> str:
        deadline = time.monotonic() + timeout_s
        while not found(self.text):
            left = deadline - time.monotonic()
            assert left > 0, f"not seen within {timeout_s} s; output so far:\n{self.text[-3000:]}"
            with contextlib.suppress(queue.Empty):
                chunk = self.chunks.get(timeout=min(left, 0.5))
                self.ended = self.ended or not chunk
                self.text += chunk.decode(errors="replace")
        return self.text

    def rest(self) -> str:
        """Everything, once the stream has closed."""
        return self.wait_for(lambda _text: self.ended)


def stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGINT)  # Ctrl-C
    try:
        return proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_plain_lines_for_a_status_change_then_ctrl_c_exits_0(
    deployed: Context, admin_session: boto3.Session, local_env: Endpoint
) -> None:
    proc = subprocess.Popen(
        watch_command("--interval", "0.5", "lab2"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ
    )
    out, err = Reader(proc.stdout), Reader(proc.stderr)  # type: ignore[arg-type]
    try:
        first = out.wait_for(lambda text: "lab2.logs-delivered: " in text)  # the first check, every step
        assert re.search(rf"^\d\d:\d\d:\d\d {re.escape(STEP)}: fail$", first, re.M), first
        turn_on_access_logging(admin_session, local_env, deployed.workload().bucket)
        text = out.wait_for(lambda text: any(CHANGE_LINE.match(line) for line in text.splitlines()))
    finally:
        code = stop(proc)
    assert code == 0
    lines = out.rest().splitlines()
    assert [line.split(" ", 1)[1] for line in lines[:5]] == [
        "lab2.encryption: pass",
        "lab2.encrypted-upload: pass",
        "lab2.log-bucket: fail",
        "lab2.access-logging: fail",
        "lab2.logs-delivered: fail",
    ]  # the first check, in catalogue order
    assert any(CHANGE_LINE.match(line) for line in text.splitlines())
    assert sum(1 for line in lines if CHANGE_LINE.match(line)) == 1  # said once, not every round
    remarks = err.rest()
    assert "watching 5 steps of local account" in remarks and "Traceback" not in remarks
    assert "interrupted" not in remarks and remarks.rstrip().endswith("change(s)")  # "stopped watching after …"


def test_live_view_on_a_terminal_updates_in_place(
    deployed: Context, admin_session: boto3.Session, local_env: Endpoint
) -> None:
    controller, terminal = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "150", "LINES": "40"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        watch_command("--interval", "0.5", "lab2"), stdin=terminal, stdout=terminal, stderr=terminal, env=env
    )
    os.close(terminal)
    screen = Reader(controller)
    try:
        screen.wait_for(lambda text: "check 2" in text and STEP in text)
        turn_on_access_logging(admin_session, local_env, deployed.workload().bucket)
        text = screen.wait_for(lambda text: "just changed: " in text and f"{STEP}: fail → pass" in text)
    finally:
        code = stop(proc)
        os.close(controller)
    assert code == 0
    assert "\x1b[1A" in text and "\x1b[2K" in text  # cursor up, erase line: redrawn in place
    assert text.count("watching 5 steps") > 2  # the same view, drawn again and again
    assert "Traceback" not in text


def test_throttling_backs_off_the_interval(deployed: Context, local_env: Endpoint) -> None:
    faults.configure(local_env.url, throttle_rate=0.5)  # half of AWS's answers: Throttling, SlowDown …
    try:
        proc = subprocess.Popen(
            watch_command("--interval", "0.5", "lab2"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ
        )
        err = Reader(proc.stderr)  # type: ignore[arg-type]
        Reader(proc.stdout)  # type: ignore[arg-type]
        try:
            remarks = err.wait_for(lambda text: "checking every 2 s now" in text)
        finally:
            code = stop(proc)
    finally:
        faults.configure(local_env.url, throttle_rate=0)
    assert code == 0
    assert re.search(r"AWS throttled \d+ request\(s\): checking every 1 s now", remarks), remarks


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--interval", "0"), "--interval must be a positive number of seconds, not 0.0"),
        (("--interval", "-3"), "--interval must be a positive number of seconds, not -3.0"),
        (("--interval", "nan"), "--interval must be a positive number of seconds, not nan"),
        (("--interval", "inf"), "--interval must be a positive number of seconds, not inf"),
        (("--interval", "soon"), "argument --interval: invalid float value: 'soon'"),
        (("--format", "json"), "check --watch shows a live view (or a line per change): --format and --output"),
    ],
)
def test_bad_watch_options_are_one_line_and_exit_2(args: tuple[str, ...], message: str) -> None:
    result = cli("check", "--watch", *args)
    assert result.code == 2
    assert result.err.count("\n") == 1 and message in result.err, result.err
    assert result.out == ""


def test_interval_without_watch_is_refused() -> None:
    result = cli("check", "--interval", "5")
    assert result.code == 2 and result.err.strip() == "labrunner: --interval applies to check --watch only"


def test_ctrl_c_in_the_middle_of_a_slow_check_still_exits_0_within_seconds(
    deployed: Context, local_env: Endpoint
) -> None:
    faults.configure(local_env.url, latency_ms=400)  # every answer a long round trip: a check takes many seconds
    try:
        proc = subprocess.Popen(
            watch_command("--interval", "1"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ
        )
        err = Reader(proc.stderr)  # type: ignore[arg-type]
        Reader(proc.stdout)  # type: ignore[arg-type]
        try:
            err.wait_for(lambda text: "still runs" in text)  # a round is running, and the next was skipped
            sent = time.monotonic()
        finally:
            code = stop(proc)
        took = time.monotonic() - sent
    finally:
        faults.configure(local_env.url, latency_ms=0)
    assert code == 0
    assert took < 5, took
    remarks = err.wait_for(lambda text: "stopped watching" in text)
    assert "Traceback" not in remarks and "interrupted" not in remarks
