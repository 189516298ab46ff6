"""Round trips on `check`'s critical path: the check of every lab at 0 and 100 ms per AWS request.

Run: python bench/round_trips.py [--runs 5] [--students 10] [--json FILE]
Starts its own local AWS on a free port (private LABRUNNER_HOME), deploys and solves every lab in one
account (`up`, `solve`), then times `labrunner check` (a new process each run, as a user runs it) with
the server's `latency_ms` fault at 0 and at 100 (`labrunner local faults latency_ms=100`: every AWS
request is answered 100 ms later, a round trip from a laptop to a region). The round trips a check
waits for one after another are (median at 100 ms - median at 0 ms) / 0.1 s; the target is ≤ 8
(issue 16). Then `class check` of --students accounts (the workload deployed in each) at 100 ms.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from class_check import deploy, roster
from common import Bench, free_port, median, say

LATENCY_MS = 100
TARGET_ROUND_TRIPS = 8


def set_latency(bench: Bench, ms: int) -> None:
    bench.labrunner("local", "faults", f"latency_ms={ms}")


def check_seconds(bench: Bench, runs: int) -> list[float]:
    seconds = []
    for _ in range(runs):
        run = bench.labrunner("check")
        if run.code != 0:
            raise RuntimeError(f"check did not pass every step (exit {run.code}):\n{run.stdout[-3000:]}")
        seconds.append(run.seconds)
    return seconds


def check_at_latencies(bench: Bench, runs: int, latencies: tuple[int, ...] = (0, LATENCY_MS)) -> dict[int, list[float]]:
    """`check` of every lab `runs` times at each latency, the latencies taking turns run by run, so
    a change of load on a shared machine falls on both alike (their difference is the figure)."""
    seconds: dict[int, list[float]] = {ms: [] for ms in latencies}
    try:
        for _ in range(runs):
            for ms in latencies:
                set_latency(bench, ms)
                seconds[ms] += check_seconds(bench, 1)
    finally:
        set_latency(bench, 0)
    return seconds


def class_check_seconds(bench: Bench, students: int, jobs: int) -> float:
    path = roster(bench.home / f"class-{students}.yaml", students)
    run = bench.labrunner("class", "check", "--roster", str(path), "--jobs", str(jobs), "--format", "json")
    return run.seconds


def measure(runs: int, students: int, jobs: int) -> dict[str, Any]:
    bench = Bench(Path(tempfile.mkdtemp(prefix="labrunner-bench-")), free_port())
    bench.labrunner("local", "start")
    try:
        say("deploying and solving every lab")
        bench.labrunner("up")
        solved = bench.labrunner("solve")
        if solved.code != 0:
            raise RuntimeError(f"solve did not pass every step:\n{solved.stdout[-3000:]}")
        say(f"check of every lab at 0 and {LATENCY_MS} ms per request, {runs} runs each, taking turns")
        seconds = check_at_latencies(bench, runs)
        figures: dict[str, Any] = {f"check_{ms}ms": runs_s for ms, runs_s in seconds.items()}
        if students:
            say(f"deploying the workload in {students} class accounts")
            deploy(bench, students, jobs)
            set_latency(bench, LATENCY_MS)
            say(f"class check of {students} accounts at {LATENCY_MS} ms")
            figures["class_check_s"] = class_check_seconds(bench, students, jobs)
            figures["students"] = students
            set_latency(bench, 0)
        t0, t100 = median(figures["check_0ms"]), median(figures[f"check_{LATENCY_MS}ms"])
        figures["round_trips"] = (t100 - t0) / (LATENCY_MS / 1000)
        return figures
    finally:
        bench.labrunner("local", "stop")


def table(figures: dict[str, Any]) -> str:
    t0, t100 = median(figures["check_0ms"]), median(figures[f"check_{LATENCY_MS}ms"])
    trips = figures["round_trips"]
    rows = [
        "| what | figure | target | |",
        "|---|---|---|---|",
        f"| `check` of every lab, 0 ms per request (median of {len(figures['check_0ms'])}) | {t0:.2f} s |  |  |",
        f"| `check` of every lab, {LATENCY_MS} ms per request (median of {len(figures['check_100ms'])}) "
        f"| {t100:.2f} s |  |  |",
        f"| round trips on `check`'s critical path ((t{LATENCY_MS} - t0) / {LATENCY_MS} ms) | {trips:.1f} "
        f"| ≤ {TARGET_ROUND_TRIPS} | {'met' if trips <= TARGET_ROUND_TRIPS else 'MISSED'} |",
    ]
    if "class_check_s" in figures:
        rows.append(
            f"| `class check` of {figures['students']} accounts, {LATENCY_MS} ms per request "
            f"| {figures['class_check_s']:.1f} s |  |  |"
        )
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5, help="check runs at each latency (the median counts)")
    parser.add_argument("--students", type=int, default=10, help="accounts of the class check (0: skip it)")
    parser.add_argument("--jobs", type=int, default=4, help="students at once (labrunner's default is 4)")
    parser.add_argument("--json", type=Path, help="write every raw figure here")
    opts = parser.parse_args()
    figures = measure(opts.runs, opts.students, opts.jobs)
    print(table(figures))
    if opts.json:
        opts.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if figures["round_trips"] <= TARGET_ROUND_TRIPS else 1


if __name__ == "__main__":
    raise SystemExit(main())
