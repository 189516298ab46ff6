"""Reset's ownership rules, retries, confirmation and stack handling, without a server."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError

from labrunner.errors import UsageError
from labrunner.reset import ownership as own
from labrunner.reset.confirm import confirm_typed
from labrunner.reset.execute import Executor
from labrunner.reset.model import Kind, Outcome, Plan, PlanItem
from labrunner.reset.retry import retrying

SUFFIX = "123456789012-eb805c6c"


def client_error(code: str, operation: str = "DeleteBucket") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "…"}}, operation)


@pytest.mark.parametrize(
    ("name", "lab"),
    [
        ("immersion-upload-logs-123456789012-eb805c6c", True),
        ("immersion-upload-logs-jdoe", True),  # named by hand after the lab text
        ("immersion-config-demo-x", True),
        (f"immersion-config-delivery-{SUFFIX}", True),
        (f"immersion-config-delivery-{SUFFIX}-0862a41d", True),  # solve's per-deployment name
        (f"immersion-config-delivery-{SUFFIX}-backup", False),  # someone else's, named alike
        ("immersion-fileuploadsbucket-abc123", False),  # a stack's bucket: the stack decides
        ("immersion-config-delivery-999999999999-00000000", False),  # another account's suffix
        ("upload-logs-immersion", False),
        ("decoy-research-data", False),
    ],
)
def test_lab_bucket_names(name: str, lab: bool) -> None:
    assert (own.lab_bucket_name(name, SUFFIX) is not None) is lab


@pytest.mark.parametrize(
    ("key", "prefixes", "log"),
    [
        ("2026-11-26-13-49-03-0123456789ABCDEF", [""], True),
        ("upload/2026-11-26-13-49-03-0123456789ABCDEF", ["upload/"], True),
        ("upload/123456789012/us-east-1/bkt/2026/11/26/2026-11-26-13-49-03-0123456789ABCDEF", ["upload/"], True),
        ("other/2026-11-26-13-49-03-0123456789ABCDEF", ["upload/"], False),
        ("finance/q3.xlsx", [""], False),
        ("2026-11-26-13-49-03-0123456789abcdef", [""], False),
    ],
)
def test_access_log_keys(key: str, prefixes: list[str], log: bool) -> None:
    assert own.is_access_log_key(key, prefixes) is log


@pytest.mark.parametrize(
    ("group", "ours"),
    [
        ("/aws/lambda/immersion-MetadataLambda-N3M7F75NX89F", True),
        ("/aws/lambda/immersion-copy-MetadataLambda-N3M7F75NX89F", False),
        ("/aws/lambda/immersion-MetadataLambda", False),
        ("/aws/lambda/immersion-OtherFunction-N3M7F75NX89F", False),
        ("/aws/lambda/decoy-billing", False),
    ],
)
def test_function_log_groups(group: str, ours: bool) -> None:
    assert own.function_log_group("immersion", ["MetadataLambda"], group) is ours


def test_stack_and_tag_rules() -> None:
    assert own.workload_stack(["FileUploadsBucket", "MetadataLambda", "ObjectMetadataTable", "Extra"])
    assert not own.workload_stack(["FileUploadsBucket", "Queue"])
    tags = own.tag_dict(
        [{"Key": "labrunner:lab", "Value": "immersion"}, {"key": "aws:cloudformation:stack-name", "value": "b"}]
    )
    assert own.lab_tagged(tags)
    assert own.other_stack(tags, "immersion") == "b"
    assert own.other_stack(tags, "b") is None
    solved_for_bob = own.tag_dict(
        [{"Key": "labrunner:lab", "Value": "immersion"}, {"Key": "labrunner:stack", "Value": "bob"}]
    )
    assert own.other_stack(solved_for_bob, "alice") == "bob"
    assert own.other_stack(solved_for_bob, "bob") is None
    assert own.service_linked_recorder({"name": "AWSConfigurationRecorderForSecurityHub"})
    assert not own.service_linked_recorder({"name": "default"})


def test_retrying_retries_dependency_errors_until_it_works() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise client_error("BucketNotEmpty")
        return "done"

    assert retrying(flaky, deadline_s=5, interval_s=0.01) == "done"
    assert len(calls) == 3


def test_retrying_gives_up_at_the_deadline_and_on_other_errors() -> None:
    def never() -> None:
        raise client_error("BucketNotEmpty")

    with pytest.raises(ClientError):
        retrying(never, deadline_s=0.05, interval_s=0.01)
    attempts: list[int] = []

    def denied() -> None:
        attempts.append(1)
        raise client_error("AccessDenied")

    with pytest.raises(ClientError):
        retrying(denied, deadline_s=5)
    assert len(attempts) == 1


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_confirmation_needs_the_typed_value_on_a_terminal() -> None:
    prompt = io.StringIO()
    confirm_typed("123456789012", "AWS account 123456789012", stdin=Terminal("123456789012\n"), prompt=prompt)
    assert "Type 123456789012" in prompt.getvalue()
    with pytest.raises(UsageError, match="cancelled"):
        confirm_typed("123456789012", "x", stdin=Terminal("yes\n"), prompt=io.StringIO())
    with pytest.raises(UsageError, match="not on a terminal"):
        confirm_typed("123456789012", "x", stdin=io.StringIO("123456789012\n"), prompt=io.StringIO())


# -- the stack, half deleted ------------------------------------------------------------------------
@dataclass
class FakeCfn:
    """CloudFormation whose stack goes through `statuses` (one per status read)."""

    statuses: list[str | None]
    deletes: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)

    def _status(self) -> str | None:
        return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        status = self._status()
        if status is None:
            raise client_error("ValidationError", "DescribeStacks")
        return {"Stacks": [{"StackName": StackName, "StackStatus": status}]}

    def describe_stack_events(self, StackName: str) -> dict[str, Any]:
        return {"StackEvents": []}

    def delete_stack(self, StackName: str) -> None:
        self.deletes += 1

    def list_stack_resources(self, StackName: str) -> dict[str, Any]:
        return {"StackResourceSummaries": self.failed}


@dataclass
class FakeSettings:
    wait_scale: float = 1.0


class FakeCtx:
    def __init__(self, cfn: FakeCfn) -> None:
        self.cfn = cfn
        self.settings = FakeSettings()

    def client(self, service: str) -> Any:
        assert service == "cloudformation"
        return self.cfn

    def refresh(self) -> None:
        pass


STACK = PlanItem(Kind.STACK, "immersion", "the workload's stack", stack_id="arn:stack/immersion/1")


def run_plan(cfn: FakeCfn) -> dict[str, Any]:
    plan = Plan("local", "123456789012", "us-east-1", "immersion", (STACK,))
    result = Executor(FakeCtx(cfn), lambda _m: None).run(plan)  # type: ignore[arg-type]
    return {"outcome": result[0].outcome, "detail": result[0].detail, "deletes": cfn.deletes}


def test_a_stack_already_being_deleted_is_waited_for() -> None:
    outcome = run_plan(FakeCfn(["DELETE_IN_PROGRESS", "DELETE_IN_PROGRESS", "DELETE_COMPLETE"]))
    assert outcome == {"outcome": Outcome.DELETED, "detail": "its deletion was already under way", "deletes": 0}


def test_a_stack_gone_since_the_plan_is_already_gone() -> None:
    assert run_plan(FakeCfn([None]))["outcome"] is Outcome.GONE


def test_a_stack_that_keeps_failing_names_the_resource() -> None:
    failed = [
        {
            "LogicalResourceId": "MetadataLambdaRole",
            "ResourceType": "AWS::Lambda::Permission",
            "ResourceStatus": "DELETE_FAILED",
            "ResourceStatusReason": "Resource is in use",
        }
    ]
    outcome = run_plan(FakeCfn(["CREATE_COMPLETE", "DELETE_FAILED"], failed=failed))
    assert outcome["outcome"] is Outcome.FAILED
    assert outcome["deletes"] == 3
    assert "DELETE_FAILED" in outcome["detail"] and "MetadataLambdaRole (Resource is in use)" in outcome["detail"]
