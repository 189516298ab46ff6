"""Which resources of a template depend on which (DependsOn, Ref, Fn::GetAtt, Fn::Sub)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_SUB_VARIABLE = re.compile(r"\$\{(?!!)([^}.]+)(?:\.[^}]*)?\}")


def _references(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) and value else str(value).split(".")[0]
                found.add(str(target))
            elif key == "Fn::If" and isinstance(value, list) and value:
                found.add(str(value[0]))  # a condition name: its value may depend on parameters
                _references(value[1:], found)
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                local = value[1] if isinstance(value, list) and len(value) > 1 else {}
                if isinstance(text, str):  # ${Name} of the variable map is not a reference
                    found.update(v for v in _SUB_VARIABLE.findall(text) if v not in local)
                _references(local, found)
            else:
                _references(value, found)
    elif isinstance(node, list):
        for item in node:
            _references(item, found)


def references(node: Any) -> set[str]:
    """Every name a template fragment refers to (resources, parameters, conditions, pseudo parameters)."""
    found: set[str] = set()
    _references(node, found)
    return found


def dependencies(resources: Mapping[str, Any]) -> dict[str, set[str]]:
    """For each logical id, the logical ids of the resources it needs to exist first."""
    graph: dict[str, set[str]] = {}
    for logical_id, definition in resources.items():
        found: set[str] = set()
        depends_on = definition.get("DependsOn", [])
        found.update([depends_on] if isinstance(depends_on, str) else depends_on)
        _references(definition.get("Properties", {}), found)
        graph[logical_id] = {name for name in found if name in resources and name != logical_id}
    return graph


def dependents(resources: Mapping[str, Any]) -> dict[str, set[str]]:
    """For each logical id, the resources that depend on it (deleted before it)."""
    reverse: dict[str, set[str]] = {name: set() for name in resources}
    for name, needs in dependencies(resources).items():
        for needed in needs:
            reverse[needed].add(name)
    return reverse


def unresolved(template: Mapping[str, Any]) -> list[str]:
    """Names the Resources and Outputs refer to that the template does not define."""
    resources = template.get("Resources") or {}
    known = set(resources) | set(template.get("Parameters") or {}) | set(template.get("Conditions") or {})
    found = references(resources) | references(template.get("Outputs") or {})
    return sorted(name for name in found if name not in known and not name.startswith("AWS::"))
