"""CloudFormation helpers: read templates (short-form tags included), deploy and wait with progress."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import yaml
from botocore.exceptions import ClientError

from labrunner.aws.errors import error_code, is_code

TERMINAL_OK = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "DELETE_COMPLETE"})
TERMINAL_BAD = frozenset(
    {
        "CREATE_FAILED",
        "ROLLBACK_COMPLETE",
        "ROLLBACK_FAILED",
        "DELETE_FAILED",
        "UPDATE_ROLLBACK_FAILED",
        "IMPORT_ROLLBACK_COMPLETE",
    }
)


class TemplateLoader(yaml.SafeLoader):
    """YAML loader that understands CloudFormation's short forms (!Ref, !Sub, !GetAtt …)."""


def _cfn_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


# CloudFormation keeps YAML 1.1 dates (`Version: 2012-10-17`) as the strings written, never as dates.
TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


def timestamp_as_written(loader: yaml.BaseLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


TemplateLoader.add_multi_constructor("!", _cfn_tag)
TemplateLoader.add_constructor(TIMESTAMP_TAG, timestamp_as_written)

# The same loader on libyaml's parser when PyYAML has it: ten times faster, same result.
_fast_loader: type[Any] | None = None
if getattr(yaml, "__with_libyaml__", False):

    class _FastTemplateLoader(yaml.CSafeLoader):
        pass

    _FastTemplateLoader.add_multi_constructor("!", _cfn_tag)
    _FastTemplateLoader.add_constructor(TIMESTAMP_TAG, timestamp_as_written)
    _fast_loader = _FastTemplateLoader


def _load_yaml(text: str) -> Any:
    if _fast_loader is not None:
        try:
            return yaml.load(text, Loader=_fast_loader)
        except yaml.YAMLError:
            pass  # the pure-Python loader reports the error with the offending line quoted
    return yaml.load(text, Loader=TemplateLoader)


def load_template(body: str | Mapping[str, Any]) -> dict[str, Any]:
    """A template as a dict, from YAML or JSON text (or an already parsed body)."""
    if isinstance(body, Mapping):
        return dict(body)
    text = body.strip()
    loaded = json.loads(text) if text.startswith("{") else _load_yaml(text)
    if not isinstance(loaded, dict):
        raise ValueError("a CloudFormation template must be a mapping")
    return loaded


def deployed_template(cfn: Any, stack: str) -> dict[str, Any]:
    body = cfn.get_template(StackName=stack, TemplateStage="Original")["TemplateBody"]
    return load_template(body)


def stack_status(cfn: Any, stack: str) -> str | None:
    try:
        stacks = cfn.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        if is_code(exc, "ValidationError"):
            return None
        raise
    return str(stacks[0]["StackStatus"]) if stacks else None


def wait_for_stack(
    cfn: Any, stack: str, note: Callable[[str], None], *, timeout_s: float = 1800, since: float | None = None
) -> str:
    """Poll until the stack leaves *_IN_PROGRESS, reporting new events as notes. Returns the status."""
    seen: set[str] = set()
    delay = 0.2
    deadline = time.monotonic() + timeout_s
    start = since if since is not None else time.time() - 5
    while True:
        try:
            events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
        except ClientError as exc:
            if not is_code(exc, "ValidationError"):
                raise
            return "DELETE_COMPLETE"  # a deleted stack is no longer found by name
        for event in reversed(events):
            event_id = event["EventId"]
            stamp = event.get("Timestamp")
            if event_id in seen or (stamp is not None and stamp.timestamp() < start):
                continue
            seen.add(event_id)
            reason = f" — {event['ResourceStatusReason']}" if event.get("ResourceStatusReason") else ""
            note(f"{event['ResourceStatus']} {event['ResourceType']} {event['LogicalResourceId']}{reason}")
        status = stack_status(cfn, stack) or "DELETE_COMPLETE"
        if not status.endswith("_IN_PROGRESS"):
            return status
        if time.monotonic() > deadline:
            raise TimeoutError(f"stack {stack} still {status} after {timeout_s:.0f} s")
        time.sleep(delay)
        delay = min(delay * 1.5, 5.0)


def first_failure_reason(cfn: Any, stack: str) -> str:
    try:
        events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    except ClientError as exc:
        return error_code(exc)
    for event in events:
        if event["ResourceStatus"].endswith("_FAILED") and event.get("ResourceStatusReason"):
            return f"{event['LogicalResourceId']}: {event['ResourceStatusReason']}"
    return "no reason given"
