"""Gap: moto has no CloudFormation drift detection (DetectStackDrift answered NotImplemented).

Lab 1's console text tells students to run Stack actions → Detect drift (the same as `aws
cloudformation detect-stack-drift`). What AWS does, and this module does for the workload's types:
- "Detect drift on an entire CloudFormation stack", AWS CloudFormation User Guide,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/detect-drift-stack.html: drift
  detection runs on the stack, then Drift status and Last drift check time are updated.
- DetectStackDrift (API Reference,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DetectStackDrift.html):
  compares each supported resource's actual configuration with its expected template
  configuration (template plus parameter values); only properties explicitly defined in the
  template are checked; LogicalResourceIds limits the check; the answer is a StackDriftDetectionId.
  The operation "can take up to several minutes": the local one reports DETECTION_IN_PROGRESS to
  the first DescribeStackDriftDetectionStatus and DETECTION_COMPLETE after, so a client that does
  not poll fails here as it could on AWS.
- DescribeStackDriftDetectionStatus (API_DescribeStackDriftDetectionStatus.html): DetectionStatus,
  StackDriftStatus DRIFTED | IN_SYNC, DriftedStackResourceCount, Timestamp.
- DescribeStackResourceDrifts (API_DescribeStackResourceDrifts.html): one StackResourceDrift per
  resource checked; resources not checked are not included; StackResourceDriftStatusFilters.
- DetectStackResourceDrift (API_DetectStackResourceDrift.html): one resource, answered at once.
- StackResourceDrift / PropertyDifference (API_StackResourceDrift.html,
  API_PropertyDifference.html): ExpectedProperties and ActualProperties as JSON text (absent for
  DELETED), PropertyDifferences with PropertyPath, ExpectedValue, ActualValue and DifferenceType
  ADD | REMOVE | NOT_EQUAL; StackResourceDriftStatus IN_SYNC | MODIFIED | DELETED | NOT_CHECKED
  (StackResourceDriftInformation: types that do not support drift detection are NOT_CHECKED).
Shapes follow botocore's cloudformation-2010-05-15 service model (DetectStackDriftOutput,
DescribeStackDriftDetectionStatusOutput, DescribeStackResourceDriftsOutput, StackResourceDrift).
Checked here: AWS::S3::Bucket, AWS::S3::BucketPolicy, AWS::IAM::Role (trust, inline policies, managed policy ARNs),
AWS::Lambda::Function, AWS::SQS::Queue, AWS::SQS::QueuePolicy, AWS::DynamoDB::Table
(labrunner/local/cfn/drift.py); any other type is NOT_CHECKED.
"""

from __future__ import annotations

import json
import sys
import threading
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from labrunner.local.cfn import drift
from labrunner.local.fidelity.cfn_stack_operations import resource_rows
from labrunner.local.hooks import ServerHooks

_lock = threading.Lock()
DETECTIONS_ATTRIBUTE = "_labrunner_drift_detections"


@dataclass
class Detection:
    """One DetectStackDrift operation (mutable: it is polled into completion)."""

    detection_id: str
    stack_id: str
    timestamp: datetime
    drifted: int
    failure: str | None = None
    polled: bool = field(default=False)

    def answer(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "StackId": self.stack_id,
            "StackDriftDetectionId": self.detection_id,
            "Timestamp": self.timestamp,
        }
        if not self.polled:
            self.polled = True
            row["DetectionStatus"] = "DETECTION_IN_PROGRESS"
            return row
        if self.failure:
            row["DetectionStatus"] = "DETECTION_FAILED"
            row["DetectionStatusReason"] = self.failure
        else:
            row["DetectionStatus"] = "DETECTION_COMPLETE"
        row["StackDriftStatus"] = "DRIFTED" if self.drifted else "IN_SYNC"
        row["DriftedStackResourceCount"] = self.drifted
        return row


def _detections(backend: Any) -> dict[str, Detection]:
    table: dict[str, Detection] | None = getattr(backend, DETECTIONS_ATTRIBUTE, None)
    if table is None:
        table = {}
        setattr(backend, DETECTIONS_ATTRIBUTE, table)
    return table


def check_resource(stack: Any, logical_id: str, resource: Any, now: datetime) -> dict[str, Any]:
    """The StackResourceDrift of one resource of the stack, as found now (also remembered)."""
    from moto.cloudformation.parsing import clean_json

    resource_map = stack.resource_map
    definition = resource_map._resource_json_map[logical_id]
    resource_type = str(definition["Type"])
    expected = clean_json(definition.get("Properties") or {}, resource_map)
    found = drift.resource_drift(resource_type, resource, expected, stack.account_id, stack.region_name)
    row: dict[str, Any] = {
        "StackId": stack.stack_id,
        "LogicalResourceId": logical_id,
        "PhysicalResourceId": getattr(resource, "physical_resource_id", None),
        "ResourceType": resource_type,
        "StackResourceDriftStatus": found.status,
        "Timestamp": now,
    }
    if found.expected is not None and found.actual is not None:
        row["ExpectedProperties"] = json.dumps(found.expected, sort_keys=True)
        row["ActualProperties"] = json.dumps(found.actual, sort_keys=True)
        row["PropertyDifferences"] = [d.as_dict() for d in found.differences]
    drift.last_checks(stack)[logical_id] = row
    return row


def detect_stack_drift(stack: Any, logical_ids: list[str]) -> Detection:
    now = datetime.now(UTC)
    drifted, failure = 0, None
    for state, resource in resource_rows(stack):
        if logical_ids and state.logical_id not in logical_ids:
            continue
        try:
            row = check_resource(stack, state.logical_id, resource, now)
        except Exception as exc:  # one resource that cannot be read fails the detection, as on AWS
            traceback.print_exc(file=sys.stderr)  # the server's log keeps what went wrong
            failure = f"Failed to detect drift on resource [{state.logical_id}]: {type(exc).__name__}"
            continue
        drifted += row["StackResourceDriftStatus"] in ("MODIFIED", "DELETED")
    stack.drift_information = {
        "StackDriftStatus": "DRIFTED" if drifted else "IN_SYNC",
        "LastCheckTimestamp": now,
    }
    return Detection(str(uuid.uuid4()), stack.stack_id, now, drifted, failure)


def install(hooks: ServerHooks) -> None:
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import Stack
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult

    # DescribeStacks' DriftInformation before any check (the serializer reads this attribute).
    setattr(Stack, "drift_information", {"StackDriftStatus": "NOT_CHECKED"})  # noqa: B010 (patching moto)

    def detect_stack_drift_response(self: Any) -> ActionResult:
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        wanted = self._get_param("LogicalResourceIds") or []
        with _lock:
            detection = detect_stack_drift(stack, wanted)
            _detections(self.cloudformation_backend)[detection.detection_id] = detection
        return ActionResult({"StackDriftDetectionId": detection.detection_id})

    def describe_stack_drift_detection_status(self: Any) -> ActionResult:
        wanted = self._get_param("StackDriftDetectionId")
        with _lock:
            detection = _detections(self.cloudformation_backend).get(wanted)
            if detection is None:
                raise ValidationError(message=f"Drift detection operation {wanted} does not exist")
            return ActionResult(detection.answer())

    def describe_stack_resource_drifts(self: Any) -> ActionResult:
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        filters = set(self._get_param("StackResourceDriftStatusFilters") or [])
        current = {state.logical_id for state, _ in resource_rows(stack)}
        rows = [
            row
            for logical_id, row in drift.last_checks(stack).items()
            if logical_id in current
            and row["StackResourceDriftStatus"] != "NOT_CHECKED"
            and (not filters or row["StackResourceDriftStatus"] in filters)
        ]
        return ActionResult({"StackResourceDrifts": rows})

    def detect_stack_resource_drift(self: Any) -> ActionResult:
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        wanted = self._get_param("LogicalResourceId")
        for state, resource in resource_rows(stack):
            if state.logical_id == wanted:
                with _lock:
                    row = check_resource(stack, wanted, resource, datetime.now(UTC))
                return ActionResult({"StackResourceDrift": row})
        raise ValidationError(message=f"Resource {wanted} does not exist for stack {stack.name}")

    setattr(CloudFormationResponse, "detect_stack_drift", detect_stack_drift_response)  # noqa: B010
    setattr(CloudFormationResponse, "describe_stack_drift_detection_status", describe_stack_drift_detection_status)  # noqa: B010
    setattr(CloudFormationResponse, "describe_stack_resource_drifts", describe_stack_resource_drifts)  # noqa: B010
    setattr(CloudFormationResponse, "detect_stack_resource_drift", detect_stack_resource_drift)  # noqa: B010
