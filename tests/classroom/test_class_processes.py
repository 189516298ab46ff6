"""Class check over worker processes: the same verdicts as one process, and a dying worker costs
only the students it was grading (their error rows), never the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labrunner.class_workers import PROCESSES_ENV, process_count
from tests.classroom.test_class import ALICE, DAVE, by_name, class_json, classroom  # noqa: F401 (fixture)


def verdicts(report: dict[str, object]) -> list[tuple[object, ...]]:
    out = []
    for student in report["students"]:  # type: ignore[attr-defined]
        steps = student.get("report", {}).get("steps", [])
        out.append((student["name"], student["account"], student.get("error"), [(s["id"], s["status"]) for s in steps]))
    return out


def test_processes_and_threads_agree(classroom: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setenv(PROCESSES_ENV, "2")
    code_p, in_processes = class_json("check", "setup", "--roster", str(classroom), "--jobs", "4")
    monkeypatch.setenv(PROCESSES_ENV, "1")
    code_t, in_threads = class_json("check", "setup", "--roster", str(classroom), "--jobs", "4")
    assert code_p == code_t == 1
    assert verdicts(in_processes) == verdicts(in_threads)


def test_process_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PROCESSES_ENV, "3")
    assert process_count(jobs=8, students=50) == 3
    assert process_count(jobs=2, students=50) == 2  # never more processes than jobs
    assert process_count(jobs=8, students=1) == 1  # nor than students
    monkeypatch.setenv(PROCESSES_ENV, "1")
    assert process_count(jobs=8, students=50) == 1


KILLER = f'''
import os

from labrunner.model import Check
from labrunner.step import Lab, Step


class Crash(Step):
    id = "crash.worker"
    title = "Kills the process that checks Dave's account"
    why = console = automation = hint = "test only"

    def verify(self, ctx):
        if ctx.account_id == "{DAVE}":
            os._exit(3)  # a worker process dying mid-grade (e.g. killed by the OOM killer)
        yield Check.ok("alive", "still here")


LAB = Lab(id="crash", title="Crash", order=99, steps=(Crash(),))
'''


def test_a_dying_worker_costs_only_its_students(
    classroom: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "crash.py").write_text(KILLER)
    monkeypatch.setenv(PROCESSES_ENV, "2")
    # One student at a time per process: Dave's worker dies with only Dave in hand.
    code, report = class_json("check", "crash", "--labs-dir", str(plugins), "--roster", str(classroom), "--jobs", "2")
    assert code == 1
    students = by_name(report)
    assert students["dave"]["error"] == "the worker process grading this student stopped unexpectedly"
    assert students["dave"]["account"] == DAVE
    alice = students["alice"]["report"]
    assert alice["account"] == ALICE and alice["steps"][0]["status"] == "pass"
    json.dumps(report)  # the class report stays well-formed
