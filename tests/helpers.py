"""Helpers shared by tests: build a context on the local server, run steps, call the CLI."""

from __future__ import annotations

import io
import os
import shutil
import sys
from collections.abc import Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from labrunner.aws.session import TargetSpec
from labrunner.cli import main
from labrunner.context import Context, Settings
from labrunner.discovery import Catalogue, load_catalogue
from labrunner.local.lifecycle import Endpoint
from labrunner.model import Report, Status, StepResult
from labrunner.runner import Runner
from labrunner.target import open_target


def admin_boto3(endpoint: Endpoint) -> boto3.Session:
    """A boto3 session as the local admin of the endpoint's server (its LABRUNNER_HOME's secret)."""
    return boto3.Session(
        aws_access_key_id=endpoint.access_key,
        aws_secret_access_key=endpoint.secret_key,
        region_name=endpoint.region,
    )


def require_tool(found: object, why: str) -> None:
    """A test tool outside pip (Debian's chromium, the npm IAM simulator): a fresh machine without it
    skips the tests that need it; .ci/run installs them and sets LABRUNNER_TEST_TOOLS=required, so
    there a missing tool fails instead of skipping unseen."""
    if found:
        return
    if os.environ.get("LABRUNNER_TEST_TOOLS") == "required":
        pytest.fail(why)
    pytest.skip(why)


def aws_cli() -> str:
    """The aws CLI of the test environment: next to this Python (the venv's bin/), else on PATH."""
    beside = Path(sys.executable).parent / "aws"
    found = str(beside) if beside.exists() else shutil.which("aws")
    assert found, "the aws CLI is a test dependency (pip install -e '.[test]')"
    return found


def local_context(endpoint: Endpoint, *, stack_name: str = "immersion", account: str | None = None) -> Context:
    spec = TargetSpec(kind="local", local_port=endpoint.port, account=account)
    return Context(open_target(spec), Settings(stack_name=stack_name))


def run(ctx: Context, mode: str, ids: Sequence[str], catalogue: Catalogue | None = None) -> Report:
    catalogue = catalogue or load_catalogue()
    runner = Runner(ctx, catalogue)
    steps = catalogue.select(list(ids))
    return runner.solve(steps) if mode == "solve" else runner.check(steps)


def statuses(report: Report) -> dict[str, Status]:
    return {step.id: step.status for step in report.steps}


def step(report: Report, step_id: str) -> StepResult:
    return next(s for s in report.steps if s.id == step_id)


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str


def cli(*args: str) -> CliResult:
    """Run `labrunner ARGS` in-process and capture what it prints."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return CliResult(code, out.getvalue(), err.getvalue())
