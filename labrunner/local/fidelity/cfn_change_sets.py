"""Gap: moto's change sets default to ChangeSetType CREATE (AWS: UPDATE), so a change set for an
existing stack silently makes a second stack of the same name; their changes carry only the
action, logical id and type.

Here a change set without a type updates the existing stack (CREATE on an existing stack is
refused as by AWS), and each change says what `describe_change_set` shows on AWS before
executing: the physical id, Replacement, Scope, and Details naming each changed property
(static changes, or parameter references when only a parameter's value changed).
"""

from __future__ import annotations

from typing import Any

from labrunner.local.cfn import operations
from labrunner.local.cfn.graph import references
from labrunner.local.hooks import ServerHooks

# Properties whose change replaces the resource (AWS resource reference: "Update requires:
# Replacement"); any other property is updated in place.
REPLACING: dict[str, frozenset[str]] = {
    "AWS::S3::Bucket": frozenset({"BucketName"}),
    "AWS::SQS::Queue": frozenset({"QueueName", "FifoQueue"}),
    "AWS::DynamoDB::Table": frozenset({"TableName", "KeySchema", "LocalSecondaryIndexes"}),
    "AWS::IAM::Role": frozenset({"RoleName", "Path"}),
    "AWS::IAM::ManagedPolicy": frozenset({"ManagedPolicyName", "Path"}),
    "AWS::Lambda::Function": frozenset({"FunctionName", "PackageType"}),
    "AWS::Lambda::EventSourceMapping": frozenset({"EventSourceArn", "StartingPosition"}),
    "AWS::Logs::LogGroup": frozenset({"LogGroupName"}),
    "AWS::KMS::Alias": frozenset({"AliasName"}),
}
SCOPES = {
    "Properties": "Properties",
    "Metadata": "Metadata",
    "DeletionPolicy": "DeletionPolicy",
    "UpdateReplacePolicy": "UpdateReplacePolicy",
    "CreationPolicy": "CreationPolicy",
    "UpdatePolicy": "UpdatePolicy",
}


def _detail(name: str, recreation: str, source: str, evaluation: str = "Static") -> dict[str, Any]:
    return {
        "Target": {"Attribute": "Properties", "Name": name, "RequiresRecreation": recreation},
        "Evaluation": evaluation,
        "ChangeSource": source,
    }


def describe_modification(
    resource_type: str, old: dict[str, Any], new: dict[str, Any], changed_parameters: set[str]
) -> tuple[str, list[str], list[dict[str, Any]]]:
    """(Replacement, Scope, Details) of a modified resource, as CloudFormation reports them."""
    replacing = REPLACING.get(resource_type, frozenset())
    old_properties, new_properties = old.get("Properties") or {}, new.get("Properties") or {}
    scope = [label for key, label in SCOPES.items() if old.get(key) != new.get(key)]
    details = []
    for name in sorted(set(old_properties) | set(new_properties)):
        recreation = "Always" if name in replacing else "Never"
        if old_properties.get(name) != new_properties.get(name):
            details.append(_detail(name, recreation, "DirectModification"))
        elif references(new_properties.get(name)) & changed_parameters:
            details.append(_detail(name, recreation, "ParameterReference", evaluation="Dynamic"))
            if "Properties" not in scope:
                scope.append("Properties")
    replacement = "True" if any(d["Target"]["RequiresRecreation"] == "Always" for d in details) else "False"
    return replacement, scope, details


def enrich_changes(change_set: Any) -> None:
    """Give each change of a change set the fields AWS shows (physical id, replacement, details)."""
    from moto.cloudformation.models import Change

    resource_map = change_set.stack.resource_map
    old_resources = resource_map._resource_json_map
    new_resources = change_set.template_dict.get("Resources") or {}
    slots = change_set.template_dict.get("Parameters") or {}
    current = {k: str(v) for k, v in resource_map.resolved_parameters.items()}
    given = change_set.parameters or {}
    changed_parameters = {
        name for name, slot in slots.items() if str(given.get(name, slot.get("Default"))) != current.get(name)
    }
    listed = {change.logical_resource_id for change in change_set.changes}
    for name, definition in new_resources.items():
        if name in old_resources and name not in listed and references(definition) & changed_parameters:
            change_set.changes.append(Change("Modify", name, definition["Type"]))
    for change in change_set.changes:
        resource = resource_map._parsed_resources.get(change.logical_resource_id)
        physical = getattr(resource, "physical_resource_id", None)
        if change.action != "Add" and physical is not None:
            change.physical_resource_id = str(physical)
        if change.action == "Modify":
            change.replacement, change.scope, change.details = describe_modification(
                change.resource_type,
                old_resources.get(change.logical_resource_id) or {},
                new_resources.get(change.logical_resource_id) or {},
                changed_parameters,
            )
        else:
            change.scope, change.details = [], []


def install(hooks: ServerHooks) -> None:
    from moto.cloudformation.exceptions import AlreadyExistsException
    from moto.cloudformation.models import ChangeSet, CloudFormationBackend, Stack
    from moto.cloudformation.responses import CloudFormationResponse

    original_response = CloudFormationResponse.create_change_set

    def create_change_set(self: Any) -> Any:
        self.params.setdefault("ChangeSetType", "UPDATE")  # the API's default
        return original_response(self)

    original_create = CloudFormationBackend.create_change_set

    def refuse_second_stack(self: Any, stack_name: str, change_set_name: str, *args: Any, **kwargs: Any) -> Any:
        operations.validate_references(Stack.parse_template(kwargs["template"]))
        if kwargs.get("change_set_type") == "CREATE" and any(
            s.name == stack_name and s.status != "REVIEW_IN_PROGRESS" for s in self.stacks.values()
        ):
            raise AlreadyExistsException(
                f"Stack [{stack_name}] already exists and cannot be created again with the changeSet "
                f"[{change_set_name}]."
            )
        return original_create(self, stack_name, change_set_name, *args, **kwargs)

    original_init = ChangeSet.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        enrich_changes(self)

    setattr(CloudFormationResponse, "create_change_set", create_change_set)  # noqa: B010 (patching moto)
    setattr(CloudFormationBackend, "create_change_set", refuse_second_stack)  # noqa: B010
    setattr(ChangeSet, "__init__", init)  # noqa: B010
