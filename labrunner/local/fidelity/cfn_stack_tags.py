"""Gap: moto's CloudFormation tags only EC2 resources with the stack-level tags; AWS tags every
resource that supports tagging.

AWS CloudFormation User Guide, "CloudFormation resource tagging"
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-resource-tags.html):
"In addition to any tags you define, CloudFormation automatically creates the following
stack-level tags with the aws: prefix: aws:cloudformation:logical-id, aws:cloudformation:stack-id,
aws:cloudformation:stack-name" — and the stack's own tags propagate to its resources too. Tools
(labrunner's reset among them) tell which stack made a resource by these tags, which outlive the
stack on a retained resource (DeletionPolicy: Retain).

Here the S3 buckets of a stack — the resources the lab finds by tag — get them on create and keep
them on every update (a template's Tags property replaces only the user's tags).
"""

from __future__ import annotations

from typing import Any

from labrunner.local.cfn.models import s3_backend
from labrunner.local.hooks import ServerHooks

STACK_NAME = "aws:cloudformation:stack-name"
STACK_ID = "aws:cloudformation:stack-id"
LOGICAL_ID = "aws:cloudformation:logical-id"
_SYSTEM = "_labrunner_stack_tags"


def stack_level_tags(account_id: str, region: str, stack_id: str, logical_id: str) -> dict[str, str]:
    """The stack's own tags and CloudFormation's aws:cloudformation:* tags for one of its resources."""
    from moto.cloudformation.models import cloudformation_backends

    stack = cloudformation_backends[account_id][region].stacks.get(stack_id)
    user = dict(getattr(stack, "tags", None) or {}) if stack is not None else {}
    name = stack_id.split(":stack/", 1)[-1].split("/", 1)[0]
    return {**user, STACK_NAME: name, STACK_ID: stack_id, LOGICAL_ID: logical_id}


def _retag(bucket: Any, account_id: str, region: str) -> None:
    system: dict[str, str] = getattr(bucket, _SYSTEM, {})
    if not system:
        return
    backend = s3_backend(account_id, region)
    current = {t["Key"]: t["Value"] for t in backend.get_bucket_tagging(bucket.name).get("Tags", [])}
    if any(current.get(k) != v for k, v in system.items() if k.startswith("aws:")) or any(
        k not in current for k in system
    ):
        # A template's own Tags win over the stack's for the same key; aws:* are CloudFormation's.
        merged = {**{k: v for k, v in system.items() if not k.startswith("aws:")}, **current}
        merged.update({k: v for k, v in system.items() if k.startswith("aws:")})
        backend.put_bucket_tagging(bucket.name, merged)


def install(hooks: ServerHooks) -> None:
    from moto.s3.models import FakeBucket

    create = FakeBucket.create_from_cloudformation_json
    update = FakeBucket.update_from_cloudformation_json

    def create_bucket(
        cls: Any,
        /,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kw: Any,
    ) -> Any:
        bucket = create.__func__(cls, resource_name, cloudformation_json, account_id, region_name, **kw)  # type: ignore[attr-defined]
        if kw.get("StackId") and kw.get("LogicalId"):
            setattr(bucket, _SYSTEM, stack_level_tags(account_id, region_name, kw["StackId"], kw["LogicalId"]))
            _retag(bucket, account_id, region_name)
        return bucket

    def update_bucket(cls: Any, /, *, original_resource: Any, **kw: Any) -> Any:
        bucket = update.__func__(cls, original_resource=original_resource, **kw)  # type: ignore[attr-defined]
        if bucket is not original_resource and getattr(original_resource, _SYSTEM, None):
            setattr(bucket, _SYSTEM, getattr(original_resource, _SYSTEM))  # a replacement: same stack, same id
        _retag(bucket, kw["account_id"], kw["region_name"])
        return bucket

    setattr(FakeBucket, "create_from_cloudformation_json", classmethod(create_bucket))  # noqa: B010 (patching moto)
    setattr(FakeBucket, "update_from_cloudformation_json", classmethod(update_bucket))  # noqa: B010
