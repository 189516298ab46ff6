"""Drift of one stack resource: its template properties (resolved) against its live configuration.

What CloudFormation does (API Reference: StackResourceDrift, PropertyDifference; User Guide,
"Detect unmanaged configuration changes to stacks and resources with drift detection"): only the
properties explicitly defined in the template are checked; a resource is IN_SYNC, MODIFIED (a
property differs), DELETED (the resource is gone) or NOT_CHECKED (its type is not checked); each
difference has a PropertyPath (`/VisibilityTimeout`, `/ManagedPolicyArns/0`), the ExpectedValue and
ActualValue as text, and a DifferenceType: ADD (a value added to a list), REMOVE (a value removed)
or NOT_EQUAL. Policy documents are compared as JSON (parsed, a one-item list equal to its item),
managed policy ARNs and tags as sets.

Readers (drift_readers.py) turn a live moto resource into template-shaped properties. A top-level
property a reader does not read counts as in sync; nested keys the template does not set (defaults such as
BucketKeyEnabled) are not checked, except inside policy documents, where an added key is drift.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from labrunner.local.cfn.drift_readers import READ_KEYS, READERS, Gone


@dataclass(frozen=True)
class Difference:
    path: str
    expected: str
    actual: str
    kind: str  # ADD | REMOVE | NOT_EQUAL

    def as_dict(self) -> dict[str, str]:
        return {
            "PropertyPath": self.path,
            "ExpectedValue": self.expected,
            "ActualValue": self.actual,
            "DifferenceType": self.kind,
        }


@dataclass(frozen=True)
class ResourceDrift:
    status: str  # IN_SYNC | MODIFIED | DELETED | NOT_CHECKED
    expected: dict[str, Any] | None
    actual: dict[str, Any] | None
    differences: tuple[Difference, ...]


def _text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def _same_scalar(expected: Any, actual: Any) -> bool:
    """Template scalars are text or numbers, live ones often text: `true`/True and 30/"30" are equal."""
    return _text(expected).lower() == _text(actual).lower() if _is_bool(expected) else _text(expected) == _text(actual)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool) or (isinstance(value, str) and value.lower() in ("true", "false"))


def policy(document: Any) -> Any:
    """A policy document in canonical form: parsed, lists of names sorted, a one-item list as its item."""
    if isinstance(document, str):
        text = urllib.parse.unquote(document) if document.lstrip().startswith("%7B") else document
        try:
            document = json.loads(text)
        except ValueError:
            return document
    return _canonical_policy(document)


def _canonical_policy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _canonical_policy(item) for key, item in value.items()}
    if isinstance(value, list):
        items = [_canonical_policy(item) for item in value]
        if all(not isinstance(item, (dict, list)) for item in items):
            items = sorted(items, key=_text)
            return items[0] if len(items) == 1 else items
        return items
    return value


def differences(expected: Any, actual: Any, path: str = "", *, in_policy: bool = False) -> Iterator[Difference]:
    """Every difference between an expected (template) value and the actual (live) one."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in expected:
            sub = f"{path}/{key}"
            if key not in actual:
                yield Difference(sub, _text(expected[key]), "null", "REMOVE")
            else:
                inner = in_policy or key in POLICY_KEYS
                yield from differences(expected[key], actual[key], sub, in_policy=inner)
        if in_policy:  # a statement that gained a Condition has drifted; elsewhere it is a default
            for key in actual:
                if key not in expected:
                    yield Difference(f"{path}/{key}", "null", _text(actual[key]), "ADD")
        return
    if isinstance(expected, list) and isinstance(actual, list):
        if path in AS_SETS:
            have = [_text(v) for v in actual]
            wanted = [_text(v) for v in expected]
            for index, value in enumerate(expected):
                if _text(value) not in have:
                    yield Difference(f"{path}/{index}", _text(value), "null", "REMOVE")
            for index, value in enumerate(actual):
                if _text(value) not in wanted:
                    yield Difference(f"{path}/{index}", "null", _text(value), "ADD")
            return
        for index in range(max(len(expected), len(actual))):
            sub = f"{path}/{index}"
            if index >= len(actual):
                yield Difference(sub, _text(expected[index]), "null", "REMOVE")
            elif index >= len(expected):
                yield Difference(sub, "null", _text(actual[index]), "ADD")
            else:
                yield from differences(expected[index], actual[index], sub, in_policy=in_policy)
        return
    if isinstance(expected, (dict, list)) or isinstance(actual, (dict, list)):
        if _text(expected) != _text(actual):
            yield Difference(path, _text(expected), _text(actual), "NOT_EQUAL")
        return
    if not _same_scalar(expected, actual):
        yield Difference(path, _text(expected), _text(actual), "NOT_EQUAL")


AS_SETS = frozenset({"/ManagedPolicyArns"})
POLICY_KEYS = frozenset({"AssumeRolePolicyDocument", "PolicyDocument"})


def _canonical(properties: dict[str, Any]) -> dict[str, Any]:
    """Policy documents parsed and canonical (the role's inline ones too, ordered by name)."""
    out = dict(properties)
    for key in POLICY_KEYS & set(out):
        out[key] = policy(out[key])
    if isinstance(out.get("Policies"), list):
        inline = [p for p in out["Policies"] if isinstance(p, dict)]
        out["Policies"] = sorted(
            ({**p, "PolicyDocument": policy(p.get("PolicyDocument"))} for p in inline),
            key=lambda p: str(p.get("PolicyName")),
        )
    return out


def resource_drift(
    resource_type: str, resource: Any, expected: dict[str, Any], account: str, region: str
) -> ResourceDrift:
    """Compare a resource's resolved template properties with the live resource."""
    reader = READERS.get(resource_type)
    if reader is None:
        return ResourceDrift("NOT_CHECKED", None, None, ())
    if resource is None or isinstance(resource, str):
        return ResourceDrift("DELETED", None, None, ())
    try:
        live = _canonical(reader(resource, account, region, expected))
    except Gone:
        return ResourceDrift("DELETED", None, None, ())
    wanted = _canonical(expected)
    read = READ_KEYS[resource_type]
    # Only the template's properties are checked; one the reader does not read counts as in sync.
    actual = {
        key: live[key] if key in read else value for key, value in wanted.items() if key in live or key not in read
    }
    found = tuple(differences(wanted, actual))
    return ResourceDrift("MODIFIED" if found else "IN_SYNC", wanted, actual, found)


# -- what a stack remembers of its last checks ---------------------------------------------------------
CHECKS_ATTRIBUTE = "_labrunner_drift_checks"  # logical id -> the StackResourceDrift row last found


def last_checks(stack: Any) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] | None = getattr(stack, CHECKS_ATTRIBUTE, None)
    if table is None:
        table = {}
        setattr(stack, CHECKS_ATTRIBUTE, table)
    return table


def resource_drift_information(stack: Any, logical_id: str) -> dict[str, Any]:
    """DriftInformation of describe_stack_resource(s): NOT_CHECKED until a check, then its result."""
    row = last_checks(stack).get(logical_id)
    if row is None:
        return {"StackResourceDriftStatus": "NOT_CHECKED"}
    return {"StackResourceDriftStatus": row["StackResourceDriftStatus"], "LastCheckTimestamp": row["Timestamp"]}
