"""Lab 3 against the local AWS: student states built by hand with boto3, then solve end to end."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from labrunner.aws.session import Identity, OpenTarget
from labrunner.aws.stack import Workload
from labrunner.context import Context, Settings
from labrunner.model import Report, Status
from tests.helpers import cli, run, statuses, step

PERMISSION_STEPS = [
    "lab3.trust-policy",
    "lab3.no-admin",
    "lab3.basic-execution",
    "lab3.dynamodb-least-privilege",
    "lab3.sqs-least-privilege",
]
ALL_STEPS = [*PERMISSION_STEPS, "lab3.pipeline", "lab3.access-denied"]
SYSADMIN = "arn:aws:iam::aws:policy/job-function/SystemAdministrator"
BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
DYNAMODB_FULL = "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"
PASS, FAIL = Status.PASS, Status.FAIL


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _lambda_trust() -> str:
    return _doc({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"})


def _sqs_statement(w: Workload, *extra: str) -> dict[str, Any]:
    actions = ["sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:DeleteMessage", *extra]
    return {"Effect": "Allow", "Action": actions, "Resource": w.queue_arn}


def secure_by_hand(ctx: Context) -> tuple[Any, Workload]:
    """What a student does in the console for lab 3 (without the demo), through boto3."""
    iam, w = ctx.client("iam"), ctx.workload()
    iam.update_assume_role_policy(RoleName=w.role, PolicyDocument=_lambda_trust())
    iam.detach_role_policy(RoleName=w.role, PolicyArn=SYSADMIN)
    iam.delete_role_policy(RoleName=w.role, PolicyName="PutItemDynamoTables")
    iam.attach_role_policy(RoleName=w.role, PolicyArn=BASIC)
    put_item = {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": w.table_arn}
    iam.put_role_policy(RoleName=w.role, PolicyName="DynamoDbPutItemOnly", PolicyDocument=_doc(put_item))
    iam.put_role_policy(RoleName=w.role, PolicyName="RetrieveSqsMessages", PolicyDocument=_doc(_sqs_statement(w)))
    return iam, w


def _check(ctx: Context, ids: list[str] = PERMISSION_STEPS) -> Report:
    ctx.refresh()
    return run(ctx, "check", ids)


def _assert_fails_have_hints(report: Report) -> None:
    for result in report.steps:
        for check in result.checks:
            if not check.passed:
                assert check.hint, (result.id, check)


def _details(report: Report, step_id: str) -> str:
    return " | ".join(f"{c.name}: {c.detail}" for c in step(report, step_id).checks)


def _hints(report: Report, step_id: str) -> str:
    return " | ".join(c.hint for c in step(report, step_id).checks if not c.passed)


# -- the insecure workload as deployed ----------------------------------------------------------


def test_deployed_workload_fails_every_permission_step(deployed: Context) -> None:
    report = _check(deployed)
    assert statuses(report) == dict.fromkeys(PERMISSION_STEPS, FAIL)
    _assert_fails_have_hints(report)
    assert "536023900131" in _details(report, "lab3.trust-policy")
    assert "SystemAdministrator" in _details(report, "lab3.no-admin")
    assert "PutItemDynamoTables" in _details(report, "lab3.basic-execution")
    assert "statement #2 (Allow dynamodb:* on *)" in _details(report, "lab3.dynamodb-least-privilege")
    assert "Trust relationships" in _hints(report, "lab3.trust-policy")


# -- hand-made student states -------------------------------------------------------------------

Mutation = Callable[[Any, Workload], None]


def _admin_back(iam: Any, w: Workload) -> None:
    iam.attach_role_policy(RoleName=w.role, PolicyArn=SYSADMIN)


def _trust_account_root(iam: Any, w: Workload) -> None:
    doc = json.loads(_lambda_trust())
    doc["Statement"].append(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{w.account}:root"}, "Action": "sts:AssumeRole"}
    )
    iam.update_assume_role_policy(RoleName=w.role, PolicyDocument=json.dumps(doc))


def _trust_everyone(iam: Any, w: Workload) -> None:
    doc = json.loads(_lambda_trust())
    doc["Statement"].append({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"})
    iam.update_assume_role_policy(RoleName=w.role, PolicyDocument=json.dumps(doc))


def _trust_a_user(iam: Any, w: Workload) -> None:
    iam.create_user(UserName="alice")
    doc = json.loads(_lambda_trust())
    doc["Statement"][0]["Principal"]["AWS"] = f"arn:aws:iam::{w.account}:user/alice"
    iam.update_assume_role_policy(RoleName=w.role, PolicyDocument=json.dumps(doc))


def _put_item_anywhere(iam: Any, w: Workload) -> None:
    doc = _doc({"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": "*"})
    iam.put_role_policy(RoleName=w.role, PolicyName="DynamoDbPutItemOnly", PolicyDocument=doc)


def _put_star(iam: Any, w: Workload) -> None:
    doc = _doc({"Effect": "Allow", "Action": "dynamodb:Put*", "Resource": w.table_arn})
    iam.put_role_policy(RoleName=w.role, PolicyName="DynamoDbPutItemOnly", PolicyDocument=doc)


def _extra_send_message(iam: Any, w: Workload) -> None:
    doc = _doc(_sqs_statement(w, "sqs:SendMessage"))
    iam.put_role_policy(RoleName=w.role, PolicyName="RetrieveSqsMessages", PolicyDocument=doc)


def _dynamodb_full_access(iam: Any, w: Workload) -> None:
    iam.attach_role_policy(RoleName=w.role, PolicyArn=DYNAMODB_FULL)


def _basic_detached(iam: Any, w: Workload) -> None:
    iam.detach_role_policy(RoleName=w.role, PolicyArn=BASIC)


def _logs_wildcard(iam: Any, w: Workload) -> None:
    doc = _doc({"Effect": "Allow", "Action": "logs:*", "Resource": "*"})
    iam.put_role_policy(RoleName=w.role, PolicyName="FunctionLogs", PolicyDocument=doc)


def _one_renamed_policy(iam: Any, w: Workload) -> None:
    iam.delete_role_policy(RoleName=w.role, PolicyName="DynamoDbPutItemOnly")
    iam.delete_role_policy(RoleName=w.role, PolicyName="RetrieveSqsMessages")
    doc = _doc(
        {"Sid": "Write", "Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": w.table_arn},
        {"Sid": "Poll", **_sqs_statement(w)},
    )
    iam.put_role_policy(RoleName=w.role, PolicyName="MyFunctionPermissions", PolicyDocument=doc)


def _wildcard_with_deny(iam: Any, w: Workload) -> None:
    """Over-broad Allows cut back by Deny/NotAction/NotResource: effectively least privilege."""
    iam.delete_role_policy(RoleName=w.role, PolicyName="DynamoDbPutItemOnly")
    doc = _doc(
        {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
        {"Effect": "Deny", "NotAction": "dynamodb:PutItem", "Resource": w.table_arn},
        {"Effect": "Deny", "Action": "dynamodb:*", "NotResource": w.table_arn},
    )
    iam.put_role_policy(RoleName=w.role, PolicyName="TableWriter", PolicyDocument=doc)


CASES: dict[str, tuple[Mutation, dict[str, Status], str, str]] = {
    # name: (mutation, statuses that differ from all-pass, failing step, text its detail must hold)
    "admin-reattached": (
        _admin_back,
        # SystemAdministrator also grants sqs:* on every queue.
        {"lab3.no-admin": FAIL, "lab3.sqs-least-privilege": FAIL},
        "lab3.no-admin",
        "SystemAdministrator",
    ),
    "trust-account-root": (_trust_account_root, {"lab3.trust-policy": FAIL}, "lab3.trust-policy", ":root"),
    "trust-everyone": (_trust_everyone, {"lab3.trust-policy": FAIL}, "lab3.trust-policy", "everyone"),
    "trust-a-user": (_trust_a_user, {"lab3.trust-policy": FAIL}, "lab3.trust-policy", "user/alice"),
    "put-item-on-star": (
        _put_item_anywhere,
        {"lab3.dynamodb-least-privilege": FAIL},
        "lab3.dynamodb-least-privilege",
        "Allow dynamodb:PutItem on *",
    ),
    "put-wildcard": (
        _put_star,
        {"lab3.dynamodb-least-privilege": FAIL},
        "lab3.dynamodb-least-privilege",
        "PutResourcePolicy",
    ),
    "extra-send-message": (
        _extra_send_message,
        {"lab3.sqs-least-privilege": FAIL},
        "lab3.sqs-least-privilege",
        "SendMessage",
    ),
    "dynamodb-full-access": (
        _dynamodb_full_access,
        {"lab3.dynamodb-least-privilege": FAIL},
        "lab3.dynamodb-least-privilege",
        "AmazonDynamoDBFullAccess",
    ),
    "basic-execution-detached": (
        _basic_detached,
        {"lab3.basic-execution": FAIL},
        "lab3.basic-execution",
        "logs:CreateLogGroup",
    ),
    # Basic execution covers the logs; logs:* also lets the function delete its own audit trail (AU-9).
    "logs-wildcard": (
        _logs_wildcard,
        {"lab3.basic-execution": FAIL},
        "lab3.basic-execution",
        "DeleteLogGroup",
    ),
}


def test_lab_solved_by_hand_passes(deployed: Context) -> None:
    secure_by_hand(deployed)
    report = _check(deployed)
    assert statuses(report) == dict.fromkeys(PERMISSION_STEPS, PASS), report
    assert "granted by DynamoDbPutItemOnly" in _details(report, "lab3.dynamodb-least-privilege")


@pytest.mark.parametrize("case", list(CASES))
def test_hand_made_state(deployed: Context, case: str) -> None:
    mutate, differing, failing, needle = CASES[case]
    iam, w = secure_by_hand(deployed)
    mutate(iam, w)
    report = _check(deployed)
    assert statuses(report) == {**dict.fromkeys(PERMISSION_STEPS, PASS), **differing}, _details(report, failing)
    _assert_fails_have_hints(report)
    assert needle in _details(report, failing)
    assert "IAM → Roles →" in _hints(report, failing)


def test_right_permissions_in_one_renamed_policy_pass(deployed: Context) -> None:
    iam, w = secure_by_hand(deployed)
    _one_renamed_policy(iam, w)
    report = _check(deployed)
    assert statuses(report) == dict.fromkeys(PERMISSION_STEPS, PASS), report
    ddb = _details(report, "lab3.dynamodb-least-privilege")
    assert "MyFunctionPermissions" in ddb and "the lab names this policy DynamoDbPutItemOnly" in ddb
    assert "the lab names this policy RetrieveSqsMessages" in _details(report, "lab3.sqs-least-privilege")


def test_wildcards_cut_back_by_deny_are_judged_by_effect(deployed: Context) -> None:
    iam, w = secure_by_hand(deployed)
    _wildcard_with_deny(iam, w)
    report = _check(deployed, ["lab3.dynamodb-least-privilege", "lab3.basic-execution"])
    # Effective DynamoDB permissions are exactly PutItem on the table…
    assert step(report, "lab3.dynamodb-least-privilege").status is PASS, report
    # …and the Deny statements leave no wholesale DynamoDB access for the wildcard check either.
    assert step(report, "lab3.basic-execution").status is PASS, report


def test_a_deny_of_everything_but_put_item_also_silences_the_logs(deployed: Context) -> None:
    iam, w = secure_by_hand(deployed)
    deny = _doc({"Effect": "Deny", "NotAction": "dynamodb:PutItem", "Resource": "*"})
    iam.put_role_policy(RoleName=w.role, PolicyName="OnlyPutItem", PolicyDocument=deny)
    report = _check(deployed, ["lab3.basic-execution", "lab3.sqs-least-privilege"])
    assert statuses(report) == {"lab3.basic-execution": FAIL, "lab3.sqs-least-privilege": FAIL}
    assert "may not logs:CreateLogGroup" in _details(report, "lab3.basic-execution")
    assert "explicitly denied" in _details(report, "lab3.sqs-least-privilege")


def test_get_item_demo_left_in_place_fails_pipeline_and_access_denied(deployed: Context) -> None:
    iam, w = secure_by_hand(deployed)
    get_item = _doc({"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": w.table_arn})
    iam.put_role_policy(RoleName=w.role, PolicyName="DynamoDbPutItemOnly", PolicyDocument=get_item)
    report = _check(deployed, ["lab3.dynamodb-least-privilege", "lab3.pipeline", "lab3.access-denied"])
    assert statuses(report) == {
        "lab3.dynamodb-least-privilege": FAIL,
        "lab3.pipeline": FAIL,
        "lab3.access-denied": FAIL,
    }, report
    _assert_fails_have_hints(report)
    assert "dynamodb:PutItem" in _details(report, "lab3.pipeline")
    assert "GetItem" in _hints(report, "lab3.access-denied")


def test_pipeline_needs_an_upload_after_the_last_permission_change(deployed: Context) -> None:
    """The setup's upload was recorded under the wildcard policy: it proves nothing about lab 3."""
    secure_by_hand(deployed)
    report = _check(deployed, ["lab3.pipeline"])
    assert step(report, "lab3.pipeline").status is FAIL
    assert "predates the role's last permission change" in _details(report, "lab3.pipeline")
    assert "Upload a file" in _hints(report, "lab3.pipeline")


# -- solve end to end ---------------------------------------------------------------------------


@pytest.mark.slow
def test_solve_lab3_end_to_end_then_idempotent(deployed: Context) -> None:
    first = run(deployed, "solve", ["lab3"])
    assert statuses(first) == dict.fromkeys(ALL_STEPS, PASS), [
        (s.id, [c for c in s.checks if not c.passed], s.trace[-1500:]) for s in first.steps if s.status is not PASS
    ]
    # basic-execution writes the narrow policies before it deletes the wide one (the role never lacks
    # a permission the pipeline uses), so the two least-privilege steps find them already there.
    unchanged = {"lab3.dynamodb-least-privilege", "lab3.sqs-least-privilege"}
    assert [s.id for s in first.steps if not s.changed] == sorted(unchanged), first
    assert all("already allows only" in " ".join(s.notes) for s in first.steps if s.id in unchanged)
    demo = step(first, "lab3.access-denied")
    denial = demo.data["access_denied"]
    # The denial came from the handler running under the narrowed role, in AWS's words.
    assert denial["action"] == "dynamodb:PutItem"
    assert denial["principal"].startswith(
        f"arn:aws:sts::{deployed.account_id}:assumed-role/{deployed.workload().role}/"
    )
    assert denial["resource"] == deployed.workload().table_arn

    deployed.refresh()
    second = run(deployed, "solve", ["lab3"])
    assert statuses(second) == dict.fromkeys(ALL_STEPS, PASS)
    assert [s.id for s in second.steps if s.changed] == []

    checked = _check(deployed, ALL_STEPS)
    assert statuses(checked) == dict.fromkeys(ALL_STEPS, PASS)
    # The restored policy is the lab's own.
    role = deployed.workload().role
    names = deployed.client("iam").list_role_policies(RoleName=role)["PolicyNames"]
    assert sorted(names) == ["DynamoDbPutItemOnly", "RetrieveSqsMessages"]

    # SPEC §5: a student with ReadOnlyAccess can check lab 3 (iam:Simulate*, cloudtrail:LookupEvents,
    # logs:FilterLogEvents are reads), and the CLI agrees.
    report = run(Context(_read_only_target(deployed), Settings()), "check", ["lab3"])
    assert statuses(report) == dict.fromkeys(ALL_STEPS, PASS), report
    result = cli("check", "lab3", "--format", "json")
    assert result.code == 0, result.out + result.err
    assert {s["id"]: s["status"] for s in json.loads(result.out)["steps"]} == dict.fromkeys(ALL_STEPS, "pass")


def _read_only_target(ctx: Context) -> OpenTarget:
    iam = ctx.client("iam")
    iam.create_user(UserName="student-read-only")
    iam.attach_user_policy(UserName="student-read-only", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    key = iam.create_access_key(UserName="student-read-only")["AccessKey"]
    session = boto3.Session(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], region_name=ctx.region
    )
    arn = session.client("sts", endpoint_url=ctx.target.endpoint_url).get_caller_identity()["Arn"]
    return OpenTarget(
        kind="aws",
        session=session,
        region=ctx.region,
        endpoint_url=ctx.target.endpoint_url,
        identity=Identity(account=ctx.account_id, arn=arn),
    )


def test_the_lab_texts_prefix_wildcard_passes_until_another_table_matches(deployed: Context) -> None:
    """PutItem on "the table that starts with immersion-ObjectMetadataTable" (SPEC §4)."""
    iam, w = secure_by_hand(deployed)
    prefix = w.table.rsplit("-", 1)[0]
    assert prefix == f"{deployed.stack_name}-ObjectMetadataTable"
    wildcard = f"arn:aws:dynamodb:{w.region}:{w.account}:table/{prefix}*"
    put_item = {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": wildcard}
    iam.put_role_policy(RoleName=w.role, PolicyName="DynamoDbPutItemOnly", PolicyDocument=_doc(put_item))
    deployed.client("dynamodb").create_table(
        TableName="orders",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    report = _check(deployed, ["lab3.dynamodb-least-privilege"])
    assert step(report, "lab3.dynamodb-least-privilege").status is PASS, report
    assert f"the exact ARN {w.table_arn} is tighter" in _details(report, "lab3.dynamodb-least-privilege")

    # Another existing table with the prefix: the wildcard now reaches it, and it is named.
    deployed.client("dynamodb").create_table(
        TableName=f"{prefix}-OLDDEPLOYMENT1",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    report = _check(deployed, ["lab3.dynamodb-least-privilege"])
    assert step(report, "lab3.dynamodb-least-privilege").status is Status.FAIL
    assert f"existing table {prefix}-OLDDEPLOYMENT1" in _details(report, "lab3.dynamodb-least-privilege")
    _assert_fails_have_hints(report)
