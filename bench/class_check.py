"""Figures for class mode: `labrunner class check` over many accounts of the local AWS.

Run: python bench/class_check.py [--students 50] [--deployed 50] [--jobs 4] [--ids ...]
(bench/run.py prints the same figures for 10 and 50 students.)
Starts its own local AWS on a free port (private LABRUNNER_HOME), deploys the workload
(`class solve setup`) in the first --deployed accounts, then times `class check` twice as a user
runs it (a new process each time: the first also meets the accounts' server-side state for the
first time) and prints seconds per run and per student.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from common import Bench, free_port, say

FIRST_ACCOUNT = 100000000000


def roster(path: Path, count: int, first: int = 0) -> Path:
    lines = [f'- {{name: s{i:03d}, account: "{FIRST_ACCOUNT + i:012d}"}}' for i in range(first, first + count)]
    path.write_text("\n".join(lines) + "\n")
    return path


def deploy(bench: Bench, count: int, jobs: int) -> dict[str, Any]:
    """`class solve setup` in the first `count` accounts (the workload deployed, an upload recorded)."""
    path = roster(bench.home / f"deploy-{count}.yaml", count)
    run = bench.labrunner("class", "solve", "setup", "--roster", str(path), "--jobs", str(jobs), "--format", "json")
    ok = sum("report" in s and s["report"]["summary"]["pass"] == 2 for s in run.json()["students"])
    return {"students": count, "deployed": ok, "seconds": run.seconds, "exit": run.code}


def check(bench: Bench, students: int, jobs: int, ids: list[str], runs: int = 2) -> dict[str, Any]:
    """`class check` of `students` accounts, `runs` times; seconds of each run and the grid's summary."""
    path = roster(bench.home / f"class-{students}.yaml", students)
    seconds, summary = [], {}
    for _ in range(runs):
        run = bench.labrunner(
            "class", "check", *ids, "--roster", str(path), "--jobs", str(jobs), "--format", "json"
        )  # fmt: skip
        report = run.json()
        seconds.append(run.seconds)
        summary = report["summary"]
    return {"students": students, "jobs": jobs, "seconds": seconds, "summary": summary}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--deployed", type=int, default=50, help="students whose account holds the workload")
    parser.add_argument("--jobs", type=int, default=4, help="students at once (labrunner's default is 4)")
    parser.add_argument("--ids", nargs="*", default=[], help="lab or step ids to check (default: all)")
    opts = parser.parse_args()

    bench = Bench(Path(tempfile.mkdtemp(prefix="labrunner-bench-")), free_port())
    bench.labrunner("local", "start")
    try:
        if opts.deployed:
            done = deploy(bench, opts.deployed, opts.jobs)
            print(
                f"deployed the workload in {done['deployed']}/{done['students']} accounts in {done['seconds']:.1f} s "
                f"(exit {done['exit']})"
            )
        say(f"class check of {opts.students} students")
        figures = check(bench, opts.students, opts.jobs, opts.ids)
        for label, seconds in zip(("first check", "second check"), figures["seconds"], strict=True):
            print(
                f"{label}: {opts.students} students, --jobs {opts.jobs}: {seconds:.1f} s "
                f"({seconds / opts.students:.2f} s per student; summary {figures['summary']})"
            )
    finally:
        bench.labrunner("local", "stop")


if __name__ == "__main__":
    main()
