"""The doctor's small parts: who the simulator simulates, the bucket quota, runtime dates, text lines."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from labrunner.aws.caller import parse_caller, resolve_caller
from labrunner.aws.lambda_runtimes import life_of
from labrunner.aws.quotas import DEFAULT_BUCKET_QUOTA, bucket_quota
from labrunner.doctor.model import DoctorReport, Finding, Level
from labrunner.doctor.probes import bucket_quota_probe, lambda_runtime
from labrunner.doctor.render import finding_line, verdict


@pytest.mark.parametrize(
    ("arn", "kind", "source"),
    [
        ("arn:aws:iam::111122223333:user/dev/alice", "user", "arn:aws:iam::111122223333:user/dev/alice"),
        (
            "arn:aws:sts::111122223333:assumed-role/Admin/alice@example.com",
            "role",
            "arn:aws:iam::111122223333:role/Admin",
        ),
        ("arn:aws:iam::111122223333:root", "root", None),
        ("arn:aws:sts::111122223333:federated-user/bob", "federated", None),
        ("arn:aws-cn:sts::111122223333:assumed-role/R/s", "role", "arn:aws-cn:iam::111122223333:role/R"),
    ],
    ids=["user-with-path", "assumed-role", "root", "federated", "china-partition"],
)
def test_parse_caller(arn: str, kind: str, source: str | None) -> None:
    caller = parse_caller(arn)
    assert (caller.kind, caller.source_arn) == (kind, source)


class _Iam:
    def __init__(self, error: str | None = None) -> None:
        self.error = error

    def get_role(self, RoleName: str) -> dict[str, Any]:
        if self.error:
            raise ClientError({"Error": {"Code": self.error, "Message": ""}}, "GetRole")
        return {"Role": {"Arn": f"arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/{RoleName}"}}


def test_an_assumed_role_is_simulated_with_its_path_or_said_to_be_guessed() -> None:
    arn = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_1/alice"
    found = resolve_caller(_Iam(), arn)
    assert found.source_arn == "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_1"
    guessed = resolve_caller(_Iam("AccessDenied"), arn)
    assert guessed.source_arn == "arn:aws:iam::111122223333:role/AWSReservedSSO_Admin_1"
    assert "iam:GetRole was refused (AccessDenied)" in guessed.note


class _Quotas:
    def __init__(self, quotas: list[dict[str, Any]] | None, error: str = "") -> None:
        self.quotas, self.error = quotas, error

    def get_paginator(self, name: str) -> Any:
        assert name == "list_service_quotas"
        owner = self

        class Pages:
            def paginate(self, ServiceCode: str) -> Any:
                assert ServiceCode == "s3"
                if owner.error:
                    raise ClientError({"Error": {"Code": owner.error, "Message": ""}}, "ListServiceQuotas")
                return [{"Quotas": owner.quotas}]

        return Pages()


def test_bucket_quota_from_service_quotas_else_the_documented_default() -> None:
    raised = bucket_quota(_Quotas([{"QuotaName": "General purpose buckets", "Value": 20000.0}]))
    assert (raised.limit, raised.source) == (20000, "Service Quotas")
    denied = bucket_quota(_Quotas(None, "AccessDeniedException"))
    assert denied.limit == DEFAULT_BUCKET_QUOTA == 10_000 and "AccessDeniedException" in denied.source
    assert bucket_quota(_Quotas([{"QuotaName": "Directory buckets", "Value": 100.0}])).limit == DEFAULT_BUCKET_QUOTA


def test_runtime_dates_come_from_cfn_lint() -> None:
    life = life_of("python3.9")
    assert life.deprecated == date(2025, 12, 15) and life.create_block == date(2027, 2, 1)
    assert life.is_deprecated(date(2026, 1, 1)) and life.creatable(date(2027, 1, 31))
    assert not life.creatable(date(2027, 2, 1))
    assert life_of("no-such-runtime").creatable(date(2100, 1, 1))


def test_the_template_runtime_turns_into_a_warn_then_a_problem() -> None:
    life = life_of("python3.12")
    assert life.deprecated is not None and life.create_block is not None
    ctx: Any = None  # the runtime probe reads only the templates
    assert [f.level for f in lambda_runtime(ctx, today=life.deprecated)] == [Level.WARN]
    [blocked] = lambda_runtime(ctx, today=life.create_block)
    assert blocked.level is Level.PROBLEM and "Lambda no longer creates functions with python3.12" in blocked.detail
    assert life.successor is not None and life.successor in blocked.fix


def test_text_lines_and_verdict() -> None:
    problem = Finding.problem("cloudtrail", "not reachable", "Allow cloudtrail:LookupEvents.")
    assert finding_line(problem) == (
        "problem  cloudtrail               not reachable — fix: Allow cloudtrail:LookupEvents."
    )
    report = DoctorReport("aws", "1", "us-east-1", "immersion", "arn", datetime.now(UTC), 0.1, (problem,))
    assert report.exit_code == 1
    assert verdict(report).startswith("doctor: 0 ok, 0 warn, 1 problem — the lab cannot run here")


class _S3:
    def __init__(self, buckets: int) -> None:
        self.buckets = buckets

    def list_buckets(self, MaxBuckets: int, ContinuationToken: str = "") -> dict[str, Any]:
        start = int(ContinuationToken or 0)
        end = min(start + MaxBuckets, self.buckets)
        page: dict[str, Any] = {"Buckets": [{"Name": f"b{i}"} for i in range(start, end)]}
        if end < self.buckets:
            page["ContinuationToken"] = str(end)
        return page


class _Ctx:
    region = "eu-west-1"

    def __init__(self, limit: float, buckets: int) -> None:
        self.clients = {"service-quotas": _Quotas([{"QuotaName": "General purpose buckets", "Value": limit}])}
        self.clients["s3"] = _S3(buckets)  # type: ignore[assignment]
        self.asked: list[tuple[str, str | None]] = []

    def client(self, service: str, region: str | None = None) -> Any:
        self.asked.append((service, region))
        return self.clients[service]


@pytest.mark.parametrize(
    ("limit", "buckets", "level"),
    [(10_000, 2_500, Level.OK), (10_000, 9_500, Level.WARN), (2_003, 2_000, Level.PROBLEM)],
    ids=["room", "little-room", "no-room"],
)
def test_bucket_quota_headroom(limit: int, buckets: int, level: Level) -> None:
    ctx: Any = _Ctx(limit, buckets)
    [found] = bucket_quota_probe(ctx)
    assert found.level is level, found
    assert f"{buckets} of {limit} general purpose buckets in use (Service Quotas)" in found.detail
    assert ("service-quotas", "us-east-1") in ctx.asked  # the quota lives in N. Virginia for commercial regions
