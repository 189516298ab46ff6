"""cfn-lint's findings and decodings are remembered by template text (region) and cfn-lint version."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from labrunner import lint
from labrunner.aws import template_source

BROKEN = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketEncryption: yes please
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LABRUNNER_HOME", str(tmp_path))
    return tmp_path


def test_findings_survive_the_cache(home: Path) -> None:
    fresh = lint.cfn_lint(BROKEN, "us-east-1")
    assert fresh and all(f.rule[:1] in ("E", "W") and f.line > 0 and f.message for f in fresh)
    assert list((home / "cache" / "cfn-lint").glob("*.json"))
    assert lint.cfn_lint(BROKEN, "us-east-1") == fresh


def test_linted_again_only_when_what_decides_changes(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[tuple[str, str]] = []

    def fake_run(text: str, region: str) -> list[lint.Finding]:
        runs.append((text, region))
        return [lint.Finding("W0000", len(runs), "fake")]

    monkeypatch.setattr(lint, "_run", fake_run)
    first = lint.cfn_lint(BROKEN, "us-east-1")
    assert lint.cfn_lint(BROKEN, "us-east-1") == first
    lint.cfn_lint(BROKEN + "\n# edited\n", "us-east-1")
    lint.cfn_lint(BROKEN, "eu-west-1")
    monkeypatch.setattr(lint, "_linter_version", lambda: "another cfn-lint")
    lint.cfn_lint(BROKEN, "us-east-1")
    assert len(runs) == 4


def test_an_unwritable_cache_only_costs_time(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (home / "cache").write_text("not a directory")
    monkeypatch.setattr(lint, "_run", lambda text, region: [lint.Finding("E0000", 1, "fake")])
    assert lint.cfn_lint(BROKEN, "us-east-1") == [lint.Finding("E0000", 1, "fake")]


SECURE = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "uploads-${AWS::AccountId}"
  Policy:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Version: 2012-10-17
        Statement: [{Effect: Allow, Action: "s3:GetObject", Resource: !GetAtt Bucket.Arn}]
"""


def test_a_parsed_template_is_remembered_by_text(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = template_source.parse_template(SECURE)
    assert fresh[0] is not None and fresh[1] == ""
    assert fresh[0]["Resources"]["Bucket"]["Properties"]["BucketName"] == {"Fn::Sub": "uploads-${AWS::AccountId}"}
    assert fresh[0]["Resources"]["Policy"]["Properties"]["PolicyDocument"]["Version"] == "2012-10-17"
    decoded: list[str] = []
    monkeypatch.setattr(template_source, "_decode", lambda text: decoded.append(text) or (None, "decoded"))
    assert template_source.parse_template(SECURE) == fresh
    assert template_source.parse_template("Resources: [") == (None, "decoded")
    assert decoded == ["Resources: ["]


def test_a_damaged_cache_entry_is_parsed_again(home: Path) -> None:
    fresh = template_source.parse_template("Resources:\n  X: [\n")
    assert fresh[0] is None and fresh[1].startswith("line ")
    for stored in (home / "cache" / "cfn-decode").glob("*.json"):
        stored.write_text('{"not": "a pair"}')
    assert template_source.parse_template("Resources:\n  X: [\n") == fresh


def test_an_unchanged_template_is_graded_without_importing_cfn_lint(home: Path) -> None:
    """A warm `check` of an unchanged template skips cfn-lint's import (most of a second)."""
    probe = (
        "import sys; from labrunner.aws.template_source import parse_template; from labrunner.lint import cfn_lint;"
        f"t = parse_template({SECURE!r}); f = cfn_lint({SECURE!r}, 'us-east-1');"
        "print(t[0] is not None, 'cfnlint' in sys.modules)"
    )
    env = {**os.environ, "LABRUNNER_HOME": str(home)}
    runs = [
        subprocess.run([sys.executable, "-c", probe], check=False, env=env, capture_output=True, text=True)
        for _ in range(2)
    ]
    assert [r.stdout.split() for r in runs] == [["True", "True"], ["True", "False"]], [r.stderr for r in runs]
