"""Gap: moto's AWS::DynamoDB::Table ignores SSESpecification (it expects the API's `Enabled`,
templates say `SSEEnabled`) and PointInTimeRecoverySpecification, and has no update at all
(a changed table would be replaced, losing its items).

Here a table from a template gets its encryption (SSE-KMS with the AWS managed key, or the
given key) and point-in-time recovery, and an update changes billing mode, throughput, streams,
deletion protection, encryption, point-in-time recovery and tags in place, as CloudFormation
does; a new TableName or KeySchema replaces the table.
"""

from __future__ import annotations

from typing import Any

from labrunner.local.cfn.models import applied_properties, remember_properties
from labrunner.local.hooks import ServerHooks

REPLACING = ("TableName", "KeySchema", "LocalSecondaryIndexes")


def sse_specification(cfn: dict[str, Any] | None) -> dict[str, Any] | None:
    """The template's SSESpecification in the API's shape (what moto's Table reads)."""
    if not cfn or cfn.get("SSEEnabled") not in (True, "true"):
        return None
    spec: dict[str, Any] = {"Enabled": True, "SSEType": cfn.get("SSEType", "KMS")}
    if cfn.get("KMSMasterKeyId"):
        spec["KMSMasterKeyId"] = cfn["KMSMasterKeyId"]
    return spec


def _backend(account_id: str, region_name: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[account_id][region_name]


def apply_point_in_time_recovery(backend: Any, table: Any, cfn: dict[str, Any] | None) -> None:
    enabled = (cfn or {}).get("PointInTimeRecoveryEnabled") in (True, "true")
    backend.update_continuous_backups(table.name, {"PointInTimeRecoveryEnabled": enabled})


def apply_encryption(table: Any, cfn: dict[str, Any] | None) -> None:
    spec = sse_specification(cfn)
    if spec is not None and "KMSMasterKeyId" not in spec:
        spec["KMSMasterKeyId"] = table._get_default_encryption_key(table.account_id, table.region_name)
    table.sse_specification = spec


def apply_tags(backend: Any, table: Any, tags: list[dict[str, str]] | None) -> None:
    wanted = {t["Key"]: t["Value"] for t in tags or []}
    stale = [t["Key"] for t in table.tags if wanted.get(t["Key"]) != t["Value"]]
    if stale:
        backend.untag_resource(table.table_arn, stale)
    present = {t["Key"] for t in table.tags}
    missing = {k: v for k, v in wanted.items() if k not in present}
    if missing:
        backend.tag_resource(table.table_arn, missing)


def install(hooks: ServerHooks) -> None:
    from moto.dynamodb.models.table import Table

    original_create = Table.create_from_cloudformation_json

    def create_table(
        cls: Any,
        /,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kw: Any,
    ) -> Any:
        properties = dict(cloudformation_json.get("Properties") or {})
        given = dict(properties)
        properties["SSESpecification"] = sse_specification(properties.get("SSESpecification"))
        converted = {**cloudformation_json, "Properties": properties}
        table = original_create(resource_name, converted, account_id, region_name, **kw)
        recovery = given.get("PointInTimeRecoverySpecification")
        if recovery:
            apply_point_in_time_recovery(_backend(account_id, region_name), table, recovery)
        remember_properties(table, given)
        return table

    def update_table(
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
        backend = _backend(account_id, region_name)
        if any(properties.get(key) != previous.get(key) for key in REPLACING):
            name = properties.get("TableName", new_resource_name)
            replacement = create_table(cls, name, cloudformation_json, account_id, region_name)
            backend.delete_table(name=original_resource.name)
            return replacement
        changed = {key for key in set(properties) | set(previous) if properties.get(key) != previous.get(key)}
        table = original_resource
        if changed & {"BillingMode", "ProvisionedThroughput", "StreamSpecification", "DeletionProtectionEnabled"}:
            billing = "PAY_PER_REQUEST" if properties.get("BillingMode") == "PAY_PER_REQUEST" else "PROVISIONED"
            stream = properties.get("StreamSpecification") or {"StreamEnabled": False}
            if "StreamViewType" in stream:
                stream = {"StreamEnabled": True, **stream}
            backend.update_table(
                name=table.name,
                attr_definitions=properties.get("AttributeDefinitions"),
                global_index=None,
                throughput=properties.get("ProvisionedThroughput"),
                billing_mode=billing,
                stream_spec=stream if "StreamSpecification" in changed else None,
                deletion_protection_enabled=bool(properties.get("DeletionProtectionEnabled", False)),
                warm_throughput=None,
            )
        if "SSESpecification" in changed:
            apply_encryption(table, properties.get("SSESpecification"))
        if "PointInTimeRecoverySpecification" in changed:
            apply_point_in_time_recovery(backend, table, properties.get("PointInTimeRecoverySpecification"))
        if "Tags" in changed:
            apply_tags(backend, table, properties.get("Tags"))
        remember_properties(table, properties)
        return table

    setattr(Table, "create_from_cloudformation_json", classmethod(create_table))  # noqa: B010 (patching moto)
    setattr(Table, "update_from_cloudformation_json", classmethod(update_table))  # noqa: B010
