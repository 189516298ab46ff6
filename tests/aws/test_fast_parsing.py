"""Faster parsing gives the same values: response timestamps, CloudFormation YAML."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from botocore.utils import parse_timestamp

from labrunner.aws.cfn import TemplateLoader, load_template
from labrunner.aws.timestamps import fast_parse_timestamp

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-26T13:00:00.000Z",
        "2026-11-26T13:00:00Z",
        "2026-11-26T13:00:00.123456Z",
        "2026-11-26T13:00:00.1Z",
        "2026-11-26T13:00:00.1234567Z",
        "2026-11-26T13:00:00+00:00",
        "2026-11-26T13:00:00+05:30",
        "Thu, 26 Nov 2026 13:00:00 GMT",
        1700000000,
        1700000000.25,
        "1700000000",
    ],
)
def test_timestamps_as_botocore_parses_them(value: object) -> None:
    fast, slow = fast_parse_timestamp(value), parse_timestamp(value)
    assert fast == slow and repr(fast) == repr(slow)


@pytest.mark.parametrize(
    "path",
    [
        "cloudformation_template.yaml",
        "cloudformation_template_secure.yaml",
        "tests/fixtures/original_lab_template.yaml",
    ],
)
def test_templates_load_as_with_the_python_loader(path: str) -> None:
    text = (REPO / path).read_text()
    assert load_template(text) == yaml.load(text, Loader=TemplateLoader)


def test_broken_yaml_reports_as_the_python_loader_does() -> None:
    text = "Resources:\n  A:\n    Type: [unclosed"
    with pytest.raises(yaml.YAMLError) as python:
        yaml.load(text, Loader=TemplateLoader)
    with pytest.raises(yaml.YAMLError) as ours:
        load_template(text)
    assert str(ours.value) == str(python.value)
