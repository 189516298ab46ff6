"""Extra credit (the workload secured in CloudFormation): templates checked statically, the stack
updated through a change set, and hand-made states graded."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from labrunner import paths
from labrunner.aws.cfn import TemplateLoader
from labrunner.context import Context
from labrunner.discovery import load_catalogue
from labrunner.model import Status
from tests.helpers import run, statuses, step

SECURE = paths.content_root() / "cloudformation_template_secure.yaml"
INSECURE = paths.content_root() / "cloudformation_template.yaml"
EXTRA = ["extra.template-secure", "extra.stack-secure"]


def extra_module() -> ModuleType:
    """The lab module as discovery loads it (labs/ is not a package)."""
    load_catalogue()
    return sys.modules["labrunner_labs.labs.extra_cfn"]


def failed(ctx: Context, step_id: str) -> dict[str, str]:
    report = run(ctx, "check", [step_id])
    return {c.name: c.detail for c in step(report, step_id).checks if not c.passed and not c.pending}


def hints(ctx: Context, step_id: str) -> list[str]:
    report = run(ctx, "check", [step_id])
    return [c.hint for c in step(report, step_id).checks if not c.passed]


def use_template(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    monkeypatch.setenv("LABRUNNER_SECURE_TEMPLATE", str(path))


def edited_secure_template(tmp_path: Path, edit: str, value: object = None, *also_remove: str) -> Path:
    """The hardened template with properties (dotted paths) removed, or one replaced."""
    template = yaml.load(SECURE.read_text(), Loader=TemplateLoader)
    for path, new in [(edit, value), *((extra, None) for extra in also_remove)]:
        *parents, last = path.split(".")
        node = template
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if new is None:
            del node[last]
        else:
            node[last] = new
    out = tmp_path / "edited.yaml"
    out.write_text(yaml.safe_dump(template, sort_keys=False))
    return out


# -- the template, statically ----------------------------------------------------------------
@pytest.mark.parametrize("template", [SECURE, INSECURE], ids=["secure", "insecure"])
def test_both_templates_pass_cfn_lint(template: Path) -> None:
    lint_checks = extra_module().lint_checks
    assert [c.passed for c in lint_checks(template.read_text(), "us-east-1")] == [True]


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
STUDENT = FIXTURES / "student_secure_template.yaml"
OFFICIAL_SHAPE = FIXTURES / "official_shape_template.yaml"


def test_bundled_hardened_template_passes(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    use_template(monkeypatch, SECURE)
    report = run(ctx, "check", ["extra.template-secure"])
    assert statuses(report)["extra.template-secure"] is Status.PASS, failed(ctx, "extra.template-secure")


def test_without_a_stack_or_a_file_nothing_is_graded(ctx: Context) -> None:
    """The bundled answer key is never what a student is graded on: no stack, no file → not passed."""
    report = run(ctx, "check", ["extra.template-secure"])
    result = step(report, "extra.template-secure")
    assert result.status is Status.FAIL
    assert "nothing to grade" in failed(ctx, "extra.template-secure")["template to grade"]
    assert "LABRUNNER_SECURE_TEMPLATE" in result.checks[0].hint


def test_the_deployed_insecure_template_is_graded_and_fails(deployed: Context) -> None:
    findings = failed(deployed, "extra.template-secure")
    assert "role: no administrator policy attached" in findings
    report = run(deployed, "check", ["extra.template-secure"])
    first = step(report, "extra.template-secure").checks[0]
    assert first.passed and f"the template deployed in stack {deployed.stack_name}" in first.detail


def test_a_students_own_template_with_unquoted_dates_passes(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    use_template(monkeypatch, STUDENT)
    assert "Version: 2012-10-17\n" in STUDENT.read_text()  # unquoted, as the official template writes it
    report = run(ctx, "check", ["extra.template-secure"])
    assert statuses(report)["extra.template-secure"] is Status.PASS, failed(ctx, "extra.template-secure")
    names = {c.name for c in step(report, "extra.template-secure").checks}
    assert "role S3EventSubscriptionLambdaRole: least privilege" in names
    assert "queue policy: only the upload bucket may send" in names


def test_official_shape_fails_with_named_findings(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    use_template(monkeypatch, OFFICIAL_SHAPE)
    findings = failed(ctx, "extra.template-secure")
    assert "SystemAdministrator" in findings["role: no administrator policy attached"]
    assert "SystemAdministrator" in findings["role S3EventSubscriptionLambdaRole: least privilege"]
    assert "only the template" in findings["role S3EventSubscriptionLambdaRole: least privilege"]
    assert "queue policy: only the upload bucket may send" not in findings  # it keeps SourceArn and SourceAccount


def test_student_template_leaving_system_administrator_fails(
    ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = STUDENT.read_text().replace(
        "iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "iam::aws:policy/job-function/SystemAdministrator",
    )
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    use_template(monkeypatch, path)
    findings = failed(ctx, "extra.template-secure")
    assert "SystemAdministrator" in findings["role: no administrator policy attached"]
    assert "SystemAdministrator" in findings["role S3EventSubscriptionLambdaRole: least privilege"]


@pytest.mark.parametrize(
    ("broken", "where"),
    [
        ("Resources:\n  R:\n    Type: [AWS::S3::Bucket\n    Properties: {}\n", "line 4, column"),
        ('{\n  "Resources": {"R": {"Type" "AWS::S3::Bucket"}}\n}\n', "line 2, column"),
    ],
    ids=["yaml", "json"],
)
def test_a_template_that_does_not_parse_fails_with_line_and_column(
    ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broken: str, where: str
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(broken)
    use_template(monkeypatch, path)
    report = run(ctx, "check", ["extra.template-secure"])
    assert statuses(report)["extra.template-secure"] is Status.FAIL  # not error: the student's mistake
    detail = failed(ctx, "extra.template-secure")["template parses"]
    assert where in detail, detail


def test_queue_policy_without_confused_deputy_protection_fails(
    ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = edited_secure_template(
        tmp_path, "Resources.S3NotificationQueuePolicy.Properties.PolicyDocument.Statement.0.Condition"
    )
    use_template(monkeypatch, path)
    findings = failed(ctx, "extra.template-secure")
    assert "confused deputy" in findings["queue policy: only the upload bucket may send"]
    assert any("aws:SourceArn" in h for h in hints(ctx, "extra.template-secure"))


def test_the_reference_template_keeps_source_arn_and_source_account() -> None:
    template = yaml.load(SECURE.read_text(), Loader=TemplateLoader)
    statement = template["Resources"]["S3NotificationQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert set(statement["Condition"]["ArnLike"]) == {"aws:SourceArn"}
    assert set(statement["Condition"]["StringEquals"]) == {"aws:SourceAccount"}


def test_insecure_template_fails_with_specific_findings(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    use_template(monkeypatch, INSECURE)
    findings = failed(ctx, "extra.template-secure")
    expected = {
        "upload bucket default encryption",
        "access logging",
        "FileUploadsBucket TLS only",
        "role: only Lambda may assume the role",
        "role: no administrator policy attached",
        "role: no hand-written wildcard policy",
        "role: no other dynamodb action",
        "role: nothing on other dynamodb resources",
        "role: no other sqs action",
        "role: nothing on other sqs resources",
        "table encrypted with KMS",
        "table point-in-time recovery",
        "queue encrypted",
    }
    assert expected <= set(findings), sorted(findings)
    assert "cfn-lint" not in findings  # it is valid CloudFormation, just insecure
    assert "536023900131" in findings["role: only Lambda may assume the role"]
    assert "SystemAdministrator" in findings["role: no administrator policy attached"]
    assert all(h.startswith("Edit cloudformation_template.yaml") for h in hints(ctx, "extra.template-secure")[1:])


def test_log_bucket_policy_open_to_every_account_fails(
    ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = edited_secure_template(tmp_path, "Resources.AccessLogsBucketPolicy.Properties.PolicyDocument.Statement")
    # No statement at all: nothing lets S3 deliver logs.
    use_template(monkeypatch, path)
    assert "log delivery allowed, scoped" in failed(ctx, "extra.template-secure")
    unscoped = {
        "Sid": "S3ServerAccessLogsPolicy",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": {"Fn::Sub": "${AccessLogsBucket.Arn}/upload-bucket/*"},
    }
    path = edited_secure_template(
        tmp_path, "Resources.AccessLogsBucketPolicy.Properties.PolicyDocument.Statement", [unscoped]
    )
    use_template(monkeypatch, path)
    findings = failed(ctx, "extra.template-secure")
    assert "confused deputy" in findings["log delivery allowed, scoped"]
    assert "AccessLogsBucket TLS only" in findings


def test_log_bucket_without_retain_fails(ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = "Resources.AccessLogsBucket"
    path = edited_secure_template(tmp_path, f"{bucket}.DeletionPolicy", None, f"{bucket}.UpdateReplacePolicy")
    use_template(monkeypatch, path)
    assert set(failed(ctx, "extra.template-secure")) == {"log bucket retained"}


def test_cfn_lint_findings_fail_the_template(ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = edited_secure_template(tmp_path, "Resources.MetadataLambda.Properties.Runtime", "python2.7")
    use_template(monkeypatch, path)
    findings = failed(ctx, "extra.template-secure")
    assert "cfn-lint" in findings and "python2.7" in findings["cfn-lint"]


# -- the live stack ----------------------------------------------------------------------------
def test_stack_never_updated_fails(deployed: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    # The deployed (insecure) template fails extra.template-secure, which skips this step: a
    # student's secure file (not deployed yet) lets it run and say what the stack lacks.
    assert statuses(run(deployed, "check", EXTRA))["extra.stack-secure"] is Status.SKIPPED
    use_template(monkeypatch, STUDENT)
    findings = failed(deployed, "extra.stack-secure")
    assert "deployed template carries the fixes" in findings
    assert any("solve extra" in h for h in hints(deployed, "extra.stack-secure"))


@pytest.fixture
def secured(deployed: Context) -> Context:
    report = run(deployed, "solve", ["extra"])
    unmet = {c.name: c.detail for s in report.steps for c in s.checks if not c.passed}
    assert statuses(report) == dict.fromkeys(EXTRA, Status.PASS), unmet
    # template-secure's apply updates the stack from the reference; stack-secure then finds it done.
    notes = step(report, "extra.template-secure").notes + step(report, "extra.stack-secure").notes
    assert any(n.startswith("change set ") for n in notes), notes
    assert any("Add AccessLogsBucket" in n for n in notes), notes
    # Nothing weaker than before: the queue policy still names the sending bucket and account.
    policy = deployed.client("sqs").get_queue_attributes(
        QueueUrl=deployed.stack().resources["S3NotificationQueue"].physical_id, AttributeNames=["Policy"]
    )["Attributes"]["Policy"]
    assert "aws:SourceArn" in policy and "aws:SourceAccount" in policy, policy
    # The probe upload proves the pipeline under the new permissions only if it is in a later second.
    events = deployed.client("cloudformation").describe_stack_events(StackName=deployed.stack().name)["StackEvents"]
    s3 = deployed.client("s3")
    probe = s3.head_object(Bucket=deployed.workload().bucket, Key=extra_module().PROBE_FILE)["LastModified"]
    assert probe.replace(microsecond=0) > max(e["Timestamp"] for e in events).replace(microsecond=0)
    deployed.refresh()
    return deployed


def test_solve_is_idempotent(secured: Context) -> None:
    again = run(secured, "solve", ["extra"])
    assert statuses(again) == dict.fromkeys(EXTRA, Status.PASS), again
    assert {s.id: s.changed for s in again.steps} == dict.fromkeys(EXTRA, False)
    assert not any(n.startswith("change set ") for n in step(again, "extra.stack-secure").notes)
    assert statuses(run(secured, "check", EXTRA)) == dict.fromkeys(EXTRA, Status.PASS)


def test_console_change_after_the_update_fails_as_drift(secured: Context) -> None:
    role = secured.workload().role
    secured.client("iam").attach_role_policy(
        RoleName=role, PolicyArn="arn:aws:iam::aws:policy/job-function/SystemAdministrator"
    )
    findings = failed(secured, "extra.stack-secure")
    assert set(findings) >= {"lab3.no-admin live"}
    assert "deployed template carries the fixes" not in findings
    assert "drift" in findings["lab3.no-admin live"]


def test_fixed_in_the_console_but_not_in_the_template_fails(deployed: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run(deployed, "solve", ["lab2", "lab3"])
    deployed.refresh()
    use_template(monkeypatch, STUDENT)
    findings = failed(deployed, "extra.stack-secure")
    assert "deployed template carries the fixes" in findings, findings
    assert "undone by the next stack update" in findings["deployed template carries the fixes"]
    live_fixed = [s.id for s in report.steps if s.status is Status.PASS]
    assert not [name for name in findings if name.removesuffix(" live") in live_fixed]


def test_an_upload_before_the_stack_update_does_not_prove_the_pipeline(deployed: Context) -> None:
    """The update rewrites the role's policies (CloudTrail records CloudFormation's IAM calls): the
    setup upload, made under the old permissions, no longer proves the least-privilege pipeline."""
    cfn = deployed.client("cloudformation")
    name = deployed.stack().name
    cfn.update_stack(StackName=name, TemplateBody=SECURE.read_text(), Capabilities=["CAPABILITY_NAMED_IAM"])
    cfn.get_waiter("stack_update_complete").wait(StackName=name, WaiterConfig={"Delay": 1})
    deployed.refresh()
    findings = failed(deployed, "lab3.pipeline")
    assert list(findings) == ["uploaded with the current permissions"], findings
    assert "predates the role's last permission change" in findings["uploaded with the current permissions"]


def test_queue_policy_opened_by_hand_fails_stack_secure(secured: Context) -> None:
    queue = secured.workload()
    wide = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue.queue_arn,
            }
        ],
    }
    secured.client("sqs").set_queue_attributes(QueueUrl=queue.queue_url, Attributes={"Policy": json.dumps(wide)})
    findings = failed(secured, "extra.stack-secure")
    assert "confused deputy" in findings["queue policy live: only the upload bucket may send"]
