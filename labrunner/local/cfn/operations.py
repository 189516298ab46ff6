"""Stack operations with per-resource status, dependency order and rollback, as CloudFormation does.

moto creates a stack's resources lazily and updates and deletes them without tracking which
failed. These functions wrap moto's per-resource steps so that each resource has a status and
events, a failed create rolls back, a failed update rolls back what it changed, and a delete
that cannot remove a resource leaves the stack DELETE_FAILED with the resource's reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from labrunner.local.cfn.errors import ResourceFailed, already_gone, reason_of
from labrunner.local.cfn.graph import dependencies, dependents, references, unresolved
from labrunner.local.cfn.state import forget, physical_id_of, record

CreateFn = Callable[..., Any]
OPERATION_FLAG = "_labrunner_in_operation"


def stack_of(resource_map: Any) -> Any:
    """The moto Stack a ResourceMap belongs to (None for hidden StackSet instances)."""
    from moto.cloudformation.models import cloudformation_backends

    backend = cloudformation_backends[resource_map._account_id][resource_map._region_name]
    return backend.stacks.get(resource_map.stack_id)


@contextmanager
def operation(resource_map: Any) -> Iterator[None]:
    """Resources are created only inside a stack operation, never as a side effect of a read.

    moto creates resources lazily on first reference, so describing the outputs of a stack that
    rolled back would otherwise create its resources again.
    """
    outer = getattr(resource_map, OPERATION_FLAG, False)
    setattr(resource_map, OPERATION_FLAG, True)
    try:
        yield
    finally:
        setattr(resource_map, OPERATION_FLAG, outer)


def is_validation_error(exc: BaseException) -> bool:
    """Template errors are API errors of the call (AWS validates before it creates anything)."""
    from moto.cloudformation.exceptions import CloudFormationError

    return isinstance(exc, CloudFormationError)


def validate_references(template: dict[str, Any]) -> None:
    """AWS refuses a template whose Ref / Fn::GetAtt / Fn::Sub name nothing, before any change."""
    from moto.cloudformation.exceptions import ValidationError

    missing = unresolved(template)
    if missing:
        raise ValidationError(
            message=f"Template format error: Unresolved resource dependencies [{', '.join(missing)}] in the "
            "Resources block of the template"
        )


def create_resource(
    original: CreateFn,
    logical_id: str,
    resource_json: dict[str, Any],
    resources_map: Any,
    *,
    account_id: str,
    region_name: str,
) -> Any:
    """moto's parse_and_create_resource, with the resource's CREATE_* status and events."""
    from moto.cloudformation.parsing import NULL_MODELS, resource_class_from_type

    condition = resource_json.get("Condition")
    if condition and not resources_map.lazy_condition_map[condition]:
        return None
    if not getattr(resources_map, OPERATION_FLAG, False):
        return None
    stack = stack_of(resources_map)
    resource_type = str(resource_json["Type"])
    if stack is None:
        return original(logical_id, resource_json, resources_map, account_id, region_name)
    if resource_type not in NULL_MODELS and resource_class_from_type(resource_type) is None:
        reason = f"Resource type {resource_type} is not supported by the local AWS"
        record(stack, logical_id, resource_type, "CREATE_FAILED", reason=reason)
        raise ResourceFailed(logical_id, reason)
    record(stack, logical_id, resource_type, "CREATE_IN_PROGRESS")
    try:
        resource = original(logical_id, resource_json, resources_map, account_id, region_name)
    except ResourceFailed:
        forget(stack, logical_id)  # a resource it refers to failed; this one never started
        raise
    except Exception as exc:
        if is_validation_error(exc):
            forget(stack, logical_id)
            raise
        reason = reason_of(exc)
        record(stack, logical_id, resource_type, "CREATE_FAILED", reason=reason)
        raise ResourceFailed(logical_id, reason) from exc
    record(stack, logical_id, resource_type, "CREATE_COMPLETE", physical_id=physical_id_of(resource))
    return resource


def _update_one(
    resource_map: Any, logical_id: str, resource_json: dict[str, Any], old_json: dict[str, Any] | None
) -> Any:
    """Update one resource in place, or replace it when its model cannot be updated."""
    from moto.cloudformation.parsing import parse_and_update_resource, resource_class_from_type

    stack = stack_of(resource_map)
    resource_type = str(resource_json["Type"])
    model = resource_class_from_type(resource_type)
    old = resource_map._parsed_resources.get(logical_id)
    if stack is not None:
        record(stack, logical_id, resource_type, "UPDATE_IN_PROGRESS")
    try:
        if model is not None and not hasattr(model.update_from_cloudformation_json, "__isabstractmethod__"):
            updated = parse_and_update_resource(
                logical_id, resource_json, resource_map, resource_map._account_id, resource_map._region_name
            )
        else:  # no in-place update in moto: CloudFormation's replacement (create new, delete old)
            resource_map._parsed_resources.pop(logical_id, None)
            updated = resource_map[logical_id]
            if old is not None and old_json is not None:
                resource_map._delete_resource(old, old_json)
    except ResourceFailed:
        raise
    except Exception as exc:
        if is_validation_error(exc):
            raise
        reason = reason_of(exc)
        if stack is not None:
            record(stack, logical_id, resource_type, "UPDATE_FAILED", reason=reason)
        raise ResourceFailed(logical_id, reason) from exc
    if updated is None:
        updated = old
    if stack is not None:
        record(stack, logical_id, resource_type, "UPDATE_COMPLETE", physical_id=physical_id_of(updated))
    return updated


def delete_resource(resource_map: Any, logical_id: str, resource_json: dict[str, Any]) -> None:
    """Delete one resource of the stack with its DELETE_* status; raises ResourceFailed."""
    stack = stack_of(resource_map)
    resource_type = str(resource_json.get("Type", ""))
    resource = resource_map._parsed_resources.get(logical_id)
    if resource_json.get("DeletionPolicy") == "Retain":
        resource_map._parsed_resources.pop(logical_id, None)
        if stack is not None:
            record(stack, logical_id, resource_type, "DELETE_SKIPPED")
        return
    if stack is not None:
        record(stack, logical_id, resource_type, "DELETE_IN_PROGRESS")
    try:
        if resource is not None and not isinstance(resource, str):
            resource_map._delete_resource(resource, resource_json)
    except Exception as exc:
        if not already_gone(exc):  # one deleted outside CloudFormation counts as deleted, as on AWS
            reason = reason_of(exc)
            if stack is not None:
                record(stack, logical_id, resource_type, "DELETE_FAILED", reason=reason)
            raise ResourceFailed(logical_id, reason) from exc
    resource_map._parsed_resources.pop(logical_id, None)
    if stack is not None:
        record(stack, logical_id, resource_type, "DELETE_COMPLETE")


def existing(resource_map: Any) -> list[str]:
    """Logical ids (template order) of the resources the stack currently holds."""
    return [name for name in resource_map._resource_json_map if resource_map._parsed_resources.get(name) is not None]


def delete_in_order(resource_map: Any, names: Iterable[str], templates: dict[str, Any]) -> list[str]:
    """Delete dependents before what they depend on; a failure keeps what it depends on.

    Returns the logical ids that failed to delete.
    """
    pending = [n for n in names if n in templates]
    reverse = dependents(templates)
    failed: list[str] = []
    kept: set[str] = set()
    while pending:
        ready = [n for n in pending if not reverse.get(n, set()) & set(pending)]
        for name in ready or list(pending):  # a cycle cannot occur in a valid template
            pending.remove(name)
            if reverse.get(name, set()) & (set(failed) | kept):
                kept.add(name)  # CloudFormation does not delete what a failed resource needs
                continue
            try:
                delete_resource(resource_map, name, templates[name])
            except ResourceFailed:
                failed.append(name)
    return failed


def creation_order(templates: dict[str, Any]) -> list[str]:
    """Template order, dependencies first."""
    graph = dependencies(templates)
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in ordered or name in visiting:
            return
        visiting.add(name)
        for needed in sorted(graph.get(name, set()), key=list(templates).index):
            visit(needed)
        visiting.discard(name)
        ordered.append(name)

    for name in templates:
        visit(name)
    return ordered


def _conditions(resource_map: Any) -> dict[str, Any]:
    """The template's conditions evaluated with the current parameters (keyed like references)."""
    lazy = getattr(resource_map, "lazy_condition_map", None) or {}
    return {name: bool(lazy[name]) for name in list(lazy)}


def _switch_template(resource_map: Any, template: dict[str, Any], parameters: dict[str, Any] | None) -> None:
    resource_map._template = template
    if parameters is not None:
        resource_map.input_parameters = parameters
    resource_map.resolved_parameters = {}
    resource_map.load_mapping()
    resource_map.load_parameters()
    resource_map.load_conditions()
    resource_map._resource_json_map = template.get("Resources", {})


def update_resources(resource_map: Any, template: dict[str, Any], parameters: dict[str, Any] | None = None) -> None:
    """ResourceMap.update: add and modify in dependency order, then remove what the template dropped.

    On a failure, ResourceFailed carries `undo`, which puts back what this update changed.
    """
    old_template = resource_map._template
    old_parameters = dict(resource_map.input_parameters)
    old_resources = dict(resource_map._resource_json_map)
    old_values = {**resource_map.resolved_parameters, **_conditions(resource_map)}
    diff = resource_map.build_resource_diff(template)
    to_add, to_modify, to_remove = set(diff["Add"]), set(diff["Modify"]), list(diff["Remove"])
    added: list[str] = []
    modified: list[str] = []
    try:
        _switch_template(resource_map, template, parameters)
        new_resources = resource_map._resource_json_map
        new_values = {**resource_map.resolved_parameters, **_conditions(resource_map)}
        changed = {k for k, v in new_values.items() if old_values.get(k) != v}
        for name, definition in new_resources.items():
            exists = resource_map._parsed_resources.get(name) is not None
            wanted = not definition.get("Condition") or bool(new_values.get(definition["Condition"]))
            if exists and not wanted:
                to_remove.append(name)  # its Condition turned false
                to_modify.discard(name)
            elif wanted and not exists and name not in to_add:
                to_add.add(name)  # its Condition turned true
                to_modify.discard(name)
            elif exists and name not in to_add and references(definition) & changed:
                to_modify.add(name)  # a parameter or condition it uses changed value
        reverse = dependents(new_resources)
        for name in creation_order(new_resources):
            if name in to_add:
                if resource_map[name] is not None:
                    added.append(name)
            elif name in to_modify:
                before = physical_id_of(resource_map._parsed_resources.get(name))
                resource_map._parsed_resources[name] = _update_one(
                    resource_map, name, new_resources[name], old_resources.get(name)
                )
                modified.append(name)
                if physical_id_of(resource_map._parsed_resources[name]) != before:
                    to_modify |= reverse.get(name, set()) - to_add  # dependents see the new id
    except ResourceFailed as failure:
        if failure.logical_id in to_modify and failure.logical_id not in modified:
            modified.append(failure.logical_id)  # CloudFormation rolls the failed resource back too
        failure.undo = lambda: _undo(resource_map, old_template, old_parameters, added, modified)
        raise
    except Exception:  # a template error: AWS refuses the call, so nothing may stay changed
        _undo(resource_map, old_template, old_parameters, added, modified)
        raise
    removed = [name for name in to_remove if resource_map._parsed_resources.get(name) is not None]
    failed = delete_in_order(resource_map, removed, {**new_resources, **old_resources})
    for name in failed:  # CloudFormation leaves a resource it could not clean up and goes on
        resource_map._parsed_resources.pop(name, None)


def _undo(
    resource_map: Any, template: dict[str, Any], parameters: dict[str, Any], added: list[str], modified: list[str]
) -> None:
    """Roll an update back: modified resources get their old properties, added ones go."""
    current = dict(resource_map._resource_json_map)
    _switch_template(resource_map, template, parameters)
    for name in reversed(modified):
        resource_map._parsed_resources[name] = _update_one(
            resource_map, name, resource_map._resource_json_map[name], current.get(name)
        )
    delete_in_order(resource_map, list(reversed(added)), current)
