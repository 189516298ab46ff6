"""Figures for class mode: `labrunner class check` over many accounts of the local AWS.

Run: /work/venv/bin/python bench/class_check.py [--students 50] [--deployed 50] [--jobs 8] [--ids ...]
Starts its own local AWS on a free port (private LABRUNNER_HOME), deploys the workload
(`class solve setup`) in the first --deployed accounts, then times `class check` twice (first use
of the accounts' clients, then warm) and prints seconds per run and per student.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import tempfile
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli(*args: str) -> tuple[int, str, float]:
    from labrunner.cli import main

    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), time.perf_counter() - started


def roster(path: Path, count: int, first: int = 0) -> Path:
    lines = [f'- {{name: s{i:03d}, account: "{100000000000 + i:012d}"}}' for i in range(first, first + count)]
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--deployed", type=int, default=50, help="students whose account holds the workload")
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--ids", nargs="*", default=[], help="lab or step ids to check (default: all)")
    opts = parser.parse_args()

    home = tempfile.mkdtemp(prefix="labrunner-bench-")
    os.environ["LABRUNNER_HOME"] = home
    from labrunner.local import lifecycle

    port = free_port()
    lifecycle.start(port)
    try:
        work = Path(home)
        if opts.deployed:
            deploy = roster(work / "deploy.yaml", opts.deployed)
            code, out, seconds = cli(
                "--port", str(port), "class", "solve", "setup", "--roster", str(deploy),
                "--jobs", str(opts.jobs), "--format", "json",
            )  # fmt: skip
            ok = sum("report" in s for s in json.loads(out)["students"])
            print(f"deployed the workload in {ok}/{opts.deployed} accounts in {seconds:.1f} s (exit {code})")
        everyone = roster(work / "class.yaml", opts.students)
        for label in ("first check", "second check"):
            code, out, seconds = cli(
                "--port", str(port), "class", "check", *opts.ids, "--roster", str(everyone),
                "--jobs", str(opts.jobs), "--format", "json",
            )  # fmt: skip
            report = json.loads(out)
            print(
                f"{label}: {opts.students} students, --jobs {opts.jobs}: {seconds:.1f} s "
                f"({seconds / opts.students:.2f} s per student; class duration {report['duration_s']:.1f} s; "
                f"summary {report['summary']})"
            )
    finally:
        lifecycle.stop(port)


if __name__ == "__main__":
    main()
