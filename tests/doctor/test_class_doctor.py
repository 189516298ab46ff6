"""`labrunner class doctor --roster FILE`: the doctor for every account of a class, `--jobs` at a time."""

from __future__ import annotations

import json
from pathlib import Path

from labrunner.local.lifecycle import Endpoint
from tests.helpers import cli

ALICE, BOB = "111111111111", "222222222222"


def roster(tmp_path: Path, *extra: str) -> Path:
    path = tmp_path / "class.yaml"
    path.write_text(f'- name: alice\n  account: "{ALICE}"\n- name: bob\n  account: "{BOB}"\n' + "".join(extra))
    return path


def test_class_doctor_reports_every_account(fresh_server: Endpoint, local_env: Endpoint, tmp_path: Path) -> None:
    assert cli("local", "scenario", "control-tower", "--account", BOB).code == 0
    result = cli("class", "doctor", "--roster", str(roster(tmp_path)), "--jobs", "2", "--format", "json")
    assert result.code == 0, result.out + result.err
    report = json.loads(result.out)
    assert report["schema"] == "labrunner.class-doctor/v1" and report["target"] == "local"
    students = {s["name"]: s for s in report["students"]}
    assert list(students) == ["alice", "bob"]
    for name, account in (("alice", ALICE), ("bob", BOB)):
        assert students[name]["account"] == account
        assert students[name]["report"]["schema"] == "labrunner.doctor/v1"
        assert students[name]["report"]["account"] == account
        assert students[name]["report"]["runnable"] is True
    recorder = {s: next(f for f in students[s]["report"]["findings"] if f["id"] == "config.recorder") for s in students}
    assert recorder["alice"]["level"] == "ok"  # kept apart: only Bob's account is a Control Tower member
    assert recorder["bob"]["level"] == "warn" and "aws-controltower-BaselineConfigRecorder" in recorder["bob"]["detail"]

    text = cli("class", "doctor", "--roster", str(roster(tmp_path)))
    assert text.code == 0
    assert f"== alice (account {ALICE}, us-east-1) ==" in text.out
    assert f"== bob (account {BOB}, us-east-1) ==" in text.out
    bob = text.out.split("== bob")[1]
    assert "warn     config.recorder" in bob
    assert text.out.rstrip().endswith("class doctor: 2 of 2 accounts can run the lab")


def test_an_unreachable_account_is_its_own_error_row(
    fresh_server: Endpoint, local_env: Endpoint, tmp_path: Path
) -> None:
    broken = "- name: carol\n  role_arn: arn:aws:iam::333333333333:role/NoSuchRole\n"
    result = cli("class", "doctor", "--roster", str(roster(tmp_path, broken)), "--format", "json")
    assert result.code == 1
    students = {s["name"]: s for s in json.loads(result.out)["students"]}
    assert "report" in students["alice"] and "report" in students["bob"]
    assert "NoSuchRole" in students["carol"]["error"] and "report" not in students["carol"]


def test_class_doctor_takes_no_ids(local_env: Endpoint, tmp_path: Path) -> None:
    result = cli("class", "doctor", "lab2", "--roster", str(roster(tmp_path)))
    assert result.code == 2 and "class doctor takes no lab or step ids" in result.err
