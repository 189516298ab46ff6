"""Roster validation: every problem is one line naming the file, the line and the entry (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from labrunner.roster import RosterError, Student, load_roster, parse_roster
from tests.helpers import cli

ROSTER = Path("class.yaml")


def students(text: str, kind: str = "local") -> tuple[Student, ...]:
    return parse_roster(text, ROSTER, kind)  # type: ignore[arg-type]


def test_a_valid_roster() -> None:
    text = """\
- name: alice
  account: "111111111111"
- {name: bob, account: 012345678901}
- name: carol
  role_arn: arn:aws:iam::222222222222:role/OrganizationAccountAccessRole
"""
    alice, bob, carol = students(text)
    assert alice == Student(name="alice", line=1, account="111111111111")
    assert bob.account == "012345678901"  # as written: YAML would make it the integer 12345678901
    assert bob.line == 3
    assert carol.role_arn and carol.known_account == "222222222222"
    aws = students("- {name: dan, profile: student-dan}\n", "aws")
    assert aws[0].profile == "student-dan" and aws[0].known_account is None


@pytest.mark.parametrize(
    ("text", "kind", "message"),
    [
        ("- {name: a, account: '111111111111', acount: x}\n", "local", "line 1: student 'a': unknown key 'acount'"),
        (
            "- {name: a, account: '111111111111'}\n- {name: a, account: '222222222222'}\n",
            "local",
            "line 2: student 'a' is listed twice (first on line 1)",
        ),
        ("- name: a\n  account: '12345'\n", "local", "line 2: student 'a': account '12345' is not a 12-digit"),
        ("- {name: a, account: '1234567890ab'}\n", "local", "is not a 12-digit AWS account id"),
        ("- {name: a}\n", "local", "line 1: student 'a' needs exactly one of profile, role_arn, account (got none)"),
        (
            "- {name: a, account: '111111111111', role_arn: 'arn:aws:iam::111111111111:role/R'}\n",
            "local",
            "needs exactly one of profile, role_arn, account (got role_arn, account)",
        ),
        ("- {account: '111111111111'}\n", "local", "line 1: entry 1 has no name"),
        ("- {name: a, account: '111111111111'}\n", "aws", "account works on --target local only"),
        ("- {name: a, profile: p}\n", "local", "profile works on --target aws only"),
        ("- {name: a, role_arn: 'arn:aws:iam::1:role/x'}\n", "local", "is not an IAM role ARN"),
        (
            "- {name: a, account: '111111111111'}\n- {name: b, account: '111111111111'}\n",
            "local",
            "line 2: student 'b' uses account 111111111111, like student 'a' (line 1)",
        ),
        ("- alice\n", "local", "line 1: entry 1 must be a mapping"),
        ("name: alice\n", "local", "must be a YAML list of students"),
        ("", "local", "is empty"),
        ("[]\n", "local", "is empty"),
        ("- {name: a, account: '111111111111'\n", "local", "not valid YAML"),
        ("- {name: '', account: '111111111111'}\n", "local", "name must be a non-empty text value"),
        ("- {name: a, account: [1, 2]}\n", "local", "account must be a non-empty text value"),
    ],
)
def test_invalid_rosters(text: str, kind: str, message: str) -> None:
    with pytest.raises(RosterError) as caught:
        students(text, kind)
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"roster {ROSTER}")
    assert "\n" not in str(caught.value)


def test_a_missing_or_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(RosterError, match="does not exist"):
        load_roster(tmp_path / "nope.yaml", "local")
    with pytest.raises(RosterError, match="is a directory"):
        load_roster(tmp_path, "local")


def test_the_cli_refuses_a_bad_roster_with_one_line(tmp_path: Path) -> None:
    roster = tmp_path / "class.yaml"
    roster.write_text("- name: alice\n  account: '111111111111'\n- name: bob\n  acount: '222222222222'\n")
    result = cli("class", "check", "--roster", str(roster))
    assert result.code == 2
    assert result.err.strip().count("\n") == 0
    assert "line 4: student 'bob': unknown key 'acount'" in result.err
    missing = cli("class", "check", "--roster", str(tmp_path / "missing.yaml"))
    assert missing.code == 2 and "does not exist" in missing.err


def test_class_options_are_checked_before_anything_runs(tmp_path: Path) -> None:
    roster = tmp_path / "class.yaml"
    roster.write_text("- {name: alice, account: '111111111111'}\n")
    assert cli("class", "check", "--roster", str(roster), "--jobs", "0").code == 2
    reset_ids = cli("class", "reset", "lab2", "--roster", str(roster))
    assert reset_ids.code == 2 and "takes no lab or step ids" in reset_ids.err
    assert cli("class", "check", "--roster", str(roster), "--yes").code == 2
    assert cli("class", "check", "nolab", "--roster", str(roster)).code == 2
