"""How long `up` and `solve` of each lab take when the local AWS waits as a real account does.

Run: python bench/aws_profile_solve.py [--scale 0.01]
Starts two servers of its own (private LABRUNNER_HOME, free port): one with the default `fast` profile,
one with LABRUNNER_LOCAL_PROFILE=aws at LABRUNNER_LOCAL_TIME_SCALE=SCALE. In each it runs `labrunner up`
and then `labrunner solve LAB` for every lab in catalogue order, each a new process as a user runs it,
and takes the wall time. The `fast` run is labrunner's own work; what the `aws` run takes beyond it is
the waiting, which is scaled back up (divided by SCALE) to estimate a real account:
estimate = fast + (aws - fast) / SCALE.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time

from common import REPO, free_port, labrunner_command, load_average, machine

from labrunner.local import lifecycle

COMMANDS = (("up",), ("solve", "lab1"), ("solve", "lab2"), ("solve", "lab3"), ("solve", "lab4"), ("solve", "extra"))


def timings(profile: str, scale: float) -> dict[str, tuple[float, dict[str, tuple[str, float]]]]:
    """Wall seconds and each step's (status, seconds) of every command, on a new server with this profile."""
    home = tempfile.mkdtemp(prefix=f"labrunner-bench-{profile}-")
    port = free_port()
    env = {**os.environ, "LABRUNNER_HOME": home, "LABRUNNER_LOCAL_PORT": str(port)}
    env.update({"LABRUNNER_LOCAL_PROFILE": profile, "LABRUNNER_LOCAL_TIME_SCALE": str(scale)})
    saved = dict(os.environ)
    os.environ.update(env)  # lifecycle.start hands its environment to the server
    try:
        lifecycle.start(port)
        out: dict[str, tuple[float, dict[str, tuple[str, float]]]] = {}
        for command in COMMANDS:
            began = time.perf_counter()
            done = subprocess.run(
                [*labrunner_command(), *command, "--format", "json"],
                env=env,
                cwd=REPO,
                capture_output=True,
                text=True,
                check=False,
            )
            took = time.perf_counter() - began
            steps = {s["id"]: (s["status"], s["duration_s"]) for s in json.loads(done.stdout)["steps"]}
            out[" ".join(command)] = (took, steps)
        return out
    finally:
        lifecycle.stop(port)
        os.environ.clear()
        os.environ.update(saved)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.01, help="LABRUNNER_LOCAL_TIME_SCALE of the aws run")
    args = parser.parse_args()
    info = machine()
    print(f"Measured {info['date']} on {info['machine']}; load average at start {load_average()}.\n")
    fast = timings("fast", 1.0)
    aws = timings("aws", args.scale)
    print(
        f"| command | `fast` profile | `aws` profile, scale {args.scale:g} | estimate on a real account "
        "| statuses (`aws`) | slowest steps (`aws`) |"
    )
    print("|---|---|---|---|---|---|")
    for command, (aws_s, steps) in aws.items():
        fast_s = fast[command][0]
        estimate = fast_s + max(0.0, aws_s - fast_s) / args.scale
        statuses = ", ".join(sorted({status for status, _ in steps.values()}))
        slowest = sorted(steps.items(), key=lambda item: -item[1][1])[:2]
        where = ", ".join(f"{step} {seconds:.1f} s" for step, (_, seconds) in slowest)
        print(
            f"| `labrunner {command}` | {fast_s:.1f} s | {aws_s:.1f} s | {estimate / 60:.1f} min "
            f"| {statuses} | {where} |"
        )
    print(f"\nLoad average at the end {load_average()}.")


if __name__ == "__main__":
    main()
