"""Rehearse, reset, teach on the same day: S3 holds a deleted bucket's name (OperationAborted for
bucket_name_hold_s, 60 s by default locally, hours on AWS), so every bucket solve makes gets a new
name per deployment and is found again by its tags — and reset still takes exactly those."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from labrunner.aws import lab_buckets
from labrunner.context import Context
from labrunner.local import faults
from labrunner.local.lifecycle import Endpoint
from tests.helpers import cli, local_context

pytestmark = pytest.mark.slow

LAB_PREFIXES = ("immersion-upload-logs-", "immersion-config-demo-", "immersion-config-delivery-")
LAB2 = ("lab2.encryption", "lab2.encrypted-upload", "lab2.log-bucket", "lab2.access-logging", "lab2.logs-delivered")
LAB4 = ("lab4.recorder", "lab4.rules", "lab4.noncompliance", "lab4.remediated")


def step_statuses(*args: str) -> dict[str, str]:
    result = cli(*args, "--format", "json")
    assert result.out, result.err
    return {s["id"]: s["status"] for s in json.loads(result.out)["steps"]}


def lab_bucket_names(ctx: Context) -> set[str]:
    return {b["Name"] for b in ctx.client("s3").list_buckets()["Buckets"] if b["Name"].startswith(LAB_PREFIXES)}


def create_error(ctx: Context, name: str) -> str | None:
    try:
        ctx.client("s3").create_bucket(Bucket=name)
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return None


def test_up_solve_reset_up_solve_check_in_one_account(ctx: Context, local_server: Endpoint) -> None:
    assert faults.status(local_server.url)["settings"]["bucket_name_hold_s"] == 60
    assert cli("up").code == 0
    rehearsal = step_statuses("solve", "lab2", "lab4")
    assert set(rehearsal.values()) == {"pass"}, rehearsal
    first = lab_bucket_names(ctx)
    assert {name.rsplit("-", 1)[0] for name in first} == {f"{prefix}{ctx.suffix}" for prefix in LAB_PREFIXES}

    reset = cli("reset", "--yes", "--format", "json")
    assert reset.code == 0, reset.out
    assert json.loads(reset.out)["clean"] is True
    assert lab_bucket_names(ctx) == set()
    # The rehearsal's names are held now, as on AWS: nobody gets them for a while.
    assert {create_error(ctx, name) for name in first} == {"OperationAborted"}

    assert cli("up").code == 0
    ctx.refresh()
    live = step_statuses("solve", "lab2", "lab4")
    assert set(live.values()) == {"pass"}, live
    second = lab_bucket_names(ctx)
    assert len(second) == 3 and not second & first
    checked = step_statuses("check", "lab2", "lab4")
    assert checked == dict.fromkeys((*LAB2, *LAB4), "pass"), checked


def test_two_stacks_in_one_account_keep_their_own_buckets(ctx: Context, local_server: Endpoint) -> None:
    """alice and bob share an account: each solve makes its own log bucket, reset of alice spares bob's,
    and lookalikes of solve's names that solve did not make survive."""
    for stack in ("alice", "bob"):
        assert cli("--stack-name", stack, "up").code == 0
        solved = step_statuses("--stack-name", stack, "solve", "lab2")
        assert set(solved.values()) == {"pass"}, solved
    s3 = ctx.client("s3")
    alice = lab_buckets.find(s3, lab_buckets.LOG, local_context(local_server, stack_name="alice"))
    bob = lab_buckets.find(s3, lab_buckets.LOG, local_context(local_server, stack_name="bob"))
    assert alice and bob and alice != bob
    lookalike = f"immersion-config-delivery-{ctx.suffix}-backup"
    s3.create_bucket(Bucket=lookalike)

    reset = cli("--stack-name", "alice", "reset", "--yes", "--format", "json")
    assert reset.code == 0, reset.out
    deleted = {a["name"] for a in json.loads(reset.out)["actions"] if a["outcome"] == "deleted"}
    assert alice in deleted and bob not in deleted
    left = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert alice not in left and {bob, lookalike} <= left
    assert step_statuses("--stack-name", "bob", "check", "lab2")["lab2.log-bucket"] == "pass"


def test_class_solve_right_after_a_class_reset(fresh_server: Endpoint, local_env: Endpoint, tmp_path: Path) -> None:
    roster = tmp_path / "class.yaml"
    roster.write_text('- {name: ann, account: "555555555555"}\n- {name: ben, account: "666666666666"}\n')

    def class_solve() -> dict[str, dict[str, str]]:
        result = cli("class", "solve", "setup", "lab2", "lab4", "--roster", str(roster), "--format", "json")
        assert result.out, result.err
        return {
            s["name"]: {step["id"]: step["status"] for step in s["report"]["steps"]}
            for s in json.loads(result.out)["students"]
        }

    rehearsal = class_solve()
    assert all(set(steps.values()) == {"pass"} for steps in rehearsal.values()), rehearsal
    before = {
        acct: lab_bucket_names(local_context(fresh_server, account=acct)) for acct in ("555555555555", "666666666666")
    }
    reset = cli("class", "reset", "--roster", str(roster), "--format", "json")
    assert reset.code == 0, reset.out
    live = class_solve()
    assert all(set(steps.values()) == {"pass"} for steps in live.values()), live
    for acct, old in before.items():
        now = lab_bucket_names(local_context(fresh_server, account=acct))
        assert len(now) == 3 and not now & old
