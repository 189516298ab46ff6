"""The class roster (SPEC §8): a YAML list of students, validated up front with line numbers.

- name: alice
  account: "111111111111"      # local target: an account inside the local AWS
- name: bob
  profile: student-bob          # aws target: a profile of the AWS config
- name: carol
  role_arn: arn:aws:iam::222222222222:role/OrganizationAccountAccessRole   # assumed from the caller
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from labrunner.aws.session import TargetKind, TargetSpec
from labrunner.errors import UsageError

ACCESS_KEYS = ("profile", "role_arn", "account")
KEYS = ("name", *ACCESS_KEYS)
ACCOUNT_ID = re.compile(r"\d{12}")
ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):role/[\w+=,.@/-]+")
EXAMPLE = "- {name: alice, account: '111111111111'}"


@dataclass(frozen=True)
class Student:
    name: str
    line: int
    profile: str | None = None
    role_arn: str | None = None
    account: str | None = None

    @property
    def known_account(self) -> str | None:
        """The account id, when the roster names it (an account, or a role's ARN)."""
        if self.account:
            return self.account
        match = ROLE_ARN.fullmatch(self.role_arn or "")
        return match.group(1) if match else None

    @property
    def access(self) -> str:
        """How labrunner reaches the student's account, for messages."""
        if self.account:
            return f"account {self.account}"
        if self.role_arn:
            return f"role {self.role_arn}"
        return f"profile {self.profile}"

    def spec(self, kind: TargetKind, *, region: str | None, local_port: int | None) -> TargetSpec:
        return TargetSpec(
            kind=kind,
            region=region,
            profile=self.profile,
            local_port=local_port,
            account=self.account,
            role_arn=self.role_arn,
        )


class RosterError(UsageError):
    """The roster cannot be used: one line naming the file, the line and the entry."""


def _where(path: Path, node: yaml.Node) -> str:
    return f"roster {path}, line {node.start_mark.line + 1}"


def _scalar(path: Path, node: yaml.Node, key: str, entry: str) -> str:
    if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
        raise RosterError(f"{_where(path, node)}: {entry}: {key} must be a non-empty text value")
    # The text as written: an account such as 012345678901 keeps its leading zero.
    return str(node.value).strip()


def _student(path: Path, node: yaml.Node, kind: TargetKind, index: int) -> Student:
    where = _where(path, node)
    if not isinstance(node, yaml.MappingNode):
        raise RosterError(f"{where}: entry {index} must be a mapping like {EXAMPLE}")
    fields: dict[str, tuple[str, yaml.Node]] = {}
    name_label = f"entry {index}"
    for key_node, value_node in node.value:
        key = str(key_node.value)
        if key not in KEYS:
            raise RosterError(
                f"{_where(path, key_node)}: {name_label}: unknown key {key!r} (allowed: {', '.join(KEYS)})"
            )
        if key in fields:
            raise RosterError(f"{_where(path, key_node)}: {name_label}: {key} is given twice")
        fields[key] = (_scalar(path, value_node, key, name_label), value_node)
        if key == "name":
            name_label = f"student {fields['name'][0]!r}"
    if "name" not in fields:
        raise RosterError(f"{where}: entry {index} has no name")
    name = fields["name"][0]
    label = f"student {name!r}"
    given = [key for key in ACCESS_KEYS if key in fields]
    if len(given) != 1:
        found = f"got {', '.join(given)}" if given else "got none"
        raise RosterError(f"{where}: {label} needs exactly one of profile, role_arn, account ({found})")
    key = given[0]
    value, value_node = fields[key]
    value_where = _where(path, value_node)
    if key == "account":
        if not ACCOUNT_ID.fullmatch(value):
            raise RosterError(f"{value_where}: {label}: account {value!r} is not a 12-digit AWS account id")
        if kind != "local":
            raise RosterError(
                f"{value_where}: {label}: account works on --target local only; on the aws target give a "
                "profile or a role_arn"
            )
    if key == "role_arn" and not ROLE_ARN.fullmatch(value):
        raise RosterError(
            f"{value_where}: {label}: role_arn {value!r} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
        )
    if key == "profile" and kind != "aws":
        raise RosterError(
            f"{value_where}: {label}: profile works on --target aws only; on the local target give an account"
        )
    return Student(
        name=name,
        line=node.start_mark.line + 1,
        profile=value if key == "profile" else None,
        role_arn=value if key == "role_arn" else None,
        account=value if key == "account" else None,
    )


def parse_roster(text: str, path: Path, kind: TargetKind) -> tuple[Student, ...]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f", line {mark.line + 1}" if mark is not None else ""
        raise RosterError(f"roster {path}{line}: not valid YAML: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise RosterError(f"roster {path}: not valid YAML: {exc}") from exc
    if root is None or (isinstance(root, yaml.SequenceNode) and not root.value):
        raise RosterError(f"roster {path} is empty: list the students, e.g. {EXAMPLE}")
    if not isinstance(root, yaml.SequenceNode):
        raise RosterError(f"{_where(path, root)}: the roster must be a YAML list of students, e.g. {EXAMPLE}")
    students = [_student(path, node, kind, index) for index, node in enumerate(root.value, start=1)]
    seen: dict[str, Student] = {}
    for student in students:
        if student.name in seen:
            raise RosterError(
                f"roster {path}, line {student.line}: student {student.name!r} is listed twice "
                f"(first on line {seen[student.name].line})"
            )
        seen[student.name] = student
    accounts: dict[str, Student] = {}
    for student in students:
        account = student.account or student.role_arn
        if account is None:
            continue
        if account in accounts:
            raise RosterError(
                f"roster {path}, line {student.line}: student {student.name!r} uses {student.access}, "
                f"like student {accounts[account].name!r} (line {accounts[account].line}); one account per student"
            )
        accounts[account] = student
    return tuple(students)


def load_roster(path: Path, kind: TargetKind) -> tuple[Student, ...]:
    """Read and validate the roster; any problem is one RosterError line (exit 2)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise RosterError(f"roster {path} does not exist") from exc
    except IsADirectoryError as exc:
        raise RosterError(f"roster {path} is a directory, not a YAML file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError(f"roster {path} cannot be read: {exc}") from exc
    return parse_roster(text, path, kind)
