"""Gap: moto's AWS::IAM::Role ignores ManagedPolicyArns, stores inline `Policies` as a Python
dict (IAM evaluation then fails with KeyError 'policy_document') and ignores policy and trust
changes on update_stack; AWS::IAM::Policy stores its document as a dict too.

Here a role from a template gets its managed policies attached for real, its inline policies as
JSON text (as PutRolePolicy stores them), and an update adds, removes and changes inline
policies, attaches and detaches managed policies and replaces the trust policy, description,
session duration, permissions boundary and tags, as CloudFormation does. Deleting the role
detaches and deletes its policies first.
"""

from __future__ import annotations

from typing import Any

from labrunner.local.cfn.models import policy_text
from labrunner.local.fidelity.cloudtrail_event_history import record_service_call
from labrunner.local.hooks import ServerHooks

DEFAULT_SESSION_S = 3600


def _backend(account_id: str, region_name: str) -> Any:
    from moto.iam.models import iam_backends
    from moto.utilities.utils import get_partition

    return iam_backends[account_id][get_partition(region_name)]


def _inline(properties: dict[str, Any]) -> dict[str, str]:
    return {p["PolicyName"]: policy_text(p["PolicyDocument"]) for p in properties.get("Policies") or []}


def _recorded(account: str, name: str, **params: str) -> None:
    """CloudTrail records the IAM calls CloudFormation makes for a stack (lab 3 reads them)."""
    record_service_call(account, name, params, "cloudformation.amazonaws.com")


def sync_policies(backend: Any, role: Any, properties: dict[str, Any], account: str) -> None:
    """Make the role's inline and managed policies exactly those of the template."""
    wanted = _inline(properties)
    for name in list(role.policies):
        if name not in wanted:
            backend.delete_role_policy(role.name, name)
            _recorded(account, "DeleteRolePolicy", RoleName=role.name, PolicyName=name)
    for name, document in wanted.items():
        if role.policies.get(name) != document:
            backend.put_role_policy(role.name, name, document)
            _recorded(account, "PutRolePolicy", RoleName=role.name, PolicyName=name, PolicyDocument=document)
    managed = list(dict.fromkeys(properties.get("ManagedPolicyArns") or []))
    for arn in list(role.managed_policies):
        if arn not in managed:
            backend.detach_role_policy(arn, role.name)
            _recorded(account, "DetachRolePolicy", RoleName=role.name, PolicyArn=arn)
    for arn in managed:
        if arn not in role.managed_policies:
            backend.attach_role_policy(arn, role.name)
            _recorded(account, "AttachRolePolicy", RoleName=role.name, PolicyArn=arn)


def sync_settings(backend: Any, role: Any, properties: dict[str, Any], account: str) -> None:
    """Trust policy, description, session duration, boundary and tags, as in the template."""
    trust = policy_text(properties["AssumeRolePolicyDocument"])
    if trust != role.assume_role_policy_document:
        backend.update_assume_role_policy(role.name, trust)
        _recorded(account, "UpdateAssumeRolePolicy", RoleName=role.name, PolicyDocument=trust)
    backend.update_role(
        role.name, properties.get("Description", ""), properties.get("MaxSessionDuration", DEFAULT_SESSION_S)
    )
    boundary = properties.get("PermissionsBoundary")
    if boundary:
        if boundary != role.permissions_boundary_arn:
            backend.put_role_permissions_boundary(role.name, boundary)
            _recorded(account, "PutRolePermissionsBoundary", RoleName=role.name, PermissionsBoundary=boundary)
    elif role.permissions_boundary_arn:
        backend.delete_role_permissions_boundary(role.name)
        _recorded(account, "DeleteRolePermissionsBoundary", RoleName=role.name)
    tags = properties.get("Tags") or []
    keys = {t["Key"] for t in tags}
    stale = [t["Key"] for t in role.tags if t["Key"] not in keys]
    if stale:
        backend.untag_role(role.name, stale)
    if tags:
        backend.tag_role(role.name, tags)


def create_role(
    cls: Any,
    /,
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Any:
    properties = cloudformation_json["Properties"]
    backend = _backend(account_id, region_name)
    role = backend.create_role(
        role_name=properties.get("RoleName", resource_name),
        assume_role_policy_document=policy_text(properties["AssumeRolePolicyDocument"]),
        path=properties.get("Path", "/"),
        permissions_boundary=properties.get("PermissionsBoundary", ""),
        description=properties.get("Description", ""),
        tags=properties.get("Tags") or [],
        max_session_duration=properties.get("MaxSessionDuration", DEFAULT_SESSION_S),
    )
    try:
        sync_policies(backend, role, properties, account_id)
    except Exception:
        delete_role(cls, role.name, cloudformation_json, account_id, region_name)
        raise
    return role


def update_role(
    cls: Any,
    *,
    original_resource: Any,
    new_resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
) -> Any:
    properties = cloudformation_json["Properties"]
    name = properties.get("RoleName", original_resource.name)
    if name != original_resource.name or properties.get("Path", "/") != original_resource.path:
        # RoleName and Path require replacement: a new role, then the old one goes.
        replacement = create_role(cls, new_resource_name, cloudformation_json, account_id, region_name)
        delete_role(cls, original_resource.name, cloudformation_json, account_id, region_name)
        return replacement
    backend = _backend(account_id, region_name)
    sync_settings(backend, original_resource, properties, account_id)
    sync_policies(backend, original_resource, properties, account_id)
    return original_resource


def delete_role(
    cls: Any, /, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
) -> None:
    backend = _backend(account_id, region_name)
    role = next((r for r in backend.roles.values() if r.name == resource_name), None)
    if role is None:
        return
    for profile in backend.instance_profiles.values():
        profile.delete_role(role_name=resource_name)
    for arn in list(role.managed_policies):
        backend.detach_role_policy(arn, resource_name)
    for name in list(role.policies):
        backend.delete_role_policy(resource_name, name)
    for policy in backend.inline_policies.values():
        policy.role_names = [n for n in (policy.role_names or []) if n != resource_name]
    backend.delete_role(resource_name)


def install(hooks: ServerHooks) -> None:
    from moto.iam.models import InlinePolicy, Role

    setattr(Role, "create_from_cloudformation_json", classmethod(create_role))  # noqa: B010 (patching moto)
    setattr(Role, "update_from_cloudformation_json", classmethod(update_role))  # noqa: B010
    setattr(Role, "delete_from_cloudformation_json", classmethod(delete_role))  # noqa: B010

    original_policy_create = InlinePolicy.create_from_cloudformation_json
    original_policy_update = InlinePolicy.update_from_cloudformation_json

    def as_text(cloudformation_json: dict[str, Any]) -> dict[str, Any]:
        properties = dict(cloudformation_json.get("Properties", {}))
        if "PolicyDocument" in properties:
            properties["PolicyDocument"] = policy_text(properties["PolicyDocument"])
        return {**cloudformation_json, "Properties": properties}

    def create_policy(
        cls: Any, /, resource_name: str, cloudformation_json: dict[str, Any], *args: Any, **kw: Any
    ) -> Any:
        return original_policy_create(resource_name, as_text(cloudformation_json), *args, **kw)

    def update_policy(
        cls: Any,
        *,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        return original_policy_update(
            original_resource, new_resource_name, as_text(cloudformation_json), account_id, region_name
        )

    setattr(InlinePolicy, "create_from_cloudformation_json", classmethod(create_policy))  # noqa: B010
    setattr(InlinePolicy, "update_from_cloudformation_json", classmethod(update_policy))  # noqa: B010
