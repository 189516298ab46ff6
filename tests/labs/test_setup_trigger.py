"""setup.pipeline while a brand-new queue trigger is still starting (Lambda: State Creating).

On AWS a new event source mapping may take minutes to start polling; the upload waits in the queue.
The local AWS reproduces it with `lambda_esm_startup_s`; the step is pending then, and says why.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from labrunner import paths
from labrunner.aws.pipeline import upload_file
from labrunner.context import Context
from labrunner.local import faults
from labrunner.local.lifecycle import Endpoint
from labrunner.model import Status
from tests.helpers import run, statuses, step

STARTUP_S = 4.0


@pytest.fixture
def slow_trigger(ctx: Context, local_server: Endpoint) -> Iterator[Context]:
    faults.configure(local_server.url, lambda_esm_startup_s=STARTUP_S)
    try:
        yield ctx
    finally:
        faults.configure(local_server.url, lambda_esm_startup_s=0)


def _mapping_states(ctx: Context) -> list[str]:
    pages = ctx.client("lambda").get_paginator("list_event_source_mappings")
    return [m["State"] for p in pages.paginate(FunctionName=ctx.workload().function) for m in p["EventSourceMappings"]]


def test_a_new_trigger_is_creating_then_enabled_and_the_pipeline_is_pending_meanwhile(slow_trigger: Context) -> None:
    ctx = slow_trigger
    created = time.monotonic()
    assert statuses(run(ctx, "solve", ["setup.stack"])) == {"setup.stack": Status.PASS}
    ctx.refresh()
    assert _mapping_states(ctx) == ["Creating"]
    upload_file(ctx.client("s3"), ctx.workload().bucket, paths.sample_files_dir() / "Pride and Permissions.txt")
    report = run(ctx, "check", ["setup.pipeline"])
    result = step(report, "setup.pipeline")
    assert result.status is Status.PENDING, result
    detail = " ".join(c.detail for c in result.checks)
    assert "still starting" in detail and "Creating" in detail, detail

    while _mapping_states(ctx) == ["Creating"]:
        assert time.monotonic() - created < STARTUP_S + 30, "the trigger never became Enabled"
        time.sleep(0.25)
    assert _mapping_states(ctx) == ["Enabled"]
    deadline = time.monotonic() + 30
    while (status := step(run(ctx, "check", ["setup.pipeline"]), "setup.pipeline").status) is not Status.PASS:
        assert status is Status.PENDING and time.monotonic() < deadline, status
        time.sleep(0.5)
