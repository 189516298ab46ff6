"""The command line: exit codes, one-line errors, report formats (SPEC §3, §5)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from labrunner.local.lifecycle import Endpoint
from tests.conftest import free_port
from tests.helpers import cli

REPORT_KEYS = {"schema", "target", "account", "region", "stack", "started_at", "duration_s", "steps", "summary"}
STEP_KEYS = {"id", "lab", "title", "status", "controls", "hint", "duration_s", "checks"}
CHECK_KEYS = {"name", "passed", "detail", "hint"}


def one_line_error(result_err: str) -> str:
    lines = [line for line in result_err.splitlines() if line.strip()]
    assert len(lines) == 1, result_err
    assert "Traceback" not in result_err
    return lines[0]


def test_labs_lists_steps() -> None:
    result = cli("labs")
    assert result.code == 0
    assert "setup.stack" in result.out and "setup.pipeline" in result.out


def test_labs_json() -> None:
    result = cli("labs", "--format", "json")
    data = json.loads(result.out)
    assert data["labs"][0]["id"] == "setup"
    assert data["labs"][0]["steps"][0] == {
        "id": "setup.stack",
        "title": data["labs"][0]["steps"][0]["title"],
        "controls": ["CM-2"],
        "requires": [],
    }


def test_explain_has_every_section() -> None:
    result = cli("explain", "setup.stack")
    assert result.code == 0
    for heading in ("NIST SP 800-53", "What it checks and why", "Do it by hand in the AWS console", "labrunner solve"):
        assert heading in result.out


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("explain", "lab9"), id="explain-unknown"),
        pytest.param(("check", "lab9"), id="check-unknown-lab"),
        pytest.param(("check", "lab9", "--format", "json"), id="options-after-command"),
        pytest.param(("solve", "setup.nope"), id="solve-unknown-step"),
        pytest.param(("check", "--bogus"), id="unknown-option"),
        pytest.param(("check", "--format", "xml"), id="bad-format"),
        pytest.param(("--target", "gcp", "check"), id="bad-target"),
        pytest.param(("frobnicate",), id="unknown-command"),
        pytest.param(("check", "--port", "70000"), id="bad-port"),
        pytest.param(("check", "--jobs", "0"), id="bad-jobs"),
        pytest.param(("explain",), id="missing-argument"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: tuple[str, ...]) -> None:
    result = cli(*args)
    assert result.code == 2
    assert one_line_error(result.err).startswith("labrunner: ")


def test_unknown_id_names_it() -> None:
    assert "'lab9'" in one_line_error(cli("check", "lab9").err)


def test_aws_target_without_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(var, raising=False)
    result = cli("--target", "aws", "check", "setup")
    assert result.code == 2
    assert "no AWS credentials" in one_line_error(result.err)


def test_aws_target_unknown_profile() -> None:
    result = cli("check", "setup", "--target", "aws", "--profile", "nobody")
    assert result.code == 2
    assert "'nobody' not found" in one_line_error(result.err)


def test_aws_target_unreachable_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE00")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    result = cli("--target", "aws", "check", "setup")
    assert result.code == 2
    assert "cannot reach" in one_line_error(result.err)


def test_local_env_prints_exports(local_env: Endpoint) -> None:
    result = cli("local", "env")
    assert result.code == 0
    assert f"export AWS_ENDPOINT_URL={local_env.url}" in result.out.splitlines()


def test_local_status(local_env: Endpoint) -> None:
    result = cli("local", "status")
    assert result.code == 0 and local_env.url in result.out


def test_check_json_schema_on_empty_account(fresh_server: Endpoint, local_env: Endpoint) -> None:
    result = cli("check", "setup", "--format", "json")
    assert result.code == 1  # nothing deployed
    report = json.loads(result.out)
    assert set(report) == REPORT_KEYS
    assert report["schema"] == "labrunner.report/v1"
    assert report["target"] == "local" and report["account"] == "123456789012" and report["stack"] == "immersion"
    assert report["started_at"].endswith("Z")
    assert [s["id"] for s in report["steps"]] == ["setup.stack", "setup.pipeline"]
    for step in report["steps"]:
        assert set(step) == STEP_KEYS
        for check in step["checks"]:
            assert set(check) == CHECK_KEYS
    assert report["steps"][0]["status"] == "fail" and report["steps"][0]["hint"]
    assert report["steps"][1]["status"] == "skipped"
    assert report["summary"] == {"pass": 0, "fail": 1, "pending": 0, "error": 0, "skipped": 1}


def test_junit_and_markdown_and_output_file(fresh_server: Endpoint, local_env: Endpoint, tmp_path: Path) -> None:
    junit = cli("check", "setup", "--format", "junit")
    root = ET.fromstring(junit.out)
    cases = root.findall(".//testcase")
    assert [c.get("name", "").split(":")[0] for c in cases] == ["setup.stack", "setup.pipeline"]
    assert cases[0].find("failure") is not None and cases[1].find("skipped") is not None
    markdown = cli("check", "setup", "--format", "markdown")
    assert "progress report" in markdown.out and "CM-2 Baseline Configuration" in markdown.out
    out = tmp_path / "report.json"
    written = cli("check", "setup", "--format", "json", "--output", str(out))
    assert written.code == 1
    assert json.loads(out.read_text())["schema"] == "labrunner.report/v1"
    assert "setup.stack" in written.out  # the terminal still gets the text view


def test_output_to_unwritable_path(fresh_server: Endpoint, local_env: Endpoint, tmp_path: Path) -> None:
    result = cli("check", "setup", "--output", str(tmp_path / "missing-dir" / "r.txt"))
    assert result.code == 2
    assert "cannot write" in one_line_error(result.err)
    assert result.out == ""  # refused before any work
