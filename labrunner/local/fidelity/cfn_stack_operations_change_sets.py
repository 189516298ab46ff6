"""Gaps in moto's change set bookkeeping, as an interrupted `solve` leaves them behind:

- executing a change set leaves the stack's other change sets in place; CloudFormation deletes
  them ("When you execute a change set, CloudFormation deletes all other change sets associated
  with the stack because they aren't valid for the updated stack", ExecuteChangeSet API reference);
- ListChangeSets ignores StackName and lists the change sets of every stack of the region.

Installed after cfn_stack_operations (name order), whose ExecuteChangeSet it extends.
"""

from __future__ import annotations

from typing import Any

from labrunner.local.hooks import ServerHooks


def _find(backend: Any, name_or_arn: str) -> Any | None:
    found = backend.change_sets.get(name_or_arn)
    if found is not None:
        return found
    return next((c for c in list(backend.change_sets.values()) if c.change_set_name == name_or_arn), None)


def install(hooks: ServerHooks) -> None:
    from moto.cloudformation.models import CloudFormationBackend
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult

    execute = CloudFormationBackend.execute_change_set

    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        executed = _find(self, change_set_name)
        execute(self, change_set_name, stack_name)
        if executed is None:
            return
        for change_set_id, other in list(self.change_sets.items()):
            if other is not executed and other.stack_id == executed.stack_id:
                del self.change_sets[change_set_id]

    def list_change_sets(self: Any) -> ActionResult:
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        mine = [c for c in self.cloudformation_backend.list_change_sets() if c.stack_id == stack.stack_id]
        return ActionResult({"Summaries": mine})

    setattr(CloudFormationBackend, "execute_change_set", execute_change_set)  # noqa: B010 (patching moto)
    setattr(CloudFormationResponse, "list_change_sets", list_change_sets)  # noqa: B010
