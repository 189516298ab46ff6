"""`--format html` of check and solve: one self-contained page with, per step, the status, what was
checked, the evidence, the hint and the NIST controls with their titles; hostile text stays text."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from labrunner import nist
from labrunner.context import Context
from labrunner.discovery import load_catalogue
from labrunner.local.lifecycle import Endpoint
from labrunner.model import Check, Report, Status, StepResult
from labrunner.reporting.html import render_html
from labrunner.reporting.json_report import report_dict
from tests.helpers import cli, run
from tests.reporting.html_support import Element, external_references, parse

HOSTILE = '<script>alert("owned")</script><img src=http://evil.example/x.png>'


def assert_self_contained(root: Element) -> None:
    assert external_references(root) == []
    csp = [m for m in root.iter("meta") if m.attrs.get("http-equiv", "").lower() == "content-security-policy"]
    assert csp and "default-src 'none'" in csp[0].attrs["content"]


def assert_report_page(root: Element, report: dict[str, Any], prefix: str = "step-") -> None:
    """Every step of the JSON report is in the page: status, checks, hint, controls with titles."""
    articles = root.by_id()
    for step in report["steps"]:
        article = articles[f"{prefix}{step['id']}"]
        assert article.tag == "article"
        assert f"st-{step['status']}" in article.classes
        statuses = [e for e in article.iter("span") if "status" in e.classes]
        assert statuses and statuses[0].text.split()[-1] == step["status"]
        assert step["title"] in article.text
        for check in step["checks"]:
            assert check["name"] in article.text
            assert check["detail"] in article.text
        if step["status"] != "pass":
            assert step["hint"] and step["hint"] in article.text
        for control in step["controls"]:
            assert nist.title(control), control  # every control of the catalogue has its title
            assert f"{control} {nist.title(control)}" in " ".join(article.text.split())


def test_hostile_text_is_escaped_everywhere() -> None:
    step = StepResult(
        id="lab2.access-logging",
        lab="lab2",
        title="Server access logging",
        status=Status.FAIL,
        controls=("AU-2", "AU-12"),
        hint=f"Turn on logging for {HOSTILE}",
        checks=(Check.fail("logging target", f"bucket {HOSTILE} logs nowhere", f"fix {HOSTILE}"),),
        notes=(f"note {HOSTILE}",),
        data={"inventory": [{"logical_id": HOSTILE, "console": "https://console.aws.amazon.com/s3"}], "x": HOSTILE},
    )
    report = Report("check", "local", "123456789012", "us-east-1", HOSTILE, datetime.now(UTC), 0.5, (step,))
    page = render_html(report)
    root = parse(page)
    assert root.iter("script") == [] and root.iter("img") == []
    assert_self_contained(root)
    article = root.by_id()["step-lab2.access-logging"]
    assert article.text.count(HOSTILE) >= 5  # hint, detail, note, the data table, the raw data
    assert HOSTILE in root.iter("title")[0].text or HOSTILE in root.text
    assert "https://console.aws.amazon.com/s3" in article.text  # a link in the evidence is text, not a link
    assert "AU-12 Audit Record Generation" in " ".join(article.text.split())


def _upload_hostile_key(admin_session: boto3.Session, local_env: Endpoint, bucket: str) -> str:
    key = f"{HOSTILE}.txt"
    s3 = admin_session.client("s3", endpoint_url=local_env.url)
    s3.put_object(Bucket=bucket, Key=key, Body=b"a student's file")
    return key


def _json_check(*ids: str) -> dict[str, Any]:
    result = cli("check", *ids, "--format", "json")
    assert result.out, result.err
    report: dict[str, Any] = json.loads(result.out)
    return report


def test_check_html_has_every_step_and_escapes_a_students_file_name(
    deployed: Context, admin_session: boto3.Session, local_env: Endpoint, tmp_path: Path
) -> None:
    key = _upload_hostile_key(admin_session, local_env, deployed.workload().bucket)
    deadline = time.monotonic() + 60
    while True:  # the pipeline records the upload asynchronously (SQS -> Lambda)
        expected = _json_check("setup", "lab2")  # details without clock times that move between runs
        pipeline = next(s for s in expected["steps"] if s["id"] == "setup.pipeline")
        if pipeline["status"] == "pass" or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert pipeline["status"] == "pass" and any(key in c["detail"] for c in pipeline["checks"]), pipeline

    out = tmp_path / "progress.html"
    result = cli("check", "setup", "lab2", "--format", "html", "--output", str(out))
    assert result.code == 1  # lab 2 is not done
    assert "setup.stack" in result.out  # the terminal still gets the text view
    page = out.read_text()
    root = parse(page)
    assert page.startswith("<!DOCTYPE html>")
    assert root.iter("script") == [] and root.iter("img") == []
    assert_self_contained(root)
    assert_report_page(root, expected)
    assert key in root.by_id()["step-setup.pipeline"].text  # shown as text, exactly as named
    assert [a.attrs["href"] for a in root.iter("a")] == [f"#step-{s['id']}" for s in expected["steps"]]
    summary = " ".join(root.text.split())
    counts = expected["summary"]
    assert f"{counts['pass']} pass, {counts['fail']} fail" in summary
    assert expected["account"] in summary and "us-east-1" in summary

    printed = cli("check", "setup", "--format", "html")  # without --output: the page on stdout
    assert printed.out.startswith("<!DOCTYPE html>") and printed.code == 0


def test_solve_html_says_what_changed(deployed: Context) -> None:
    result = cli("solve", "lab2.encryption", "--format", "html")
    assert result.code == 0, result.err
    root = parse(result.out)
    assert_self_contained(root)
    article = root.by_id()["step-lab2.encryption"]
    assert "st-pass" in article.classes
    assert "SC-28 Protection of Information at Rest" in " ".join(article.text.split())
    assert "Nothing to change" in article.text or "Changed by solve" in article.text
    assert "solve at" in root.text


def test_html_refused_where_there_are_no_steps(local_env: Endpoint) -> None:
    result = cli("labs", "--format", "html")
    assert result.code == 2
    assert result.err.strip() == "labrunner: --format html applies to check, solve and class, not to labs"


def test_every_step_of_the_catalogue_is_in_the_page(deployed: Context) -> None:
    """One run of every lab, rendered both ways: the page holds all the JSON report says."""
    report = run(deployed, "check", [])
    expected = report_dict(report)
    assert len(expected["steps"]) == len(load_catalogue().steps)
    root = parse(render_html(report))
    assert_self_contained(root)
    assert_report_page(root, expected)
    inventory = root.by_id()["step-lab1.inventory"]
    assert [th.text for th in inventory.iter("th")][:3] == ["logical_id", "physical_id", "type"]  # the evidence
