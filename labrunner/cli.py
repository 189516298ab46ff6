"""Command line: parse arguments → build a context → run → render → exit code (SPEC §3).

Kept light at import time (no boto3, no rich) so that `labrunner --help` starts fast.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from labrunner import __version__
from labrunner.errors import LabrunnerError, UsageError
from labrunner.options import (
    PROCESS,
    TARGETS,
    Options,
    load_catalogue,
    local_port,
    open_context,
    stderr,
)
from labrunner.output_path import parse_output

if TYPE_CHECKING:
    pass

FORMATS = ("text", "json", "junit", "markdown", "html")
HTML_COMMANDS = ("check", "solve", "up", "class")  # --format html: reports of steps, per student too

DESCRIPTION = """\
Run and grade the AWS Serverless Security Immersion Day lab.

The workload (S3 upload bucket -> SQS -> Lambda -> DynamoDB) is deployed insecure on purpose,
then secured lab by lab. By default everything runs against an embedded local AWS on
127.0.0.1 (no account needed); --target aws uses a real account.
"""

EPILOG = """\
examples:
  labrunner up                      deploy the workload and prove it works
  labrunner check                   grade every lab (read-only), with a hint per unmet step
  labrunner check lab2 --format json
  labrunner solve lab3              do lab 3 as the lab text says, then verify it
  labrunner explain lab2.access-logging
  labrunner reset --dry-run         show what a reset would remove
  labrunner --target aws --profile student1 check
  labrunner class check --roster class.yaml --jobs 8
  labrunner class serve --roster class.yaml   the live class dashboard in a browser

exit codes: 0 no selected step failed or errored; 1 at least one did;
            2 the command could not run as asked (bad input, no credentials, unreachable endpoint)
"""


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _common_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Options valid before or after the command. After-command copies use SUPPRESS so they
    do not overwrite a value given before the command."""

    def d(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("common options")
    group.add_argument(
        "--target", choices=TARGETS, default=d(None), help="local (default; env LABRUNNER_TARGET) or aws"
    )
    group.add_argument("--profile", default=d(None), help="AWS profile (aws target)")
    group.add_argument("--region", default=d(None), help="AWS region (default: AWS config, else us-east-1)")
    group.add_argument("--stack-name", default=d(None), help="the workload's stack (default: immersion)")
    group.add_argument("--format", choices=FORMATS, default=d(None), help="report format (default: text)")
    group.add_argument(
        "--output",
        type=parse_output,
        default=d(None),
        metavar="FILE",
        help="also write the report to FILE (class mode: a folder, e.g. reports/, gets one file per student)",
    )
    group.add_argument(
        "--labs-dir", type=Path, action="append", default=d(None), metavar="DIR", help="extra step plugins"
    )
    group.add_argument("--port", type=int, default=d(None), help="local AWS port (env LABRUNNER_LOCAL_PORT)")
    group.add_argument(
        "--wait-scale",
        type=float,
        default=d(None),
        metavar="X",
        help="multiply every wait for AWS's eventual consistency by X (default 1)",
    )
    group.add_argument("--debug", action="store_true", default=d(False), help="show tracebacks")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="labrunner",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"labrunner {__version__}")
    _common_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        _common_options(p, suppress=True)
        return p

    command("labs", "list the labs, their steps, titles and NIST controls")
    p = command("explain", "what a step checks, why, how to do it in the console, and what solve does")
    p.add_argument("step", metavar="STEP", help="a step id such as lab2.access-logging (or a lab id)")
    command("up", "deploy the workload and prove it works (= solve setup)")
    p = command("solve", "for each selected step: apply it (idempotent), then verify it")
    p.add_argument("ids", nargs="*", metavar="ID", help="lab ids (lab2) or step ids (lab2.access-logging); none = all")
    p = command("check", "verify only, read-only, with a hint for every unmet step")
    p.add_argument("ids", nargs="*", metavar="ID", help="lab ids or step ids; none = all")
    p.add_argument("--jobs", type=int, default=8, help="steps verified at once (default 8)")
    p.add_argument("--watch", action="store_true", help="check again and again until Ctrl-C, showing what changes")
    p.add_argument("--interval", type=float, default=None, metavar="S", help="--watch: seconds between checks (10)")
    p = command("reset", "remove everything the lab created, and nothing else")
    p.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    command("doctor", "preflight before class: can the lab run in this account and region? (read-only)")

    p = command("local", "the embedded local AWS server")
    p.add_argument(
        "action",
        choices=("start", "stop", "status", "env", "serve", "faults", "scenario"),
        help="start/stop the background server, show its status, print export lines, serve in the foreground, "
        "show / change its timing knobs (faults KEY=VALUE...), or set up an account as a scenario "
        "(scenario control-tower [--account ID])",
    )
    p.add_argument(
        "settings",
        nargs="*",
        metavar="KEY=VALUE",
        help="faults: knobs to change, e.g. latency_ms=100; scenario: its name (control-tower)",
    )
    p.add_argument(
        "--account", default=None, help="scenario: the 12-digit account (default: the local default account)"
    )

    p = command(
        "class", "check, solve, reset or doctor a whole class of accounts (roster YAML), or serve its live dashboard"
    )
    p.add_argument("action", choices=("check", "solve", "reset", "doctor", "serve"))
    p.add_argument("ids", nargs="*", metavar="ID", help="lab or step ids (check/solve/serve)")
    p.add_argument("--roster", type=Path, required=True, metavar="FILE", help="YAML list of students")
    p.add_argument("--jobs", type=int, default=4, help="students handled at once (default 4)")
    p.add_argument("--dry-run", action="store_true", help="reset: print the plans and stop")
    p.add_argument("--yes", action="store_true", help="reset: do not ask for confirmation")
    p.add_argument(
        "--interval", type=float, default=None, metavar="S", help="serve: seconds between checks of the class (30)"
    )
    return parser


# -- option resolution --------------------------------------------------------------------------
def _opt(options: Options, name: str, default: Any = None) -> Any:
    value = getattr(options, name, None)
    return default if value is None else value


def one_line(message: str) -> str:
    """An error message on one line (a plugin's exception text may span several)."""
    return " / ".join(part.strip() for part in message.splitlines() if part.strip())


def _stderr(message: str) -> None:
    stderr(message)


def _notice(message: str) -> None:
    """A line the user must not miss (e.g. the local AWS restarted empty)."""
    _stderr(f"labrunner: {message}")


def check_options(options: Options) -> None:
    """Refuse option values that cannot be right before any command runs (one line, exit 2)."""
    region = _opt(options, "region")
    if region is not None:
        from labrunner.aws.regions import check_region

        check_region(region)
    wait_scale = _opt(options, "wait_scale")
    if wait_scale is not None and not (math.isfinite(wait_scale) and wait_scale > 0):
        raise UsageError(f"--wait-scale must be positive and finite, not {wait_scale}")
    if _opt(options, "format") == "html" and options.command not in HTML_COMMANDS:
        raise UsageError(f"--format html applies to check, solve and class, not to {options.command}")
    from labrunner.local.state import check_home

    check_home()


# -- commands ----------------------------------------------------------------------------------
def cmd_labs(options: Options) -> int:
    from labrunner.reporting.catalogue import print_catalogue

    print_catalogue(load_catalogue(options), _opt(options, "format", "text"))
    return 0


def cmd_explain(options: Options) -> int:
    from labrunner.reporting.catalogue import print_explanation

    catalogue = load_catalogue(options)
    if options.step is None:
        raise UsageError("explain takes a STEP (see `labrunner explain --help`)")
    steps = catalogue.select([options.step])
    print_explanation(catalogue, steps)
    return 0


def _run(options: Options, mode: str, ids: Sequence[str]) -> int:
    from labrunner.run_command import run_steps

    return run_steps(options, mode, ids)


def cmd_up(options: Options) -> int:
    return _run(options, "solve", ["setup"])


def cmd_solve(options: Options) -> int:
    return _run(options, "solve", options.ids)


def cmd_check(options: Options) -> int:
    if options.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if options.watch or options.interval is not None:
        from labrunner.watch_command import run_watch_command

        return run_watch_command(options)
    return _run(options, "check", options.ids)


def cmd_reset(options: Options) -> int:
    from labrunner.reset import run_reset_command

    return run_reset_command(options, open_context)


def cmd_doctor(options: Options) -> int:
    """`labrunner doctor`, and `labrunner class doctor` (cmd_class hands it over)."""
    from labrunner.doctor.command import run_class_doctor, run_doctor_command

    if options.command == "class":
        return run_class_doctor(options)
    return run_doctor_command(options, open_context)


def cmd_class(options: Options) -> int:
    from labrunner.class_command import run_class_command

    if options.action == "serve":  # the dashboard; --port is its own port there
        from labrunner.dashboard.command import run_serve

        return run_serve(options)
    if options.interval is not None:
        raise UsageError("--interval applies to `class serve` only")
    if options.action == "doctor":
        return cmd_doctor(options)
    return run_class_command(options)


def cmd_local(options: Options) -> int:
    from labrunner.local import lifecycle

    port = local_port(options)
    if options.action == "serve":
        from labrunner.local.server import serve

        code = serve(port, quiet=not _opt(options, "debug", False))
        if code:
            raise UsageError(f"port {port} on 127.0.0.1 is already in use; choose another with --port")
        return 0
    if options.action == "start":
        endpoint, started = lifecycle.start(port, _notice)
        verb = "started" if started else "already running"
        print(f'local AWS {verb} on {endpoint.url} (pid {endpoint.pid}); `eval "$(labrunner local env)"` to use it')
        return 0
    if options.action == "stop":
        print("local AWS stopped" if lifecycle.stop(port) else f"local AWS was not running on port {port}")
        return 0
    if options.action == "status":
        running = lifecycle.status(port)
        if running is None:
            print(f"local AWS is not running on port {port}")
            return 1
        print(f"local AWS running on {running.url} (pid {running.pid})")
        return 0
    if options.action == "faults":
        return _local_faults(port, list(options.settings))
    if options.action == "scenario":
        return _local_scenario(options, port)
    if options.account is not None:
        raise UsageError(f"`labrunner local {options.action}` takes no --account (only `local scenario` does)")
    if options.settings:
        raise UsageError(f"`labrunner local {options.action}` takes no KEY=VALUE arguments")
    endpoint, started = lifecycle.start(port, _notice)  # env
    if started:
        _stderr(f"Started the local AWS on {endpoint.url}.")
    print("\n".join(lifecycle.env_lines(endpoint)))
    return 0


SCENARIOS = ("control-tower",)


def _local_scenario(options: Options, port: int) -> int:
    """`labrunner local scenario control-tower [--account ID]` (SPEC §6 item 11)."""
    from labrunner.local import admin, identity, lifecycle

    names = list(options.settings)
    if len(names) != 1 or names[0] not in SCENARIOS:
        raise UsageError(f"`labrunner local scenario` takes one scenario name: {', '.join(SCENARIOS)}")
    account = options.account or identity.DEFAULT_ACCOUNT
    if not re.fullmatch(r"\d{12}", account):
        raise UsageError(f"--account must be a 12-digit AWS account id, not {account!r}")
    region = _opt(options, "region", None) or os.environ.get("AWS_DEFAULT_REGION") or identity.DEFAULT_REGION
    endpoint, started = lifecycle.start(port)
    if started:
        _stderr(f"Started the local AWS on {endpoint.url}.")
    answer = admin.call(endpoint.url, "POST", "config/control-tower", account=account, region=region)
    print(
        f"account {answer['account']} ({answer['region']}) now looks like an AWS Control Tower member account: "
        f"Config recorder {answer['recorder']} records all resources, delivery channel {answer['channel']} "
        f"delivers to s3://{answer['bucket']} (another account's log archive); Security Hub rules: "
        + ", ".join(answer["rules"])
    )
    return 0


def _local_faults(port: int, assignments: list[str]) -> int:
    """`labrunner local faults [KEY=VALUE...]`: show the knobs, or change them all at once."""
    from labrunner.local import faults, lifecycle

    changes: dict[str, str] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise UsageError(f"expected KEY=VALUE (e.g. latency_ms=100), not {item!r}")
        changes[key] = value
    endpoint, started = lifecycle.start(port)
    if started:
        _stderr(f"Started the local AWS on {endpoint.url}.")
    answer = faults.configure(endpoint.url, **changes) if changes else faults.status(endpoint.url)
    env_vars = answer.get("env_vars", {})
    for name, value in sorted(answer.get("settings", {}).items()):
        print(f"{name}={value:g}  ({env_vars.get(name, '')})")
    counters = answer.get("counters", {})
    if counters:
        print("injected: " + ", ".join(f"{name} {count}" for name, count in sorted(counters.items())))
    return 0


COMMANDS: dict[str, Callable[[Options], int]] = {
    "labs": cmd_labs,
    "explain": cmd_explain,
    "up": cmd_up,
    "solve": cmd_solve,
    "check": cmd_check,
    "reset": cmd_reset,
    "local": cmd_local,
    "class": cmd_class,
    "doctor": cmd_doctor,
}


def options_of(args: argparse.Namespace) -> Options:
    """The parsed command line as the commands' typed options (argparse.Namespace stays here)."""
    given: dict[str, Any] = {field.name: getattr(args, field.name, None) for field in fields(Options)}
    for name in ("labs_dir", "ids", "settings"):
        if given[name] is not None:
            given[name] = tuple(given[name])
    return Options(**{name: value for name, value in given.items() if value is not None})


def main(argv: Sequence[str] | None = None) -> int:
    PROCESS["one_command"] = argv is None  # the `labrunner` program, not a caller running commands in-process
    if PROCESS["one_command"]:
        from labrunner import interrupt

        interrupt.install()
    parser = build_parser()
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    try:
        options = options_of(parser.parse_args(argv))
        debug = options.debug
        if options.command is None:
            parser.print_help()
            return 2
        check_options(options)
        return COMMANDS[options.command](options)
    except LabrunnerError as exc:
        if debug:
            raise
        _stderr(f"labrunner: {one_line(str(exc))}")
        return exc.exit_code
    except KeyboardInterrupt:
        from labrunner import interrupt

        interrupt.say_interrupted()  # exit cleans up; interrupt's grace timer ends it if that hangs
        return interrupt.EXIT_CODE
    except Exception as exc:
        if debug:
            raise
        detail = one_line(str(exc))
        _stderr(f"labrunner: internal error: {type(exc).__name__}: {detail} (run with --debug for the traceback)")
        return 2
