"""The student's CloudFormation template, as extra.template-secure grades it (SPEC §4): the file that
$LABRUNNER_SECURE_TEMPLATE names, else the template deployed in the stack (GetTemplate, stage
Original: the text the student uploaded). Never the project's bundled hardened template.

Parsed as CloudFormation parses it, through cfn-lint's decoder: YAML short forms (!Ref …), JSON,
and unquoted YAML dates (`Version: 2012-10-17`) kept as the strings CloudFormation sees. A text
that does not parse is reported with its line and column, as a student's mistake, not a crash.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labrunner.context import Context

TEMPLATE_ENV = "LABRUNNER_SECURE_TEMPLATE"


@dataclass(frozen=True)
class StudentTemplate:
    """Where the graded template comes from, its text, and the parsed template or why it did not parse."""

    origin: str  # "file /path/x.yaml" / "the template deployed in stack immersion"
    short: str  # how hints name it: "x.yaml" / "the template of stack immersion"
    text: str
    template: dict[str, Any] | None
    error: str = ""  # "line L, column C: message" when it does not parse


def _plain(value: Any) -> Any:
    """cfn-lint's nodes as plain dicts, lists and strings; dates as CloudFormation keeps them (text)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, str):
        return str(value)  # cfn-lint's str_node → str
    return value


PARSE_FORMAT = "1"  # bump when what parse_template stores changes


def _decode(text: str) -> tuple[dict[str, Any] | None, str]:
    from cfnlint.decode import decode_str

    decoded, matches = decode_str(text)
    if matches:
        first = matches[0]
        return None, f"line {first.linenumber}, column {first.columnnumber}: {first.message}"
    if not isinstance(decoded, Mapping):
        return None, "line 1, column 1: a CloudFormation template must be a mapping (Resources: …)"
    return _plain(decoded), ""


def _stored(parsed: tuple[dict[str, Any] | None, str]) -> list[Any]:
    return list(parsed)


def _loaded(row: Any) -> tuple[dict[str, Any] | None, str]:
    template, error = row
    if not (isinstance(template, dict) or template is None) or not isinstance(error, str):
        raise TypeError("not a parsed template")
    return template, error


def parse_template(text: str) -> tuple[dict[str, Any] | None, str]:
    """(template, "") or (None, "line L, column C: what is wrong"). Remembered on disk by text and
    cfn-lint version, so a check of an unchanged template does not import cfn-lint (most of a second)."""
    from labrunner.aws.remembered import linter_version, remembered

    try:
        return remembered("cfn-decode", (PARSE_FORMAT, linter_version(), text), lambda: _decode(text), _stored, _loaded)
    except Exception as exc:  # cfn-lint's decoder reports, it should not raise; if it does, say what
        return None, f"cannot be read: {exc}"


def from_file(path: Path) -> StudentTemplate:
    try:
        text = path.read_text()
    except OSError as exc:
        return StudentTemplate(f"file {path}", path.name, "", None, f"cannot be read: {exc.strerror or exc}")
    template, error = parse_template(text)
    return StudentTemplate(f"file {path}", path.name, text, template, error)


def from_stack(cfn: Any, stack_id: str, stack_name: str) -> StudentTemplate:
    body = cfn.get_template(StackName=stack_id, TemplateStage="Original")["TemplateBody"]
    # boto3 hands JSON template bodies over already decoded.
    text = body if isinstance(body, str) else json.dumps(body, indent=2)
    template, error = parse_template(text)
    origin = f"the template deployed in stack {stack_name}"
    return StudentTemplate(origin, f"the template of stack {stack_name}", text, template, error)


def env_template_path() -> Path | None:
    value = os.environ.get(TEMPLATE_ENV)
    return Path(value) if value else None


def student_template(ctx: Context) -> StudentTemplate | None:
    """The template to grade, or None when there is none: no file named and no stack deployed."""
    path = env_template_path()
    if path is not None:
        return from_file(path)
    info = ctx.find_stack()
    if info is None:
        return None
    return from_stack(ctx.client("cloudformation"), info.stack_id, info.name)
