"""Simulator batches cover every request, and small batches are asked together."""

from __future__ import annotations

from labrunner.aws.iam.checks import admin_probes
from labrunner.aws.iam.evaluators import MERGE_WASTE, _group_by_actions
from labrunner.aws.iam.resources import LabResources, probe_requests


def covered(batches: list[tuple[list[str], list[str]]]) -> set[tuple[str, str]]:
    return {(a, r) for actions, resources in batches for a in actions for r in resources}


def lab() -> LabResources:
    return LabResources(
        region="us-east-1",
        account="123456789012",
        role_name="immersion-MetadataLambdaRole-X",
        table="immersion-ObjectMetadataTable-X",
        queue="immersion-S3NotificationQueue",
        function="immersion-MetadataLambda-X",
    )


def test_every_request_is_covered_with_little_waste() -> None:
    base = {"Partition": "aws", "Region": "us-east-1", "Account": "123456789012"}
    for requests in (
        admin_probes(lab()),
        probe_requests("dynamodb", {**base, "TableName": "t"}) + probe_requests("dynamodb", {**base, "TableName": "u"}),
        probe_requests("sqs", {**base, "QueueName": "q"}),
    ):
        batches = _group_by_actions(requests)
        assert set(requests) <= covered(batches)
        wasted = sum(len(a) * len(r) for a, r in batches) - len(set(requests))
        assert wasted <= MERGE_WASTE * len(batches)


def test_small_batches_are_merged() -> None:
    probes = admin_probes(lab())
    resources = {r for _, r in probes}
    assert len(_group_by_actions(probes)) < len(resources) / 2
    assert _group_by_actions([("s3:GetObject", "arn:aws:s3:::b/k")]) == [(["s3:GetObject"], ["arn:aws:s3:::b/k"])]
    assert _group_by_actions([]) == []
