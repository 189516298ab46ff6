"""Gap: moto's stacks have no per-resource status, no rollback, and no failed deletes.

With this module a stack's create, update (also through a change set) and delete go resource by
resource, each with its own status and events, in dependency order:
- a resource that fails to create rolls the stack back (ROLLBACK_COMPLETE), one that fails to
  update rolls the update back (UPDATE_ROLLBACK_COMPLETE);
- a resource that fails to delete leaves the stack DELETE_FAILED, keeping that resource and
  what it depends on; deleting again retries only what is left;
- describe_stack_resource(s) / list_stack_resources list every resource of the stack with its
  logical id, physical id, type, status and status reason;
- update_stack without any change answers ValidationError "No updates are to be performed.".
"""

from __future__ import annotations

from typing import Any

from labrunner.local.cfn import drift, operations
from labrunner.local.cfn.errors import ResourceFailed
from labrunner.local.cfn.state import ResourceState, physical_id_of, record, stack_event, states
from labrunner.local.hooks import ServerHooks

# A stack in these states has no resources to report outputs of (AWS shows none).
WITHOUT_OUTPUTS = frozenset(
    {
        "CREATE_IN_PROGRESS",
        "CREATE_FAILED",
        "ROLLBACK_IN_PROGRESS",
        "ROLLBACK_FAILED",
        "ROLLBACK_COMPLETE",
        "DELETE_COMPLETE",
        "REVIEW_IN_PROGRESS",
    }
)


def _failed_list(names: list[str]) -> str:
    return "[" + ", ".join(names) + "]"


def roll_back_creation(stack: Any, failure: ResourceFailed) -> None:
    """After a failed create: delete what was created (ROLLBACK_COMPLETE)."""
    resource_map = stack.resource_map
    reason = (
        f"The following resource(s) failed to create: {_failed_list([failure.logical_id])}. Rollback requested by user."
    )
    stack_event(stack, "ROLLBACK_IN_PROGRESS", reason)
    for name, state in list(states(stack).items()):
        if state.status == "CREATE_FAILED":
            record(stack, name, state.resource_type, "DELETE_COMPLETE")
    failed = operations.delete_in_order(
        resource_map, operations.existing(resource_map), resource_map._resource_json_map
    )
    if failed:
        stack_event(stack, "ROLLBACK_FAILED", f"The following resource(s) failed to delete: {_failed_list(failed)}. ")
    else:
        stack_event(stack, "ROLLBACK_COMPLETE")
        stack.status_reason = reason  # what describe_stacks keeps showing after the rollback


def create_resources(stack: Any) -> None:
    """Stack.create_resources: create all, or roll back; template errors fail the API call."""
    stack.status = "CREATE_IN_PROGRESS"
    try:
        with operations.operation(stack.resource_map):
            ready = stack.resource_map.create(stack.template_dict)
    except ResourceFailed as failure:
        roll_back_creation(stack, failure)
        return
    except Exception:
        # A template error that AWS reports before creating anything: undo, and no stack remains.
        resource_map = stack.resource_map
        operations.delete_in_order(resource_map, operations.existing(resource_map), resource_map._resource_json_map)
        _forget_stack(stack)
        raise
    stack.description = stack.template_dict.get("Description")
    if ready:
        stack.mark_creation_complete()


def _forget_stack(stack: Any) -> None:
    from moto.cloudformation.models import cloudformation_backends

    backend = cloudformation_backends[stack.account_id][stack.region_name]
    backend.stacks.pop(stack.stack_id, None)


def update_stack_resources(
    stack: Any,
    template: str,
    role_arn: str | None = None,
    parameters: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
) -> None:
    """Stack.update: apply the new template; on a failed resource, roll back to the old one."""
    old_template, old_status, old_events = stack.template, stack.status, len(stack.events)
    old_reason = getattr(stack, "status_reason", None)
    old_states = dict(states(stack))
    stack_event(stack, "UPDATE_IN_PROGRESS", "User Initiated")
    stack.template = template
    stack._parse_template()
    try:
        with operations.operation(stack.resource_map):
            stack.resource_map.update(stack.template_dict, parameters or {})
    except ResourceFailed as failure:
        reason = f"The following resource(s) failed to update: {_failed_list([failure.logical_id])}. "
        stack_event(stack, "UPDATE_ROLLBACK_IN_PROGRESS", reason)
        stack.template = old_template
        stack._parse_template()
        try:
            if failure.undo is not None:
                with operations.operation(stack.resource_map):
                    failure.undo()
        except ResourceFailed as undo_failure:
            stack_event(stack, "UPDATE_ROLLBACK_FAILED", undo_failure.reason)
            return
        stack.output_map = stack._create_output_map()
        stack_event(stack, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
        stack_event(stack, "UPDATE_ROLLBACK_COMPLETE")
        stack.status_reason = reason
        return
    except Exception:  # a template error: the call fails and the update never happened
        stack.template = old_template
        stack._parse_template()
        stack.status, stack.status_reason = old_status, old_reason
        del stack.events[old_events:]
        states(stack).clear()
        states(stack).update(old_states)
        raise
    stack.output_map = stack._create_output_map()
    stack.description = stack.template_dict.get("Description")
    stack_event(stack, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    stack_event(stack, "UPDATE_COMPLETE")
    stack.role_arn = role_arn
    if parameters:
        stack.parameters = parameters
    if tags is not None:
        stack.tags = tags


def _effective_parameters(template: dict[str, Any], given: dict[str, Any]) -> dict[str, str]:
    """The value each template parameter gets: the one given, else its default."""
    values = {}
    for name, slot in (template.get("Parameters") or {}).items():
        value = given.get(name, slot.get("Default"))
        if value is not None:
            values[name] = value if isinstance(value, str) else str(value)
    return values


def update_parameters(stack: Any, incoming: list[dict[str, Any]]) -> dict[str, Any]:
    """UpdateStack's Parameters: given values, and UsePreviousValue = the stack's current value
    (moto only knows values given at creation, not defaults)."""
    from moto.cloudformation.exceptions import ValidationError

    current = _effective_parameters(stack.template_dict, stack.resource_map.input_parameters)
    given: dict[str, Any] = {}
    for parameter in incoming:
        key = parameter["ParameterKey"]
        if parameter.get("UsePreviousValue"):
            if key not in current:
                raise ValidationError(
                    message=f"Invalid input for parameter key {key}. Cannot specify usePreviousValue as "
                    "true for a parameter key not in the previous template"
                )
            given[key] = current[key]
        elif "ParameterValue" in parameter:
            given[key] = parameter["ParameterValue"]
    return given


def delete_stack(backend: Any, name_or_stack_id: str) -> None:
    """CloudFormationBackend.delete_stack with DELETE_FAILED when a resource cannot go."""
    stack = backend.stacks.get(name_or_stack_id)
    if stack is None:
        stack = next((s for s in backend.stacks.values() if s.name == name_or_stack_id), None)
    if stack is None:
        return  # deleting a stack that does not exist succeeds, as in AWS
    stack_event(stack, "DELETE_IN_PROGRESS", "User Initiated")
    resource_map = stack.resource_map
    failed = operations.delete_in_order(
        resource_map, operations.existing(resource_map), resource_map._resource_json_map
    )
    if failed:
        stack_event(stack, "DELETE_FAILED", f"The following resource(s) failed to delete: {_failed_list(failed)}. ")
        return
    for export in stack.exports:
        backend.exports.pop(export.name, None)
    backend.stacks.pop(stack.stack_id, None)
    backend.deleted_stacks[stack.stack_id] = stack
    stack_event(stack, "DELETE_COMPLETE")


def resource_rows(stack: Any) -> list[tuple[ResourceState, Any]]:
    """The stack's current resources in template order, with their moto objects."""
    table = states(stack)
    rows = []
    resource_map = stack.resource_map
    for name in resource_map._resource_json_map:
        resource = resource_map._parsed_resources.get(name)
        state = table.get(name)
        if state is None:
            if resource is None:
                continue
            # Created before this module tracked it (e.g. a StackSet instance): it exists.
            resource_type = str(resource_map._resource_json_map[name]["Type"])
            state = ResourceState(name, resource_type, "CREATE_COMPLETE", None, None, stack.creation_time)
        if state.status in ("DELETE_COMPLETE", "DELETE_SKIPPED"):
            continue
        rows.append((state, resource))
    return rows


def _row(stack: Any, state: ResourceState, resource: Any, *, detail: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        "StackName": stack.name,
        "StackId": stack.stack_id,
        "LogicalResourceId": state.logical_id,
        "PhysicalResourceId": physical_id_of(resource) or state.physical_id,
        "ResourceType": state.resource_type,
        "ResourceStatus": state.status,
        "DriftInformation": drift.resource_drift_information(stack, state.logical_id),
    }
    if state.reason:
        row["ResourceStatusReason"] = state.reason
    row["LastUpdatedTimestamp" if detail else "Timestamp"] = state.timestamp
    return row


def install(hooks: ServerHooks) -> None:
    from moto.cloudformation import parsing
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import CloudFormationBackend, Stack
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult

    original_create = parsing.parse_and_create_resource

    def parse_and_create_resource(
        logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
    ) -> Any:
        return operations.create_resource(
            original_create, logical_id, resource_json, resources_map, account_id=account_id, region_name=region_name
        )

    setattr(parsing, "parse_and_create_resource", parse_and_create_resource)  # noqa: B010 (patching moto)
    setattr(parsing.ResourceMap, "update", operations.update_resources)  # noqa: B010
    setattr(Stack, "create_resources", create_resources)  # noqa: B010
    setattr(Stack, "update", update_stack_resources)  # noqa: B010
    setattr(CloudFormationBackend, "delete_stack", delete_stack)  # noqa: B010
    original_outputs = vars(Stack)["outputs"].fget  # the property object, not its value

    def outputs(self: Any) -> Any:
        return None if self.status in WITHOUT_OUTPUTS else original_outputs(self)

    setattr(Stack, "outputs", property(outputs))  # noqa: B010

    def update_stack(
        self: Any,
        *,
        name: str,
        template: str,
        role_arn: str | None,
        parameters: list[dict[str, Any]],
        tags: dict[str, str] | None,
    ) -> Any:
        stack = self.get_stack(name)
        new_template = Stack.parse_template(template)
        operations.validate_references(new_template)
        given = update_parameters(stack, parameters)
        unchanged = (
            new_template == stack.template_dict
            and _effective_parameters(new_template, given)
            == _effective_parameters(stack.template_dict, stack.resource_map.input_parameters)
            and (tags is None or tags == stack.tags)
        )
        if unchanged:
            raise ValidationError(stack.name, message="No updates are to be performed.")
        stack.update(template, role_arn, parameters=given, tags=tags)
        return stack

    setattr(CloudFormationBackend, "update_stack", update_stack)  # noqa: B010
    original_create_stack = CloudFormationBackend.create_stack

    def create_stack(self: Any, name: str, template: str, *args: Any, **kwargs: Any) -> Any:
        operations.validate_references(Stack.parse_template(template))
        return original_create_stack(self, name, template, *args, **kwargs)

    setattr(CloudFormationBackend, "create_stack", create_stack)  # noqa: B010

    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        change_set = self.change_sets.get(change_set_name) or next(
            (c for c in self.change_sets.values() if c.change_set_name == change_set_name), None
        )
        if change_set is None:
            raise ValidationError(stack_name)
        if change_set.execution_status != "AVAILABLE":
            raise ValidationError(
                message=f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current "
                f"status of [{change_set.status}]"
            )
        stack = self.stacks[change_set.stack_id]
        change_set.execution_status = "EXECUTE_IN_PROGRESS"
        if change_set.change_set_type == "CREATE":
            stack.template = change_set.template
            stack._parse_template()
            stack_event(stack, "CREATE_IN_PROGRESS", "User Initiated")
            try:
                with operations.operation(stack.resource_map):
                    stack.resource_map.update(stack.template_dict, change_set.parameters)
            except ResourceFailed as failure:
                roll_back_creation(stack, failure)
            else:
                stack.output_map = stack._create_output_map()
                stack.description = stack.template_dict.get("Description")
                stack.mark_creation_complete()
        else:
            update_stack_resources(
                stack, change_set.template, change_set.role_arn, change_set.parameters, change_set.tags
            )
        change_set.execution_status = "EXECUTE_COMPLETE"

    setattr(CloudFormationBackend, "execute_change_set", execute_change_set)  # noqa: B010

    def describe_stack_resources(self: Any) -> ActionResult:
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        wanted = self._get_param("LogicalResourceId")
        rows = [
            _row(stack, state, resource, detail=False)
            for state, resource in resource_rows(stack)
            if wanted is None or state.logical_id == wanted
        ]
        return ActionResult({"StackResources": rows})

    def describe_stack_resource(self: Any) -> ActionResult:
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        wanted = self._get_param("LogicalResourceId")
        for state, resource in resource_rows(stack):
            if state.logical_id == wanted:
                return ActionResult({"StackResourceDetail": _row(stack, state, resource, detail=True)})
        raise ValidationError(stack.name, f"Resource {wanted} does not exist for stack {stack.name}")

    def list_stack_resources(self: Any) -> ActionResult:
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        summaries = []
        for state, resource in resource_rows(stack):
            row = _row(stack, state, resource, detail=True)
            for key in ("StackName", "StackId"):
                row.pop(key)
            summaries.append(row)
        return ActionResult({"StackResourceSummaries": summaries})

    setattr(CloudFormationResponse, "describe_stack_resources", describe_stack_resources)  # noqa: B010
    setattr(CloudFormationResponse, "describe_stack_resource", describe_stack_resource)  # noqa: B010
    setattr(CloudFormationResponse, "list_stack_resources", list_stack_resources)  # noqa: B010
