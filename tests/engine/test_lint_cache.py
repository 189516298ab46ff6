"""cfn-lint's findings are remembered by template text, region and cfn-lint version."""

from __future__ import annotations

from pathlib import Path

import pytest

from labrunner import lint

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
