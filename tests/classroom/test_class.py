"""`labrunner class` over several accounts of the local AWS: graded right, kept apart, errors isolated."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from labrunner.local.lifecycle import Endpoint
from labrunner.model import Status
from tests.helpers import cli, local_context, run, statuses

ALICE, BOB, DAVE = "111111111111", "222222222222", "444444444444"
BROKEN_ROLE = "arn:aws:iam::333333333333:role/NoSuchRole"
REPORT_KEYS = {"schema", "target", "account", "region", "stack", "started_at", "duration_s", "steps", "summary"}


@pytest.fixture
def classroom(fresh_server: Endpoint, local_env: Endpoint, tmp_path: Path) -> Path:
    """Alice and Dave have deployed the workload, Bob has not, Carol's entry cannot be reached."""
    for account in (ALICE, DAVE):
        report = run(local_context(fresh_server, account=account), "solve", ["setup"])
        assert statuses(report) == {"setup.stack": Status.PASS, "setup.pipeline": Status.PASS}
    roster = tmp_path / "class.yaml"
    roster.write_text(
        f"""\
- name: alice
  account: "{ALICE}"
- name: bob
  account: "{BOB}"
- name: carol
  role_arn: {BROKEN_ROLE}
- name: dave
  account: "{DAVE}"
"""
    )
    return roster


def class_json(*args: str) -> tuple[int, dict[str, Any]]:
    result = cli("class", *args, "--format", "json")
    assert result.out, result.err
    return result.code, json.loads(result.out)


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {student["name"]: student for student in report["students"]}


def step_status(student: dict[str, Any], step_id: str) -> str:
    return next(s["status"] for s in student["report"]["steps"] if s["id"] == step_id)


def stack_id(endpoint: Endpoint, account: str | None) -> str | None:
    info = local_context(endpoint, account=account).find_stack()
    return info.stack_id if info is not None else None


def test_class_check_grades_each_account_and_isolates_the_broken_one(classroom: Path) -> None:
    code, report = class_json("check", "setup", "--roster", str(classroom), "--jobs", "3")

    assert code == 1  # bob fails, carol errors
    assert report["schema"] == "labrunner.class-report/v1"
    assert [s["name"] for s in report["students"]] == ["alice", "bob", "carol", "dave"]
    students = by_name(report)
    for name, account in (("alice", ALICE), ("dave", DAVE)):
        assert set(students[name]["report"]) == REPORT_KEYS
        assert students[name]["report"]["schema"] == "labrunner.report/v1"
        assert students[name]["account"] == account == students[name]["report"]["account"]
        assert step_status(students[name], "setup.stack") == "pass"
        assert step_status(students[name], "setup.pipeline") == "pass"
    assert step_status(students["bob"], "setup.stack") == "fail"
    assert students["bob"]["report"]["account"] == BOB
    carol = students["carol"]
    assert "report" not in carol
    assert "cannot assume" in carol["error"] and "AccessDenied" in carol["error"]
    assert carol["account"] == "333333333333"
    assert report["summary"] == {"students": 4, "ok": 2, "failed": 1, "error": 1}


def test_class_solve_changes_only_the_students_own_accounts(classroom: Path, fresh_server: Endpoint) -> None:
    alice_stack = stack_id(fresh_server, ALICE)
    roster = classroom.parent / "bob.yaml"
    roster.write_text(f'- {{name: bob, account: "{BOB}"}}\n- {{name: carol, role_arn: "{BROKEN_ROLE}"}}\n')

    code, report = class_json("solve", "setup", "--roster", str(roster), "--jobs", "2")

    assert code == 1  # carol
    bob = by_name(report)["bob"]
    assert step_status(bob, "setup.stack") == "pass"
    assert all(s["changed"] is True for s in bob["report"]["steps"])
    assert stack_id(fresh_server, BOB) is not None
    assert stack_id(fresh_server, ALICE) == alice_stack  # untouched
    assert stack_id(fresh_server, None) is None  # nor the admin's own account


def test_class_reset_resets_every_account_and_proves_it(classroom: Path, fresh_server: Endpoint) -> None:
    code, report = class_json("reset", "--roster", str(classroom))

    assert code == 1  # carol could not be reached
    students = by_name(report)
    for name in ("alice", "bob", "dave"):
        reset = students[name]["reset"]
        assert reset["clean"] is True, reset["verdict"]
        steps = students[name]["report"]["steps"]
        assert not [s for s in steps if s["status"] == "pass"]
    assert any(a["type"] == "stack" and a["outcome"] == "deleted" for a in students["alice"]["reset"]["actions"])
    assert students["bob"]["reset"]["actions"] == []  # nothing of the lab there
    assert "error" in students["carol"]
    for account in (ALICE, BOB, DAVE):
        assert stack_id(fresh_server, account) is None


def test_class_reset_dry_run_and_confirmation_on_the_aws_target(classroom: Path, fresh_server: Endpoint) -> None:
    roster = classroom.parent / "aws.yaml"
    roster.write_text(
        f"- {{name: alice, role_arn: 'arn:aws:iam::{ALICE}:role/OrganizationAccountAccessRole'}}\n"
        f"- {{name: dave, role_arn: 'arn:aws:iam::{DAVE}:role/OrganizationAccountAccessRole'}}\n"
    )

    dry = cli("--target", "aws", "class", "reset", "--roster", str(roster), "--dry-run")
    assert dry.code == 0, dry.err
    assert "stack: immersion" in dry.out and "dry run" in dry.out

    refused = cli("--target", "aws", "class", "reset", "--roster", str(roster))
    assert refused.code == 2
    assert "refusing to reset 2 AWS account(s)" in refused.err and "--yes" in refused.err
    assert stack_id(fresh_server, ALICE) is not None and stack_id(fresh_server, DAVE) is not None

    confirmed = cli("--target", "aws", "class", "reset", "--roster", str(roster), "--yes")
    assert confirmed.code == 0, confirmed.out + confirmed.err
    assert stack_id(fresh_server, ALICE) is None and stack_id(fresh_server, DAVE) is None


def test_a_missing_profile_is_that_students_error(classroom: Path) -> None:
    roster = classroom.parent / "profiles.yaml"
    roster.write_text(
        "- {name: erin, profile: no-such-profile}\n"
        f"- {{name: alice, role_arn: 'arn:aws:iam::{ALICE}:role/OrganizationAccountAccessRole'}}\n"
    )
    result = cli("--target", "aws", "class", "check", "setup", "--roster", str(roster), "--format", "json")
    assert result.code == 1
    students = by_name(json.loads(result.out))
    assert "no-such-profile" in students["erin"]["error"] and "not found" in students["erin"]["error"]
    assert step_status(students["alice"], "setup.stack") == "pass"


def test_text_markdown_junit_and_per_student_files(classroom: Path, tmp_path: Path) -> None:
    text = cli("class", "check", "setup", "--roster", str(classroom))
    assert text.code == 1
    assert "class check of 4 students: 2 ok, 1 failed, 1 error" in text.out
    assert "setup: stack pipeline" in text.out  # the legend of the grid
    grid_rows = [line for line in text.out.splitlines() if line.startswith("│ ")]
    assert any("alice" in row and "✓✓" in row for row in grid_rows)
    assert any("bob" in row and "✗-" in row for row in grid_rows)

    junit = cli("class", "check", "setup", "--roster", str(classroom), "--format", "junit")
    root = ET.fromstring(junit.out)
    suites = {suite.get("name") for suite in root.iter("testsuite")}
    assert {"alice/setup", "bob/setup", "carol/connect", "dave/setup"} <= suites
    assert root.get("errors") == "1"

    out = tmp_path / "reports"
    out.mkdir()
    md = cli("class", "check", "setup", "--roster", str(classroom), "--format", "markdown", "--output", str(out))
    assert md.code == 1
    assert sorted(p.name for p in out.iterdir()) == ["alice.md", "bob.md", "carol.md", "class.md", "dave.md"]
    assert "| alice |" in (out / "class.md").read_text()
    assert "`setup.stack`" in (out / "alice.md").read_text()
    assert "cannot assume" in (out / "carol.md").read_text()


def test_output_with_trailing_slash_creates_the_folder(classroom: Path, tmp_path: Path) -> None:
    """README: `class check --format markdown --output reports/` — the folder need not exist."""
    out = tmp_path / "new" / "reports"
    md = cli("class", "check", "setup", "--roster", str(classroom), "--format", "markdown", "--output", f"{out}/")
    assert md.code == 1, md
    assert out.is_dir()
    assert sorted(p.name for p in out.iterdir()) == ["alice.md", "bob.md", "carol.md", "class.md", "dave.md"]


def test_output_folder_over_a_file_is_refused(classroom: Path, tmp_path: Path) -> None:
    taken = tmp_path / "reports"
    taken.write_text("a file")
    result = cli("class", "check", "setup", "--roster", str(classroom), "--output", f"{taken}/")
    assert result.code == 2 and "it is a file, not a folder" in result.err, result
    assert taken.read_text() == "a file"
