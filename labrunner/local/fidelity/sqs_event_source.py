"""Gap: moto runs an SQS event source mapping synchronously inside SendMessage, and deletes the
messages even when the function never ran (and ListEventSourceMappings matches FunctionName only
as it was written at creation, so a name does not find a mapping made with the function's ARN).

Lambda polls instead. Here every enabled SQS mapping (of every account) has a poller thread that
waits on the queue (moto's `_messages_lock` condition, which SendMessage notifies, so delivery
starts at once), receives a batch (BatchSize, MaximumBatchingWindowInSeconds) with the queue's
visibility timeout, invokes the function with a real SQS event and deletes the messages only on
success (or all but the reported `batchItemFailures`). Failed messages return after the
visibility timeout; moto's receive applies the redrive policy. The poller acts with the
function's execution role: without sqs:ReceiveMessage / GetQueueAttributes / DeleteMessage on the
queue it delivers nothing, and the mapping's LastProcessingResult says so.

A new mapping starts polling only `lambda_esm_startup_s` (faults knob) after CreateEventSourceMapping,
and meanwhile its State is `Creating`: "During event source mapping creation, it may take several
minutes to start polling events" (Lambda Developer Guide, "Polling and stream starting positions",
https://docs.aws.amazon.com/lambda/latest/dg/msk-starting-positions.html); State is one of Creating,
Enabling, Enabled, Disabling, Disabled, Updating, Deleting (Lambda API Reference,
EventSourceMappingConfiguration).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from labrunner.local.faults import ESM_STARTUP, FAULTS
from labrunner.local.hooks import ServerHooks
from labrunner.local.lambda_runtime import FunctionSpec, RuntimeStopped, get_runtime
from labrunner.local.lambda_runtime.permissions import role_allows

IDLE_WAIT_S = 0.5  # how long a poller sleeps between checks of a disabled or broken mapping
RECEIVE_ACTIONS = ("sqs:ReceiveMessage", "sqs:GetQueueAttributes")
NO_RECORDS = "No records processed"


@dataclass(frozen=True)
class MappingRef:
    account_id: str
    region: str
    uuid: str


def _fifo_attributes(message: Any) -> dict[str, str]:
    attributes = {}
    if message.group_id:
        attributes["MessageGroupId"] = str(message.group_id)
    if message.deduplication_id:
        attributes["MessageDeduplicationId"] = str(message.deduplication_id)
    if message.sequence_number:
        attributes["SequenceNumber"] = str(message.sequence_number)
    return attributes


def _message_attributes(message: Any) -> dict[str, Any]:
    """SQS message attributes as Lambda presents them (lower camel case keys)."""
    converted = {}
    for name, value in (message.message_attributes or {}).items():
        entry: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}
        if "StringValue" in value:
            entry["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            binary = value["BinaryValue"]
            entry["binaryValue"] = binary.decode() if isinstance(binary, bytes) else binary
        converted[name] = entry
    return converted


def sqs_record(message: Any, queue_arn: str, region: str) -> dict[str, Any]:
    """One record of the event Lambda builds from a received SQS message."""
    attributes = {
        "ApproximateReceiveCount": str(message.approximate_receive_count),
        "SentTimestamp": str(message.sent_timestamp),
        "SenderId": str(message.sender_id),
        "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
        **_fifo_attributes(message),
    }
    record: dict[str, Any] = {
        "messageId": message.id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": attributes,
        "messageAttributes": _message_attributes(message),
        "md5OfBody": message.body_md5,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.message_attributes:
        record["md5OfMessageAttributes"] = message.attribute_md5
    return record


def failed_item_ids(payload: bytes) -> set[str] | None:
    """The ids a ReportBatchItemFailures response names; None when the response is malformed."""
    try:
        response = json.loads(payload) if payload else None
    except ValueError:
        return None
    if response is None:
        return set()
    if not isinstance(response, dict):
        return None
    failures = response.get("batchItemFailures") or []
    if not isinstance(failures, list):
        return None
    ids = set()
    for failure in failures:
        if not isinstance(failure, dict) or not failure.get("itemIdentifier"):
            return None  # AWS then fails the whole batch
        ids.add(str(failure["itemIdentifier"]))
    return ids


class MappingPoller:
    """Lambda's poller for one SQS event source mapping."""

    def __init__(self, ref: MappingRef, stopping: threading.Event) -> None:
        self.ref = ref
        self._stopping = stopping
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"sqs-poller-{ref.uuid[:8]}")

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set() or self._stopping.is_set()

    def _mapping(self) -> Any:
        from moto.awslambda.models import lambda_backends

        backend = lambda_backends[self.ref.account_id][self.ref.region]
        return backend.get_event_source_mapping(self.ref.uuid)

    def _run(self) -> None:
        while not self.stopped:
            esm = self._mapping()
            if esm is None:  # deleted (or every account was reset)
                return
            if _starting(esm):  # Lambda has not begun polling a new mapping yet
                self._stop.wait(min(IDLE_WAIT_S, max(0.05, _startup_left(esm))))
                continue
            try:
                back_off = self._poll_once(esm)
            except RuntimeStopped:
                return
            except Exception as exc:  # a poller must survive anything and say why it stalled
                esm.last_processing_result = f"PROBLEM: {type(exc).__name__}: {exc}"
                print(f"SQS poller {self.ref.uuid}: {exc!r}", flush=True)
                back_off = True
            if back_off:
                self._stop.wait(IDLE_WAIT_S)

    def _queue(self, arn: str) -> tuple[Any, Any] | None:
        from moto.sqs.models import sqs_backends

        parts = arn.split(":")
        if len(parts) != 6:
            return None
        region, account, name = parts[3], parts[4], parts[5]
        backend = sqs_backends[account][region]
        queue = backend.queues.get(name)
        return (backend, queue) if queue is not None else None

    def _function(self, esm: Any) -> Any:
        from moto.awslambda.models import lambda_backends

        backend = lambda_backends[self.ref.account_id][self.ref.region]
        try:
            return backend.get_function(esm.function_arn)
        except Exception:
            return None

    def _poll_once(self, esm: Any) -> bool:
        """Wait for messages and deliver one batch; True when polling is not possible now (back off).

        Waiting is on the queue's condition, so an idle poller wakes as soon as a message arrives.
        """
        if not esm.enabled:
            return True
        found = self._queue(esm.event_source_arn)
        function = self._function(esm)
        if found is None:
            esm.last_processing_result = "PROBLEM: Queue does not exist"
            return True
        if function is None:
            esm.last_processing_result = "PROBLEM: Function not found"
            return True
        sqs, queue = found
        role = str(function.role)
        for action in RECEIVE_ACTIONS:
            if not role_allows(self.ref.account_id, role, action, queue.queue_arn):
                esm.last_processing_result = (
                    f"PROBLEM: The provided execution role does not have permissions to call "
                    f"{action.split(':')[1]} on SQS"
                )
                return True
        if not self._wait_for_messages(queue, esm):
            return False
        if self._mapping() is not esm or not esm.enabled:  # disabled or deleted while waiting
            return False
        messages = sqs.receive_message(
            queue.name,
            int(esm.batch_size),
            0,
            int(queue.visibility_timeout),
            message_attribute_names=["All"],
        )
        if not messages:  # visible but not receivable (e.g. a FIFO group in flight): do not spin
            return True
        event = {"Records": [sqs_record(m, queue.queue_arn, self.ref.region) for m in messages]}
        result = get_runtime().invoke(FunctionSpec.from_moto(function), event)
        to_delete = list(messages)
        if result.errored:
            to_delete = []
        elif "ReportBatchItemFailures" in (esm.function_response_types or []):
            failed = failed_item_ids(result.payload)
            to_delete = [] if failed is None else [m for m in messages if m.id not in failed]
        if to_delete and not role_allows(self.ref.account_id, role, "sqs:DeleteMessage", queue.queue_arn):
            esm.last_processing_result = (
                "PROBLEM: The provided execution role does not have permissions to call DeleteMessage on SQS"
            )
            return False
        for message in to_delete:
            # A message may be gone already (deleted by someone else, or the queue was purged).
            with contextlib.suppress(Exception):
                sqs.delete_message(queue.name, message.receipt_handle)
        esm.last_processing_result = "OK" if len(to_delete) == len(messages) else "PROBLEM: Function call failed"
        return False

    def _wait_for_messages(self, queue: Any, esm: Any) -> bool:
        """Block until a message is visible (woken by SendMessage), or a short while passed."""
        lock = queue._messages_lock
        with lock:
            if not lock.wait_for(lambda: self.stopped or bool(queue.messages), timeout=IDLE_WAIT_S):
                return False
        if self.stopped:
            return False
        window = float(esm.max_batch_window or 0)
        if window > 0:  # MaximumBatchingWindowInSeconds: gather up to a full batch first
            deadline = time.monotonic() + window
            with lock:
                lock.wait_for(
                    lambda: self.stopped or len(queue.messages) >= int(esm.batch_size) or time.monotonic() >= deadline,
                    timeout=window,
                )
        return not self.stopped


class PollerRegistry:
    """The pollers of all accounts' mappings; one per mapping, started when it is created."""

    def __init__(self, stopping: threading.Event) -> None:
        self._stopping = stopping
        self._lock = threading.Lock()
        self._pollers: dict[MappingRef, MappingPoller] = {}

    def watch(self, ref: MappingRef) -> None:
        with self._lock:
            current = self._pollers.get(ref)
            if current is not None and current.thread.is_alive():
                return
            poller = MappingPoller(ref, self._stopping)
            self._pollers[ref] = poller
        poller.start()

    def stop_all(self) -> None:
        with self._lock:
            pollers = list(self._pollers.values())
            self._pollers.clear()
        for poller in pollers:
            poller.stop()


def _add_message_without_invoking(self: Any, message: Any) -> None:
    """moto's Queue.add_message minus its synchronous Lambda delivery (the pollers deliver)."""
    from moto.sqs.models import DEDUPLICATION_TIME_IN_SECONDS

    if self.fifo_queue and (self.attributes.get("ContentBasedDeduplication") == "true" or message.deduplication_id):
        for existing in self._messages:
            if existing.deduplication_id == message.deduplication_id:
                age = message.sent_timestamp - existing.sent_timestamp
                if age / 1000 < DEDUPLICATION_TIME_IN_SECONDS:
                    return
    with self._messages_lock:
        self._messages.append(message)
        self._messages_lock.notify_all()


def _startup_left(esm: Any) -> float:
    return float(getattr(esm, "polling_from", 0.0)) - time.time()


def _starting(esm: Any) -> bool:
    return bool(esm.enabled) and _startup_left(esm) > 0


def install(hooks: ServerHooks) -> None:
    from moto.awslambda.models import EventSourceMapping, LambdaBackend
    from moto.sqs.models import Queue

    registry = PollerRegistry(hooks.stopping)
    setattr(Queue, "add_message", _add_message_without_invoking)  # noqa: B010 (patching moto)

    original_create = LambdaBackend.create_event_source_mapping

    def create_event_source_mapping(self: Any, spec: dict[str, Any]) -> Any:
        esm = original_create(self, spec)
        if esm.event_source_arn.split(":")[2] == "sqs":
            setattr(esm, "last_processing_result", NO_RECORDS)  # noqa: B010 (an attribute of ours)
            setattr(esm, "polling_from", time.time() + FAULTS.value(ESM_STARTUP))  # noqa: B010
            registry.watch(MappingRef(self.account_id, self.region_name, esm.uuid))
        return esm

    setattr(LambdaBackend, "create_event_source_mapping", create_event_source_mapping)  # noqa: B010

    original_configuration = EventSourceMapping.get_configuration

    def get_configuration(self: Any) -> dict[str, Any]:
        configuration: dict[str, Any] = original_configuration(self)
        configuration["LastProcessingResult"] = getattr(self, "last_processing_result", NO_RECORDS)
        configuration["StateTransitionReason"] = "User action"
        if _starting(self):
            configuration["State"] = "Creating"
        return configuration

    setattr(EventSourceMapping, "get_configuration", get_configuration)  # noqa: B010

    def list_event_source_mappings(self: Any, event_source_arn: str, function_name: str) -> list[Any]:
        """FunctionName may be a name, an ARN or a partial ARN (moto compares it as given)."""
        mappings = list(self._event_source_mappings.values())
        if event_source_arn:
            mappings = [m for m in mappings if m.event_source_arn == event_source_arn]
        if function_name:
            try:
                arn = self.get_function(function_name).function_arn
            except Exception:  # an unknown function has no mappings
                return []
            mappings = [m for m in mappings if m.function_arn == arn]
        return mappings

    setattr(LambdaBackend, "list_event_source_mappings", list_event_source_mappings)  # noqa: B010
    hooks.on_stop(registry.stop_all)
    hooks.on_reset(registry.stop_all)
