"""The labrunner benchmark: one run on this machine, one table (markdown, ready for the README).

Run:  python bench/run.py            full run (about 15 minutes on 2 cores, most of it the aws-CLI script)
      python bench/run.py --quick    short run (fewer repeats and uploads, class of 10 only)
      python bench/run.py --json FILE --readme   also keep the raw figures / rewrite README's table
Needs the project installed with its test extra (`pip install -e '.[test]'`): the aws-CLI comparison
runs the `aws` of the same environment.

It starts its own local AWS on a free port with a private LABRUNNER_HOME, drives it the way a user
does (the `labrunner` command in new processes), and stops it at the end. In order: `--help`, server
start, the workload's create_stack and upload → item latency (in an account of its own), `up`,
`solve` of every lab, `check` of each lab (wall time and AWS API requests), `check` of every lab against
the same reads from an aws-CLI script (bench/aws_cli_check.sh) and from one boto3 process
(bench/boto3_check.py) — each tool after a fresh server, one cold run then the median of as many warm
runs —, `check` of every lab at 0 and 100 ms per AWS request and the round trips derived
(bench/round_trips.py), `reset`, `class check` of 10 and 50 accounts and of 10 at 100 ms per request,
and the local IAM layer's own costs (bench/iam_overhead.py).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import class_check
import round_trips
from common import BENCH, REPO, Bench, Run, aws_cli, free_port, load_average, machine, median, repeat, say

LABS = ("setup", "lab1", "lab2", "lab3", "lab4", "extra")
README_START = "<!-- bench:start -->"
README_END = "<!-- bench:end -->"


@dataclass(frozen=True)
class Row:
    what: str
    figure: str
    target: str = ""
    met: bool | None = None  # None: no target

    @property
    def verdict(self) -> str:
        return "" if self.met is None else ("met" if self.met else "**missed**")


@dataclass
class Results:
    info: dict[str, str]
    rows: list[Row]
    raw: dict[str, Any]
    loads: list[float] = field(default_factory=list)  # 1-minute load average at each section's start

    def section(self, name: str) -> None:
        self.loads.append(os.getloadavg()[0])
        say(f"— {name}")

    def add(self, what: str, figure: str, target: str = "", met: bool | None = None) -> None:
        self.rows.append(Row(what, figure, target, met))
        say(f"{what}: {figure}" + (f" (target {target}: {'met' if met else 'MISSED'})" if target else ""))


def s(seconds: float) -> str:
    return f"{seconds:.2f} s"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


# -- sections ---------------------------------------------------------------------------------------
def bench_help(bench: Bench, res: Results, times: int) -> None:
    runs = repeat(times, lambda: bench.labrunner("--help"))
    wall = median([r.seconds for r in runs])
    res.raw["help_s"] = [r.seconds for r in runs]
    res.add(f"`labrunner --help` (median of {len(runs)})", s(wall), "≤ 0.3 s", wall <= 0.3)


def bench_server_start(bench: Bench, res: Results, times: int) -> None:
    """`labrunner local start` until the server answers; the last start stays up for the rest."""
    samples = []
    for i in range(max(1, times)):
        if i:
            bench.labrunner("local", "stop")
        samples.append(bench.labrunner("local", "start").seconds)
    res.raw["server_start_s"] = samples
    res.add(f"`labrunner local start`: server up and answering (median of {len(samples)})", s(median(samples)))


def bench_workload(bench: Bench, res: Results, uploads: int, idle: int) -> None:
    """workload_pipeline's figures, in an account of their own (the lab account stays untouched)."""
    import workload_pipeline

    from labrunner.aws.session import TargetSpec
    from labrunner.target import open_target

    target = open_target(TargetSpec(kind="local", local_port=bench.port, account="000000000777"))
    assert target.endpoint_url is not None
    f = workload_pipeline.measure(target.session, target.endpoint_url, uploads, idle)
    res.raw["workload"] = f
    res.add("workload create_stack, first of the server (cold)", ms(f["create_stack_cold_s"]))
    res.add("workload create_stack, warm", ms(f["create_stack_warm_s"]))
    res.add("upload → item, first upload (cold Lambda worker)", ms(f["upload_first_s"]))
    res.add(
        f"upload → item, warm worker (n={f['upload_warm_n']:.0f})",
        f"median {ms(f['upload_warm_median_s'])}, p95 {ms(f['upload_warm_p95_s'])}, max {ms(f['upload_warm_max_s'])}",
        "median ≤ 150 ms",
        f["upload_warm_median_s"] <= 0.150,
    )
    if f["upload_idle_n"]:
        res.add(
            f"upload → item after 1.5 s idle (n={f['upload_idle_n']:.0f})", f"median {ms(f['upload_idle_median_s'])}"
        )


def lab_seconds(report: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for step in report["steps"]:
        out[step["lab"]] = out.get(step["lab"], 0.0) + step["duration_s"]
    return out


def summary_text(report: dict[str, Any]) -> str:
    return ", ".join(f"{n} {k}" for k, n in report["summary"].items() if n)


def bench_up_and_solve(bench: Bench, res: Results) -> None:
    up = bench.labrunner("up", "--format", "json")
    res.raw["up_s"] = up.seconds
    res.add("`labrunner up` (deploy the workload, prove an upload is recorded)", s(up.seconds))
    solve = bench.labrunner("solve", "--format", "json")
    report = solve.json()
    if report["summary"]["pass"] != len(report["steps"]):
        raise RuntimeError(f"solve did not pass every step: {report['summary']}")
    per_lab = lab_seconds(report)
    res.raw["solve"] = {"wall_s": solve.seconds, "run_s": report["duration_s"], "per_lab_s": per_lab}
    res.add(
        "`labrunner solve` (every lab, after `up`)",
        f"{s(solve.seconds)} ({summary_text(report)}; labs: "
        + ", ".join(f"{lab} {per_lab.get(lab, 0):.1f}" for lab in LABS)
        + " s)",
        "≤ 15 s",
        solve.seconds <= 15,
    )
    again = bench.labrunner("solve", "--format", "json")
    changed = [st["id"] for st in again.json()["steps"] if st.get("changed")]
    res.raw["solve_again_s"] = again.seconds
    res.add("`labrunner solve` again (idempotent)", f"{s(again.seconds)} (steps changed: {changed or 'none'})")


def bench_check(bench: Bench, res: Results, times: int) -> dict[str, Any]:
    """`check` of each lab as a student runs it (text output): wall time (median), the run's own duration
    and the AWS API requests (from a JSON run). Every lab's figures go to the comparison (bench_compare);
    returned here: its JSON report and requests."""
    every: dict[str, Any] = {}
    for label, ids in [("every lab", []), *[(lab, [lab]) for lab in LABS]]:
        counted, calls = bench.counted("check", *ids, "--format", "json")
        report = counted.json()
        if report["summary"]["pass"] != len(report["steps"]):
            raise RuntimeError(f"check {label} after solve did not pass: {report['summary']}")
        if not ids:
            every = {"report": report, "calls": calls}
            continue
        runs = repeat(times, lambda ids=ids: bench.labrunner("check", *ids))  # type: ignore[misc]
        if any(r.code != 0 for r in runs):
            raise RuntimeError(f"check {label} exited {[r.code for r in runs]}: {runs[-1].stdout[-2000:]}")
        res.raw.setdefault("check", {})[label] = {
            "wall_s": [r.seconds for r in runs],
            "run_s": report["duration_s"],
            "requests": calls["requests"],
            "by_operation": calls["by_operation"],
        }
        best = f", best {s(min(r.seconds for r in runs))}" if len(runs) > 1 else ""
        res.add(
            f"`labrunner check {ids[0]}`",
            f"{s(median([r.seconds for r in runs]))} wall{best} ({s(report['duration_s'])} of it checking), "
            f"{calls['requests']} AWS API requests, {len(report['steps'])} step(s) pass",
        )
    return every


def fresh_server(bench: Bench) -> None:
    """A server just started and brought to the solved state: what every tool's cold run meets."""
    bench.labrunner("local", "stop")
    bench.labrunner("local", "start")
    for command in ("up", "solve"):
        run = bench.labrunner(command, "--format", "json")
        if run.code != 0:
            raise RuntimeError(f"{command} on a fresh server exited {run.code}: {run.stdout[-2000:]}")


@dataclass(frozen=True)
class Tool:
    what: str
    run: Callable[[dict[str, str]], Run]  # given the environment `labrunner local env` sets
    reads: str  # how many AWS requests or calls one run makes


def timed(tool: Tool, env: dict[str, str]) -> Run:
    run = tool.run(env)
    if run.code != 0:  # a read that failed must not be timed as if it had succeeded
        raise RuntimeError(f"{tool.what} exited {run.code}:\n{run.stdout[-1000:]}\n{run.stderr[-2000:]}")
    return run


def bench_compare(bench: Bench, res: Results, runs: int, every: dict[str, Any]) -> None:
    """`labrunner check` of every lab against two scripts an author could write for the same reads: the
    aws CLI (bench/aws_cli_check.sh) and one boto3 process (bench/boto3_check.py). Each tool meets the
    same state for its cold run: the server restarted, `up`, `solve` (labrunner's cache under
    $LABRUNNER_HOME/cache emptied too). Then `runs` warm runs of each, taking turns; the median counts. Every figure is
    the whole command's wall time, process start-up included."""
    report, calls = every["report"], every["calls"]
    tools = [
        Tool("`labrunner check`", lambda _: bench.labrunner("check"), f"{calls['requests']} AWS API requests"),
        Tool(
            "boto3 script, the same reads (bench/boto3_check.py)",
            lambda env: bench.run([sys.executable, str(BENCH / "boto3_check.py")], env=env, check=False),
            "",
        ),
    ]
    aws = aws_cli()
    if aws is None:
        res.add("aws-CLI script (bench/aws_cli_check.sh)", "skipped: no aws CLI (pip install -e '.[test]')")
    else:
        tools.append(
            Tool(
                "aws-CLI script, the same reads (bench/aws_cli_check.sh)",
                lambda env: bench.run(["bash", str(BENCH / "aws_cli_check.sh")], env={**env, "AWS": aws}, check=False),
                "",
            )
        )
    # Cold: each tool after a server of its own. Warm: the tools take turns on the last server, so a
    # change of load on a shared machine falls on all three alike.
    colds: dict[str, Run] = {}
    for tool in tools:
        say(f"{tool.what}: fresh server, one cold run")
        fresh_server(bench)
        if tool.what.startswith("`labrunner"):
            shutil.rmtree(bench.home / "cache", ignore_errors=True)
        colds[tool.what] = timed(tool, bench.aws_env())
    say(f"{runs} warm runs of each, taking turns")
    env = bench.aws_env()
    warms: dict[str, list[Run]] = {tool.what: [] for tool in tools}
    for _ in range(runs):
        for tool in tools:
            warms[tool.what].append(timed(tool, env))
    figures: dict[str, tuple[float, float]] = {}
    for tool in tools:
        cold, warm = colds[tool.what], warms[tool.what]
        found = re.search(r"(?:aws_cli|boto3)_calls=(\d+)", warm[-1].stdout)
        reads = tool.reads or (f"{found[1]} calls" if found else "")
        walls = [r.seconds for r in warm]
        figures[tool.what] = (cold.seconds, median(walls))
        res.raw.setdefault("compare", {})[tool.what] = {"cold_s": cold.seconds, "warm_s": walls, "reads": reads}
        figure = f"cold {s(cold.seconds)}, warm {s(median(walls))} (best {s(min(walls))}); {reads}"
        if tool.what.startswith("`labrunner"):
            res.raw["check"] = {**res.raw.get("check", {}), "every lab": {"run_s": report["duration_s"], **calls}}
            res.add(
                f"`labrunner check` — every lab (cold, then median of {runs} warm)",
                f"{figure}, {len(report['steps'])} step(s) pass ({s(report['duration_s'])} of a warm run checking)",
                "warm ≤ 1 s",
                median(walls) <= 1.0,
            )
        else:
            res.add(f"{tool.what} (cold, then median of {runs} warm)", figure)
    ours_cold, ours_warm = figures["`labrunner check`"]
    for what, (cold_s, warm_s) in list(figures.items())[1:]:
        name = what.split(",", 1)[0]
        warm_ratio, cold_ratio = warm_s / ours_warm, cold_s / ours_cold
        res.raw["compare"][what] |= {"warm_ratio": warm_ratio, "cold_ratio": cold_ratio}
        target = "warm ≥ 10x" if name.startswith("aws-CLI") else ""
        res.add(
            f"`labrunner check` (every lab) vs the {name}",
            f"warm {ratio(warm_ratio)}, cold {ratio(cold_ratio)}",
            target,
            warm_ratio >= 10 if target else None,
        )


def ratio(r: float) -> str:
    return f"{r:.1f}x faster" if r >= 1 else f"{1 / r:.1f}x slower"


def bench_round_trips(bench: Bench, res: Results, runs: int) -> None:
    """`check` of every lab with every AWS request answered 0 and 100 ms later (the server's latency_ms
    fault): the difference of the medians over 100 ms is the round trips a check waits for in a row."""
    latency = round_trips.LATENCY_MS
    seconds = round_trips.check_at_latencies(bench, runs, (0, latency))
    t0, t100 = median(seconds[0]), median(seconds[latency])
    trips = (t100 - t0) / (latency / 1000)
    res.raw["round_trips"] = {"check_0ms": seconds[0], f"check_{latency}ms": seconds[latency], "round_trips": trips}
    res.add(
        f"`labrunner check` of every lab, 0 ms → {latency} ms per AWS request (`latency_ms`, median of {runs} "
        "each, taking turns)",
        f"{s(t0)} → {s(t100)}",
    )
    target = round_trips.TARGET_ROUND_TRIPS
    res.add(
        f"round trips on `check`'s critical path: (t{latency} - t0) / {latency} ms",
        f"{trips:.1f}",
        f"≤ {target}",
        trips <= target,
    )


def bench_reset(bench: Bench, res: Results) -> None:
    run = bench.labrunner("reset", "--yes")
    if run.code != 0:
        raise RuntimeError(f"reset failed ({run.code}): {run.stdout[-2000:]} {run.stderr[-2000:]}")
    res.raw["reset_s"] = run.seconds
    res.add("`labrunner reset --yes` (after every lab was solved)", s(run.seconds))


def bench_class(bench: Bench, res: Results, sizes: list[int], jobs: int, runs: int) -> None:
    deployed = class_check.deploy(bench, max(sizes), jobs)
    res.raw["class_deploy"] = deployed
    res.add(
        f"`labrunner class solve setup`, {deployed['students']} local accounts (--jobs {jobs}): the workload "
        "deployed in each (the accounts class check grades below)",
        f"{s(deployed['seconds'])} ({deployed['deployed']} deployed)",
    )
    for size in sizes:
        figures = class_check.check(bench, size, jobs, [], runs)
        res.raw.setdefault("class_check", {})[str(size)] = figures
        wall = median(figures["seconds"])
        target = "≤ 20 s" if size == 50 else ""
        graded = figures["summary"]
        res.add(
            f"`labrunner class check`, {size} local accounts (--jobs {jobs}, median of {runs})",
            f"{s(wall)} ({wall / size:.2f} s per student; {graded['students'] - graded['error']} graded, "
            f"{graded['error']} error rows)",
            target,
            (wall <= 20) if target else None,
        )


def bench_class_latency(bench: Bench, res: Results, size: int, jobs: int) -> None:
    """`class check` of accounts bench_class deployed, every AWS request answered 100 ms later."""
    latency = round_trips.LATENCY_MS
    try:
        round_trips.set_latency(bench, latency)
        figures = class_check.check(bench, size, jobs, [], 1)
    finally:
        round_trips.set_latency(bench, 0)
    res.raw["class_check_latency"] = figures
    res.add(
        f"`labrunner class check`, {size} local accounts (--jobs {jobs}), {latency} ms per AWS request",
        f"{s(figures['seconds'][0])} ({figures['summary']['students'] - figures['summary']['error']} graded)",
    )


def bench_iam_overhead(bench: Bench, res: Results) -> None:
    run = bench.run([sys.executable, str(BENCH / "iam_overhead.py"), "--json"])
    f = json.loads(run.stdout.strip().splitlines()[-1])
    res.raw["iam_overhead"] = f
    res.add(
        "local IAM: a new account's IAM backend (moto as shipped → shared, cloned)",
        f"{ms(f['new_account_moto_s'])} → {f['new_account_shared_s'] * 1000:.1f} ms",
    )
    for label, cost in f.items():
        if label.startswith("middleware: "):
            res.add(f"local IAM middleware per request: {label.removeprefix('middleware: ')}", f"{cost * 1e6:.0f} µs")


# -- output ---------------------------------------------------------------------------------------
def table(res: Results, args: argparse.Namespace) -> str:
    info = res.info
    lines = [
        f"Measured {info['date']} with `python bench/run.py{' --quick' if args.quick else ''}` on {info['machine']}; "
        f"{info['os']}, Python {info['python']}, {info['versions']}. Load average (1/5/15 min) at start "
        f"{info['load_start']}, at the end {info['load_end']}; the 1-minute figure at the start of each section "
        f"({len(res.loads)} samples, from /proc/loadavg) peaked at {max(res.loads, default=math.nan):.2f}.",
        "",
        "| what | figure | target | |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r.what} | {r.figure} | {r.target} | {r.verdict} |" for r in res.rows]
    return "\n".join(lines) + "\n"


def update_readme(text: str) -> None:
    readme = REPO / "README.md"
    content = readme.read_text()
    if README_START not in content or README_END not in content:
        raise SystemExit(f"README.md has no {README_START} … {README_END} section to rewrite")
    head, rest = content.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    readme.write_text(f"{head}{README_START}\n{text}{README_END}{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short run: one repeat, 5 uploads, a class of 10")
    parser.add_argument("--repeat", type=int, help="repeats of the timed commands (default 3, quick 1)")
    parser.add_argument("--class-jobs", type=int, default=4, help="class mode --jobs (labrunner's default: 4)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every raw figure as JSON")
    parser.add_argument("--readme", action="store_true", help=f"rewrite README.md between {README_START} markers")
    parser.add_argument("--keep-home", action="store_true", help="keep the private LABRUNNER_HOME (logs)")
    args = parser.parse_args()
    times = args.repeat or (1 if args.quick else 3)
    sizes = [10] if args.quick else [10, 50]

    home = Path(tempfile.mkdtemp(prefix="labrunner-bench-"))
    bench = Bench(home, free_port())
    os.environ.update(LABRUNNER_HOME=str(home), LABRUNNER_LOCAL_PORT=str(bench.port))
    res = Results(info={**machine(), "load_start": load_average()}, rows=[], raw={})
    say(f"private local AWS on port {bench.port}, LABRUNNER_HOME={home}")
    started = time.perf_counter()
    sections: list[tuple[str, Callable[[], Any]]] = [
        ("--help", lambda: bench_help(bench, res, max(times, 5))),
        ("server start", lambda: bench_server_start(bench, res, times)),
        ("workload", lambda: bench_workload(bench, res, 5 if args.quick else 30, 2 if args.quick else 5)),
        ("up and solve", lambda: bench_up_and_solve(bench, res)),
    ]
    try:
        for name, section in sections:
            res.section(name)
            section()
        res.section("check")
        every = bench_check(bench, res, times)
        res.section("labrunner check vs the aws-CLI and boto3 scripts")
        bench_compare(bench, res, 3 * times, every)
        res.section("round trips")
        bench_round_trips(bench, res, max(times, 5))
        res.section("reset")
        bench_reset(bench, res)
        res.section("class mode")
        bench_class(bench, res, sizes, args.class_jobs, 1 if args.quick else 2)
        bench_class_latency(bench, res, 10, args.class_jobs)
        if not args.quick:
            res.section("local IAM layer")
            bench_iam_overhead(bench, res)
    finally:
        bench.labrunner("local", "stop", check=False)
        res.info["load_end"] = load_average()
        if not args.keep_home:
            shutil.rmtree(home, ignore_errors=True)
    say(f"done in {time.perf_counter() - started:.0f} s")
    text = table(res, args)
    print(text)
    if args.json:
        args.json.write_text(
            json.dumps(
                {"info": res.info, "rows": [asdict(r) for r in res.rows], "loads": res.loads, **res.raw}, indent=1
            )
        )
    if args.readme:
        update_readme(text)
    return 0 if all(r.met is not False for r in res.rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
