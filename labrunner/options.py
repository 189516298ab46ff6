"""The commands' typed options, and the helpers every command shares (issue 16's commands layer).

labrunner.cli parses the command line into `Options` (a frozen dataclass, never argparse.Namespace)
and hands it to a command: check/solve (labrunner.cli's own), reset, doctor, class, serve, watch.
A field the command line did not give is None (or empty): each command chooses its default.
"""

from __future__ import annotations

import gc
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from labrunner.errors import UsageError
from labrunner.output_path import FolderPath

if TYPE_CHECKING:
    from labrunner.context import Context
    from labrunner.discovery import Catalogue

STACK_NAME = re.compile(r"[A-Za-z][-A-Za-z0-9]{0,127}")  # CloudFormation's rule for stack names
TARGETS = ("local", "aws")
PROCESS = {"one_command": False}  # True in the `labrunner` program, False for a caller running commands in-process


@dataclass(frozen=True)
class Options:
    """Everything a command may be given on the command line (SPEC §3)."""

    command: str | None = None
    # common options
    target: str | None = None
    profile: str | None = None
    region: str | None = None
    stack_name: str | None = None
    format: str | None = None
    output: Path | None = None
    labs_dir: tuple[Path, ...] = ()
    port: int | None = None
    wait_scale: float | None = None
    debug: bool = False
    # per command
    step: str | None = None  # explain
    ids: tuple[str, ...] = ()  # solve, check, class
    jobs: int = 8  # check, class
    watch: bool = False  # check
    interval: float | None = None  # check --watch, class serve
    dry_run: bool = False  # reset, class reset
    yes: bool = False  # reset, class reset
    action: str | None = None  # local, class
    settings: tuple[str, ...] = ()  # local faults / scenario
    account: str | None = None  # local scenario
    roster: Path | None = None  # class


def roster(options: Options) -> Path:
    if options.roster is None:
        raise UsageError("a class command needs --roster FILE")
    return options.roster


def stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def target_kind(options: Options) -> str:
    kind = options.target or os.environ.get("LABRUNNER_TARGET") or "local"
    if kind not in TARGETS:
        raise UsageError(f"LABRUNNER_TARGET must be one of {', '.join(TARGETS)}, not {kind!r}")
    return str(kind)


def local_port(options: Options) -> int:
    from labrunner.local import state

    port = options.port
    if port is None:
        return state.default_port()
    if not 1 <= port <= 65535:
        raise UsageError(f"--port must be between 1 and 65535, not {port}")
    return int(port)


def load_catalogue(options: Options) -> Catalogue:
    from labrunner.discovery import load_catalogue as load

    catalogue = load(list(options.labs_dir))
    if PROCESS["one_command"]:
        # The engine, boto3 and the labs are imported now and live as long as the process: keep the
        # cyclic garbage collector from scanning them again and again (a tenth of a check's CPU).
        gc.freeze()
    return catalogue


def open_context(options: Options) -> Context:
    from labrunner.aws.session import TargetSpec
    from labrunner.context import Context, Settings
    from labrunner.target import open_target

    kind = target_kind(options)
    spec = TargetSpec(
        kind=kind,  # type: ignore[arg-type]
        region=options.region,
        profile=options.profile,
        local_port=local_port(options) if kind == "local" else None,
    )
    if kind == "local" and spec.profile:
        raise UsageError("--profile applies to --target aws only")
    wait_scale = float(1.0 if options.wait_scale is None else options.wait_scale)
    if wait_scale <= 0:
        raise UsageError(f"--wait-scale must be positive, not {wait_scale}")
    stack_name = str("immersion" if options.stack_name is None else options.stack_name)
    if not STACK_NAME.fullmatch(stack_name):
        raise UsageError(
            f"--stack-name {stack_name!r} is not a valid stack name (a letter, then letters, digits or "
            "hyphens, at most 128 characters)"
        )
    target = open_target(spec, notify=stderr)
    return Context(target, Settings(stack_name=stack_name, wait_scale=wait_scale))


def check_output_path(options: Options) -> None:
    """Refuse an unwritable --output before doing any work."""
    output = options.output
    if output is None:
        return
    if isinstance(output, FolderPath):
        raise UsageError(f"--output {output}/ names a folder: give a file name, such as {output}/report.txt")
    parent = output.parent if str(output.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"cannot write {output}: directory {parent} does not exist")
    if output.is_dir():
        raise UsageError(f"cannot write {output}: it is a directory")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"cannot write {output}: directory {parent} is not writable")
