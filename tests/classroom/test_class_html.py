"""`labrunner class check --format html`: the grid, then one section per student; --output DIR/
gives the class page plus one page per student. A roster's names are untrusted text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from labrunner.local.lifecycle import Endpoint
from labrunner.model import Status
from labrunner.reporting.html import SYMBOLS
from tests.helpers import cli, local_context, run, statuses
from tests.reporting.html_support import external_references, parse
from tests.reporting.test_html_report import assert_report_page, assert_self_contained

ALICE, BOB = "111111111111", "222222222222"
HOSTILE_NAME = "bob <script>alert('grid')</script>"


@pytest.fixture
def roster(fresh_server: Endpoint, local_env: Endpoint, tmp_path: Path) -> Path:
    report = run(local_context(fresh_server, account=ALICE), "solve", ["setup"])
    assert statuses(report) == {"setup.stack": Status.PASS, "setup.pipeline": Status.PASS}
    path = tmp_path / "class.yaml"
    path.write_text(
        f"""\
- name: alice
  account: "{ALICE}"
- name: "{HOSTILE_NAME}"
  account: "{BOB}"
- name: carol
  role_arn: arn:aws:iam::333333333333:role/NoSuchRole
"""
    )
    return path


def test_class_html_grid_and_a_section_per_student(roster: Path, tmp_path: Path) -> None:
    expected: dict[str, Any] = json.loads(
        cli("class", "check", "setup", "lab2", "--roster", str(roster), "--format", "json").out
    )
    result = cli("class", "check", "setup", "lab2", "--roster", str(roster), "--format", "html")
    assert result.code == 1
    root = parse(result.out)
    assert root.iter("script") == []
    assert_self_contained(root)
    step_ids = [s["id"] for s in expected["students"][0]["report"]["steps"]]

    rows = [tr for tr in root.iter("tr") if "student-row" in tr.classes]
    assert len(rows) == 3
    sections = root.by_id()
    for index, (row, student) in enumerate(zip(rows, expected["students"], strict=True), start=1):
        cells = [td for td in row.iter("td") if "cell" in td.classes]
        assert len(cells) == len(step_ids)
        name_link = row.iter("a")[0]
        assert name_link.text == student["name"] and name_link.attrs["href"] == f"#student-{index}"
        section = sections[f"student-{index}"]
        assert section.tag == "section" and section.iter("h2")[0].text == student["name"]
        if "error" in student:
            assert [c.text for c in cells] == ["·"] * len(step_ids)  # not run
            assert student["error"] in section.text
            continue
        by_id = {s["id"]: s for s in student["report"]["steps"]}
        for step_id, cell in zip(step_ids, cells, strict=True):
            status = by_id[step_id]["status"]
            assert cell.text == SYMBOLS[status] and status in cell.classes
            assert cell.iter("a")[0].attrs["href"] == f"#s{index}-{step_id}"  # opens the student's step
        assert_report_page(section, student["report"], prefix=f"s{index}-")
    assert rows[0].iter("td")[2].text == "✓"  # alice's setup.stack
    assert HOSTILE_NAME in sections["student-2"].text  # the name as text, not markup


def test_class_html_output_folder_gets_a_page_per_student(roster: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports/"
    result = cli("class", "check", "setup", "--roster", str(roster), "--format", "html", "--output", f"{out}/")
    assert result.code == 1
    assert "class check of 3 students" in result.out  # the terminal still gets the grid
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["class.html", "alice.html", "bob_script_alert_grid_script.html", "carol.html"])
    for page in out.iterdir():
        root = parse(page.read_text())
        assert root.iter("script") == [] and external_references(root) == []
    alice = parse((out / "alice.html").read_text())
    assert "st-pass" in alice.by_id()["step-setup.stack"].classes and "alice" in alice.text
    carol = parse((out / "carol.html").read_text())
    assert "cannot assume" in carol.text and "AccessDenied" in carol.text
    single = tmp_path / "class.html"
    assert (
        cli("class", "check", "setup", "--roster", str(roster), "--format", "html", "--output", str(single)).code == 1
    )
    assert len([tr for tr in parse(single.read_text()).iter("tr") if "student-row" in tr.classes]) == 3
