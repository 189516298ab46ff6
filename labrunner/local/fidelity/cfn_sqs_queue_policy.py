"""Gap: moto's CloudFormation has no AWS::SQS::QueuePolicy (a warning and an empty resource row).

The policy is set on each queue of `Queues` (queue URLs), changed on update (queues dropped from
the list lose it), removed on delete; the stack lists it with its logical id, a physical id and
its type.
"""

from __future__ import annotations

import contextlib
from typing import Any

from moto.core.common_models import CloudFormationModel

from labrunner.local.cfn.models import PolicyResource, policy_text, refresh_model_registry
from labrunner.local.hooks import ServerHooks


def _queue_name(url: str) -> tuple[str, str]:
    """(account, queue name) of a queue URL such as https://sqs.REGION.amazonaws.com/ACCT/NAME."""
    parts = url.rstrip("/").split("/")
    return parts[-2], parts[-1]


class QueuePolicy(PolicyResource, CloudFormationModel):
    """AWS::SQS::QueuePolicy: one policy document applied to one or more queues."""

    def __init__(self, account_id: str, region: str, policy_id: str, queues: list[str], document: str) -> None:
        super().__init__(account_id, region, policy_id, document)
        self.queues = queues

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SQS::QueuePolicy"

    def _apply(self, queues: list[str], document: str) -> None:
        from moto.sqs.models import sqs_backends

        for url in queues:
            account, name = _queue_name(url)
            sqs_backends[account][self.region].set_queue_attributes(name, {"Policy": document})

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> QueuePolicy:
        properties = cloudformation_json["Properties"]
        policy = cls(
            account_id,
            region_name,
            resource_name,
            list(properties["Queues"]),
            policy_text(properties["PolicyDocument"]),
        )
        policy._apply(policy.queues, policy.document)
        return policy

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: QueuePolicy,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> QueuePolicy:
        properties = cloudformation_json["Properties"]
        queues = list(properties["Queues"])
        original_resource._apply([q for q in original_resource.queues if q not in queues], "")
        original_resource.queues = queues
        original_resource.document = policy_text(properties["PolicyDocument"])
        original_resource._apply(queues, original_resource.document)
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.sqs.exceptions import QueueDoesNotExist

        for url in self.queues:
            with contextlib.suppress(QueueDoesNotExist):  # the queue went first: nothing to detach
                self._apply([url], "")


def install(hooks: ServerHooks) -> None:
    refresh_model_registry()
