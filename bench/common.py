"""What the benchmark scripts share: free ports, the machine, timing, running the CLI as a user does."""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "n/a"
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    import boto3
    import botocore
    import moto

    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores, {cpu}, {memory}".rstrip(", "),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": f"moto {moto.__version__}, boto3 {boto3.__version__}, botocore {botocore.__version__}",
    }


def labrunner_command() -> list[str]:
    """The `labrunner` a user runs: the console script next to this Python, else `python -m labrunner`."""
    script = Path(sys.executable).with_name("labrunner")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "labrunner"]


def aws_cli() -> str | None:
    """The aws CLI of this Python's environment (awscli is in the test extra), else the one on PATH."""
    script = Path(sys.executable).with_name("aws")
    return str(script) if script.is_file() else shutil.which("aws")


@dataclass(frozen=True)
class Run:
    seconds: float
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


class Bench:
    """One private local AWS (free port, own LABRUNNER_HOME) and the environment to reach it."""

    def __init__(self, home: Path, port: int) -> None:
        self.home = home
        self.port = port
        # As a user runs it: no AWS or labrunner settings of the caller's, and Python caching
        # bytecode as it does by default (a development shell may turn that off).
        drop = ("AWS_", "LABRUNNER_", "PYTHONDONTWRITEBYTECODE")
        env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
        env.update(
            LABRUNNER_HOME=str(home),
            LABRUNNER_LOCAL_PORT=str(port),
            # Nothing of the user's own AWS setup may leak in.
            AWS_CONFIG_FILE=str(home / "no-aws-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(home / "no-aws-credentials"),
            AWS_EC2_METADATA_DISABLED="true",
        )
        self.env = env

    def run(self, argv: Sequence[str], *, env: dict[str, str] | None = None, check: bool = True) -> Run:
        started = time.perf_counter()
        proc = subprocess.run(list(argv), env=env or self.env, capture_output=True, text=True, cwd=REPO, check=False)
        run = Run(time.perf_counter() - started, proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode not in (0, 1):
            raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
        return run

    def labrunner(self, *args: str, check: bool = True) -> Run:
        return self.run([*labrunner_command(), *args], check=check)

    def counted(self, *args: str) -> tuple[Run, dict[str, Any]]:
        """The CLI run once more, counting the AWS API requests it sends (bench/counted.py)."""
        out = self.home / "counted.json"
        run = self.run([sys.executable, str(BENCH / "counted.py"), str(out), *args])
        return run, json.loads(out.read_text())

    def aws_env(self) -> dict[str, str]:
        """The environment `eval "$(labrunner local env)"` gives the aws CLI."""
        env = dict(self.env)
        lines = self.labrunner("local", "env").stdout.splitlines()
        for line in lines:
            key, _, value = line.removeprefix("export ").partition("=")
            env[key] = value
        return env


def repeat(times: int, fn: Callable[[], Run]) -> list[Run]:
    return [fn() for _ in range(max(1, times))]


def say(message: str) -> None:
    """Progress on stderr (stdout carries the table)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
