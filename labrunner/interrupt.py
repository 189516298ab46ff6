"""Ctrl-C ends a command within seconds, with exit code 130 and one line, never a traceback.

The first Ctrl-C raises KeyboardInterrupt as usual, so `finally` blocks still undo half-done work
(lab 3's AccessDenied demo restores PutItem); but nothing may keep the process alive after that:
thread pools wait for their running steps, multiprocessing joins its queue's feeder thread and its
workers at exit. So a grace timer, or a second Ctrl-C, ends the process for good: worker
processes terminated, output flushed, `os._exit(130)`.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType

EXIT_CODE = 130  # 128 + SIGINT, what a shell reports for a Ctrl-C
GRACE_S = 3.0  # after the first Ctrl-C, cleanup gets this long
_state = {"interrupted": False, "said": False}
_exit_code = {"on_interrupt": EXIT_CODE}
_lock = threading.Lock()


def ctrl_c_ends_cleanly() -> None:
    """For a command that runs until Ctrl-C (`check --watch`): that Ctrl-C is its normal end, so
    the process exits 0 without the "interrupted" line, also when the grace timer or a second
    Ctrl-C has to end it."""
    with _lock:
        _state["said"] = True
        _exit_code["on_interrupt"] = 0


def say_interrupted() -> None:
    with _lock:
        if _state["said"]:
            return
        _state["said"] = True
    with suppress(OSError, ValueError):  # stderr closed or broken: the exit code says it
        print("labrunner: interrupted", file=sys.stderr, flush=True)


def hard_exit() -> None:
    """End the process now: children terminated, output flushed, no atexit joins."""
    say_interrupted()
    for child in multiprocessing.active_children():
        child.terminate()
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):
            stream.flush()
    os._exit(_exit_code["on_interrupt"])


def _on_sigint(_signum: int, _frame: FrameType | None) -> None:
    if _state["interrupted"]:
        hard_exit()  # a second Ctrl-C: no more waiting
    _state["interrupted"] = True
    timer = threading.Timer(GRACE_S, hard_exit)
    timer.daemon = True
    timer.start()
    raise KeyboardInterrupt


def install() -> None:
    """For the `labrunner` program (not a caller running commands in-process)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _on_sigint)


@contextmanager
def children_ignore_sigint() -> Iterator[None]:
    """Processes started inside never see SIGINT (the terminal sends Ctrl-C to the whole process
    group): the parent alone handles it and stops them, so no worker prints a traceback, not even
    while it is still importing. SIGINT is blocked, not ignored, while they start: the children
    inherit the blocked mask (their own code then ignores the signal), and a Ctrl-C pressed in that
    instant stays pending for the parent, raised as KeyboardInterrupt on the way out, not lost."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
