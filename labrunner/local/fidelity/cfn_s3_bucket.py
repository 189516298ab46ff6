"""Gap: moto's AWS::S3::Bucket applies only BucketEncryption and Tags (and its update of Tags
fails without BucketName); NotificationConfiguration, LoggingConfiguration,
PublicAccessBlockConfiguration, VersioningConfiguration and OwnershipControls are ignored.

Here each of these properties is applied through the S3 backend's own operations (so whatever
watches them, AWS Config's recorder, the notification delivery, sees the change), on create and
on update: a changed property is put again, a removed one is deleted, as CloudFormation does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labrunner.local.cfn.models import applied_properties, remember_properties, s3_backend
from labrunner.local.hooks import ServerHooks

# (template key, moto key, key of the target ARN in both)
NOTIFICATION_KINDS = (
    ("QueueConfigurations", "QueueConfiguration", "Queue", "Queue"),
    ("TopicConfigurations", "TopicConfiguration", "Topic", "Topic"),
    ("LambdaConfigurations", "CloudFunctionConfiguration", "Function", "CloudFunction"),
)


def notification_config(cfn: dict[str, Any] | None) -> dict[str, Any]:
    """A template's NotificationConfiguration in the shape moto's S3 stores (parsed XML)."""
    if not cfn:
        return {}
    config: dict[str, Any] = {}
    for cfn_key, moto_key, cfn_target, moto_target in NOTIFICATION_KINDS:
        entries = []
        for entry in cfn.get(cfn_key) or []:
            converted: dict[str, Any] = {moto_target: entry[cfn_target], "Event": [entry["Event"]]}
            rules = ((entry.get("Filter") or {}).get("S3Key") or {}).get("Rules") or []
            if rules:
                converted["Filter"] = {
                    "S3Key": {"FilterRule": [{"Name": r["Name"].lower(), "Value": r["Value"]} for r in rules]}
                }
            if entry.get("Id"):
                converted["Id"] = entry["Id"]
            entries.append(converted)
        if entries:
            config[moto_key] = entries
    if (cfn.get("EventBridgeConfiguration") or {}).get("EventBridgeEnabled") in (True, "true"):
        config["EventBridgeConfiguration"] = {}
    return config


def _flag(value: Any) -> str:
    return "true" if value in (True, "true", "True") else "false"


def apply_encryption(backend: Any, name: str, value: Any) -> None:
    from moto.s3.cloud_formation import cfn_to_api_encryption

    if value:
        backend.put_bucket_encryption(bucket_name=name, encryption=cfn_to_api_encryption(value))
    else:
        backend.delete_bucket_encryption(name)


def apply_notifications(backend: Any, name: str, value: Any) -> None:
    backend.put_bucket_notification_configuration(name, notification_config(value))


def apply_logging(backend: Any, name: str, value: Any) -> None:
    if not value:
        backend.put_bucket_logging(name, {})
        return
    backend.put_bucket_logging(
        name,
        {
            # Without a destination, S3 delivers the logs into the bucket itself.
            "TargetBucket": value.get("DestinationBucketName") or name,
            "TargetPrefix": value.get("LogFilePrefix") or "",
        },
    )


def apply_public_access_block(backend: Any, name: str, value: Any) -> None:
    if not value:
        backend.delete_public_access_block(name)
        return
    keys = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    backend.put_public_access_block(name, {key: _flag(value.get(key)) for key in keys})


def apply_tags(backend: Any, name: str, value: Any) -> None:
    if value:
        backend.put_bucket_tagging(name, {tag["Key"]: tag["Value"] for tag in value})
    else:
        backend.delete_bucket_tagging(name)


def apply_versioning(backend: Any, name: str, value: Any) -> None:
    # A bucket that was versioned can only be suspended, never unversioned again.
    status = (value or {}).get("Status") or "Suspended"
    if value or backend.get_bucket_versioning(name):
        backend.put_bucket_versioning(name, status)


def apply_ownership(backend: Any, name: str, value: Any) -> None:
    rules = (value or {}).get("Rules") or []
    if rules:
        backend.put_bucket_ownership_controls(name, rules[0]["ObjectOwnership"])
    else:
        backend.delete_bucket_ownership_controls(name)


Applier = Callable[[Any, str, Any], None]
# In the order CloudFormation needs them: logging targets and notification destinations exist.
APPLIERS: tuple[tuple[str, Applier], ...] = (
    ("BucketEncryption", apply_encryption),
    ("OwnershipControls", apply_ownership),
    ("PublicAccessBlockConfiguration", apply_public_access_block),
    ("VersioningConfiguration", apply_versioning),
    ("Tags", apply_tags),
    ("LoggingConfiguration", apply_logging),
    ("NotificationConfiguration", apply_notifications),
)


def apply_properties(backend: Any, bucket: Any, properties: dict[str, Any]) -> None:
    """Put what changed since the last create/update of this bucket, delete what was removed."""
    previous = applied_properties(bucket)
    for key, applier in APPLIERS:
        if properties.get(key) != previous.get(key):
            applier(backend, bucket.name, properties.get(key))
    remember_properties(bucket, properties)


def create_bucket(
    cls: Any,
    /,
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Any:
    backend = s3_backend(account_id, region_name)
    bucket = backend.create_bucket(resource_name, region_name)
    try:
        apply_properties(backend, bucket, cloudformation_json.get("Properties") or {})
    except Exception:
        backend.delete_bucket(resource_name)  # a bucket that failed to create does not remain
        raise
    return bucket


def update_bucket(
    cls: Any,
    *,
    original_resource: Any,
    new_resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
) -> Any:
    properties = cloudformation_json.get("Properties") or {}
    name = properties.get("BucketName")
    if name and name != original_resource.name:  # a new name replaces the bucket
        replacement = create_bucket(cls, name, cloudformation_json, account_id, region_name)
        cls.delete_from_cloudformation_json(original_resource.name, cloudformation_json, account_id, region_name)
        return replacement
    apply_properties(s3_backend(account_id, region_name), original_resource, properties)
    return original_resource


def install(hooks: ServerHooks) -> None:
    from moto.s3.models import FakeBucket

    setattr(FakeBucket, "create_from_cloudformation_json", classmethod(create_bucket))  # noqa: B010 (patching moto)
    setattr(FakeBucket, "update_from_cloudformation_json", classmethod(update_bucket))  # noqa: B010
