"""Ctrl-C in a large class check (800 students: the work queue fills its pipe) ends within seconds:
exit 130, one line, no traceback, and no worker process left behind (the terminal sends SIGINT to
the whole process group, as here)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from labrunner.local.lifecycle import Endpoint


def _group_gone(pgid: int, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_ctrl_c_in_class_check_with_workers(local_server: Endpoint, tmp_path: Path) -> None:
    roster = tmp_path / "class.yaml"
    roster.write_text("".join(f'- {{name: s{i}, account: "{200000000000 + i}"}}\n' for i in range(800)))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "labrunner",
            "class",
            "check",
            "--roster",
            str(roster),
            "--port",
            str(local_server.port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, like a command line in a terminal
        env={**os.environ, "LABRUNNER_CLASS_PROCESSES": "2", "PYTHONUNBUFFERED": "1"},
    )
    try:
        time.sleep(4)  # workers started and grading
        assert proc.poll() is None, "the class check ended before it could be interrupted"
        sent = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert took < 5, took
    assert [line for line in err.splitlines() if line.strip()] == ["labrunner: interrupted"], err
    assert _group_gone(proc.pid, within_s=5), "a worker process outlived the interrupted class check"


SPAWN_PROBE = """\
import multiprocessing, os, signal, sys, time
from labrunner import interrupt

def child(queue):
    queue.put(signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, []))
    time.sleep(0.5)  # a Ctrl-C to the whole group reaches it meanwhile

if __name__ == "__main__":
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    try:
        with interrupt.children_ignore_sigint():
            worker = context.Process(target=child, args=(queue,))
            worker.start()
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C in the instant the workers start
            time.sleep(0.2)
        print("lost")
    except KeyboardInterrupt:
        print("raised")
    print("blocked" if queue.get(timeout=60) else "open")
    os.kill(worker.pid, signal.SIGINT)
    worker.join(60)
    print(worker.exitcode)
"""


def test_a_ctrl_c_while_workers_start_is_not_lost(tmp_path: Path) -> None:
    """The parent raises it once the workers have started; the workers themselves never see it."""
    script = tmp_path / "spawn_probe.py"
    script.write_text(SPAWN_PROBE)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False)
    assert done.stdout.split() == ["raised", "blocked", "0"], done.stderr
    assert "Traceback" not in done.stderr
