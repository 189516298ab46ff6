"""Gap: moto's AWS::SQS::Queue update applies only VisibilityTimeout and
ReceiveMessageWaitTimeSeconds; encryption (SqsManagedSseEnabled, KmsMasterKeyId), retention,
redrive and the other attributes keep their old values.

Here an update sets every changed attribute through SetQueueAttributes and puts a removed one
back to its default, as CloudFormation does; a new QueueName or FifoQueue replaces the queue.
"""

from __future__ import annotations

import json
from typing import Any

from labrunner.local.cfn.models import applied_properties, remember_properties
from labrunner.local.hooks import ServerHooks

REPLACING = ("QueueName", "FifoQueue")
NOT_ATTRIBUTES = ("Tags", *REPLACING)
# What SQS gives a queue when the attribute is not set (KMS settings: none).
DEFAULTS = {
    "DelaySeconds": "0",
    "MaximumMessageSize": "1048576",
    "MessageRetentionPeriod": "345600",
    "ReceiveMessageWaitTimeSeconds": "0",
    "VisibilityTimeout": "30",
    "RedrivePolicy": "",
    "RedriveAllowPolicy": "",
    "KmsMasterKeyId": "",
    "KmsDataKeyReusePeriodSeconds": "300",
    "SqsManagedSseEnabled": "true",
}


def attribute_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def install(hooks: ServerHooks) -> None:
    from moto.sqs.models import Queue, sqs_backends

    original_create = Queue.create_from_cloudformation_json

    def create_queue(
        cls: Any,
        /,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kw: Any,
    ) -> Any:
        queue = original_create(resource_name, cloudformation_json, account_id, region_name, **kw)
        remember_properties(queue, cloudformation_json.get("Properties") or {})
        return queue

    def update_queue(
        cls: Any,
        *,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        properties = cloudformation_json.get("Properties") or {}
        previous = applied_properties(original_resource)
        backend = sqs_backends[account_id][region_name]
        if any(properties.get(key) != previous.get(key) for key in REPLACING):
            replacement = create_queue(
                cls, properties.get("QueueName", new_resource_name), cloudformation_json, account_id, region_name
            )
            backend.delete_queue(original_resource.name)
            return replacement
        changes = {}
        for key in set(properties) | set(previous):
            if key in NOT_ATTRIBUTES or properties.get(key) == previous.get(key):
                continue
            changes[key] = attribute_value(properties[key]) if key in properties else DEFAULTS.get(key, "")
        if changes:
            backend.set_queue_attributes(original_resource.name, changes)
        if properties.get("Tags") != previous.get("Tags"):
            old_keys = [t["Key"] for t in previous.get("Tags") or []]
            if old_keys:
                backend.untag_queue(original_resource.name, old_keys)
            if properties.get("Tags"):
                backend.tag_queue(original_resource.name, {t["Key"]: t["Value"] for t in properties["Tags"]})
        remember_properties(original_resource, properties)
        return original_resource

    setattr(Queue, "create_from_cloudformation_json", classmethod(create_queue))  # noqa: B010 (patching moto)
    setattr(Queue, "update_from_cloudformation_json", classmethod(update_queue))  # noqa: B010
