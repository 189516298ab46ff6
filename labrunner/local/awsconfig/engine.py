"""The AWS Config engine: recording S3 buckets, running managed rules, keeping their results.

State lives on moto's ConfigBackend of each account and region (so a moto reset wipes it and
accounts and regions stay apart). As on AWS:
- configuration items exist only for buckets the recorder records (AWS::S3::Bucket or all
  supported types) while it is recording; starting it records every bucket of the region;
- a rule is evaluated when it is put, when StartConfigRulesEvaluation asks, and (all S3 rules
  here are change-triggered) when a recorded bucket changes; it judges the recorded item;
- a deleted bucket's results disappear; deleting a rule deletes its results;
- evaluation is asynchronous on AWS: immediate here unless LABRUNNER_CONFIG_EVALUATION_DELAY_S
  or POST /_labrunner/config/evaluation-delay?seconds=N sets a delay (fault injection); while an
  evaluation that StartConfigRulesEvaluation asked for runs, the rule's ConfigRuleState is
  EVALUATING (API Reference, ConfigRule: "AWS Config sets the state of the rule to EVALUATING
  temporarily after you use the StartConfigRulesEvaluation request");
- the recorder records a change `config_recording_delay_s` after it (Developer Guide, "Recording
  AWS resources": changes are recorded when Config detects them, on AWS within minutes); until
  then every evaluation judges the configuration recorded before (API Reference,
  StartConfigRulesEvaluation: it "does not re-record the latest configuration state for your
  resources. It re-runs an evaluation against the last known state of your resources").
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from labrunner.local.awsconfig.items import S3_BUCKET, BucketItem, capture
from labrunner.local.awsconfig.rules import MANAGED_RULES, ManagedRule
from labrunner.local.delays import Delay
from labrunner.local.faults import CONFIG_RECORDING_DELAY, FAULTS
from labrunner.local.s3_changes import BucketChange

LOCK = threading.RLock()
DELAY = Delay("config_evaluation_delay_s", "LABRUNNER_CONFIG_EVALUATION_DELAY_S", "config/evaluation-delay")
STATE_ATTRIBUTE = "_labrunner_config_state"
ACTIVE = "ACTIVE"
EVALUATING = "EVALUATING"


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class EvaluationResult:
    """One rule's verdict on one resource."""

    rule_name: str
    resource_type: str
    resource_id: str
    compliance: str
    annotation: str | None
    ordering_timestamp: datetime  # when the judged configuration item was captured
    invoked_at: datetime
    recorded_at: datetime


@dataclass
class RuleStatus:
    """A rule's evaluation status (DescribeConfigRuleEvaluationStatus)."""

    rule_id: str
    rule_arn: str
    first_activated: datetime
    last_invocation: datetime | None = None
    last_evaluation: datetime | None = None
    first_evaluation_started: bool = False
    pending: int = 0  # scheduled evaluations not run yet
    pending_requested: int = 0  # of which asked for by StartConfigRulesEvaluation
    last_requested: float | None = None  # time.monotonic() of the last StartConfigRulesEvaluation


@dataclass
class ConfigState:
    """Config's own data of one account and region."""

    items: dict[str, BucketItem] = field(default_factory=dict)
    results: dict[str, dict[str, EvaluationResult]] = field(default_factory=dict)
    statuses: dict[str, RuleStatus] = field(default_factory=dict)
    history: dict[str, list[BucketItem]] = field(default_factory=dict)  # every recorded item, oldest first


_timers: set[threading.Timer] = set()


def config_backend(account_id: str, region: str) -> Any:
    from moto.config.models import config_backends

    return config_backends[account_id][region]


def existing_config_backend(account_id: str, region: str) -> Any | None:
    """The ConfigBackend if Config was ever used in that account and region (without making one)."""
    from moto.config.models import config_backends

    if account_id not in dict.keys(config_backends):
        return None
    regions = config_backends[account_id]
    return regions[region] if region in dict.keys(regions) else None


def state_of(backend: Any) -> ConfigState:
    state = backend.__dict__.get(STATE_ATTRIBUTE)
    if not isinstance(state, ConfigState):
        state = ConfigState()
        setattr(backend, STATE_ATTRIBUTE, state)
    return state


# --- recording ---------------------------------------------------------------------------------


def records_buckets(backend: Any) -> bool:
    """Is a recorder of this account and region recording S3 buckets right now?"""
    for recorder in backend.recorders.values():
        if not recorder.status.recording:
            continue
        group = recorder.recording_group
        strategy = (group.recording_strategy or {}).get("useOnly", "")
        excluded = (group.exclusion_by_resource_types or {}).get("resourceTypes", [])
        if group.all_supported or S3_BUCKET in (group.resource_types or []):
            return True
        if strategy == "EXCLUSION_BY_RESOURCE_TYPES" and S3_BUCKET not in excluded:
            return True
    return False


def live_buckets(account_id: str, region: str) -> dict[str, Any]:
    from moto.s3.models import s3_backends
    from moto.utilities.utils import get_partition

    backend = s3_backends[account_id][get_partition(region)]
    return {name: b for name, b in list(backend.buckets.items()) if b.region_name == region}


def bucket_tags(account_id: str, bucket: Any) -> dict[str, str]:
    from moto.s3.models import s3_backends

    tags: dict[str, str] = s3_backends[account_id][bucket.partition].tagger.get_tag_dict_for_resource(bucket.arn)
    return tags


def record(account_id: str, region: str, names: Iterable[str] | None = None) -> list[str]:
    """Capture configuration items of these buckets (all of the region when None), if the
    recorder records buckets; returns the names whose recorded configuration changed."""
    backend = config_backend(account_id, region)
    if not records_buckets(backend):
        return []
    state = state_of(backend)
    live = live_buckets(account_id, region)
    candidates = set(names) if names is not None else set(live) | set(state.items)
    when = now()
    changed = []
    for name in sorted(candidates):
        bucket = live.get(name)
        old = state.items.get(name)
        if bucket is None:
            if old is None or old.deleted:
                continue
            new = old.deletion(when)
        else:
            new = capture(bucket, bucket_tags(account_id, bucket), when)
            if new.same_configuration(old):
                continue
        state.items[name] = new
        state.history.setdefault(name, []).append(new)
        changed.append(name)
    return changed


def on_bucket_change(change: BucketChange) -> None:
    """A bucket changed: the recorder records it (after the recording delay), and
    change-triggered rules judge it."""
    if existing_config_backend(change.account_id, change.region) is None:
        return  # Config never used there: no recorder, nothing to record
    later(FAULTS.value(CONFIG_RECORDING_DELAY), record_and_evaluate, change.account_id, change.region, [change.bucket])


def record_and_evaluate(account_id: str, region: str, names: list[str] | None) -> None:
    with LOCK:
        changed = record(account_id, region, names)
        if changed:
            evaluate_changed(account_id, region, changed)


def recorder_changed(account_id: str, region: str) -> None:
    """The recorder started or its recording group changed: record the region's buckets
    (after the recording delay, as any change)."""
    with LOCK:
        backend = config_backend(account_id, region)
        for recorder in backend.recorders.values():
            if recorder.status.recording:
                recorder.status.last_status = "SUCCESS"
    later(FAULTS.value(CONFIG_RECORDING_DELAY), record_and_evaluate, account_id, region, None)


def later(seconds: float, work: Any, *args: Any) -> None:
    """Run work(*args) now, or on a timer thread after `seconds` (cancelled by a server reset)."""
    if seconds <= 0:
        work(*args)
        return

    def run_it() -> None:
        try:
            work(*args)
        except Exception as exc:  # a timer thread has no caller to tell
            print(f"Config recording failed: {exc!r}", file=sys.stderr)

    timer = threading.Timer(seconds, run_it)
    timer.daemon = True
    with LOCK:
        _timers.add(timer)
    timer.start()


def evaluate_changed(account_id: str, region: str, resource_ids: list[str]) -> None:
    backend = config_backend(account_id, region)
    for rule_name in list(backend.config_rules):
        schedule(account_id, region, rule_name, resource_ids)


# --- rules -------------------------------------------------------------------------------------


def rule_added_or_updated(account_id: str, region: str, rule_name: str) -> None:
    """PutConfigRule: a new rule starts with no results; either way Config evaluates it."""
    with LOCK:
        backend = config_backend(account_id, region)
        rule = backend.config_rules.get(rule_name)
        if rule is None:
            return
        state = state_of(backend)
        status = state.statuses.get(rule_name)
        if status is None or status.rule_id != rule.config_rule_id:
            state.statuses[rule_name] = RuleStatus(rule.config_rule_id, rule.config_rule_arn, now())
            state.results.pop(rule_name, None)
        schedule(account_id, region, rule_name, None)


def rule_deleted(account_id: str, region: str, rule_name: str) -> None:
    with LOCK:
        state = state_of(config_backend(account_id, region))
        state.results.pop(rule_name, None)
        state.statuses.pop(rule_name, None)


def managed_rule_of(rule: Any) -> ManagedRule | None:
    if rule.source.owner != "AWS":
        return None  # custom Lambda rules are not run by the local AWS
    return MANAGED_RULES.get(rule.source.source_identifier)


def schedule(
    account_id: str, region: str, rule_name: str, resource_ids: list[str] | None, *, requested: bool = False
) -> None:
    """Evaluate the rule (for these resources, or all) now or after the configured delay."""
    with LOCK:
        backend = config_backend(account_id, region)
        rule = backend.config_rules.get(rule_name)
        if rule is None or managed_rule_of(rule) is None:
            return
        status = ensure_status(backend, rule_name, rule)
        seconds = DELAY.seconds
        if seconds <= 0:
            run(account_id, region, rule_name, rule.config_rule_id, resource_ids)
            return
        status.pending += 1
        status.pending_requested += int(requested)
        if requested:
            rule.config_rule_state = EVALUATING
        invocation = Invocation(account_id, region, rule_name, rule.config_rule_id, resource_ids, requested)
        timer = threading.Timer(seconds, run_later, args=(invocation,))
        timer.daemon = True
        _timers.add(timer)
        timer.start()


def ensure_status(backend: Any, rule_name: str, rule: Any) -> RuleStatus:
    state = state_of(backend)
    status = state.statuses.get(rule_name)
    if status is None or status.rule_id != rule.config_rule_id:
        status = RuleStatus(rule.config_rule_id, rule.config_rule_arn, now())
        state.statuses[rule_name] = status
    return status


@dataclass(frozen=True)
class Invocation:
    """A scheduled evaluation of one rule (resource_ids None: every recorded resource)."""

    account_id: str
    region: str
    rule_name: str
    rule_id: str
    resource_ids: list[str] | None
    requested: bool  # by StartConfigRulesEvaluation


def run_later(invocation: Invocation) -> None:
    with LOCK:
        _timers.difference_update({t for t in _timers if not t.is_alive()})
        backend = config_backend(invocation.account_id, invocation.region)
        status = state_of(backend).statuses.get(invocation.rule_name)
        if status is not None and status.rule_id == invocation.rule_id:
            status.pending = max(0, status.pending - 1)
            status.pending_requested = max(0, status.pending_requested - int(invocation.requested))
            rule = backend.config_rules.get(invocation.rule_name)
            if (
                status.pending_requested == 0
                and rule is not None
                and rule.config_rule_id == invocation.rule_id
                and rule.config_rule_state == EVALUATING
            ):
                rule.config_rule_state = ACTIVE
        try:
            run(
                invocation.account_id,
                invocation.region,
                invocation.rule_name,
                invocation.rule_id,
                invocation.resource_ids,
            )
        except Exception as exc:  # a timer thread has no caller to tell
            print(f"Config evaluation of {invocation.rule_name} failed: {exc!r}", file=sys.stderr)


def run(account_id: str, region: str, rule_name: str, rule_id: str, resource_ids: list[str] | None) -> None:
    """One invocation of the rule against the recorded configuration items."""
    backend = config_backend(account_id, region)
    rule = backend.config_rules.get(rule_name)
    if rule is None or rule.config_rule_id != rule_id:
        return  # deleted (or replaced) meanwhile
    managed = managed_rule_of(rule)
    if managed is None:
        return
    state = state_of(backend)
    status = ensure_status(backend, rule_name, rule)
    invoked = now()
    results = state.results.setdefault(rule_name, {})
    parameters = {str(k): str(v) for k, v in (rule.input_parameters_dict or {}).items()}
    if resource_ids is None:
        for gone in set(results) - set(state.items):
            del results[gone]
        resource_ids = list(state.items)
    for resource_id in resource_ids:
        item = state.items.get(resource_id)
        if item is None or item.deleted or not in_scope(rule, managed, item):
            results.pop(resource_id, None)
            continue
        verdict = managed.evaluate(item, parameters)
        results[resource_id] = EvaluationResult(
            rule_name=rule_name,
            resource_type=item.resource_type,
            resource_id=resource_id,
            compliance=verdict.compliance,
            annotation=verdict.annotation,
            ordering_timestamp=item.captured_at,
            invoked_at=invoked,
            recorded_at=now(),
        )
    status.last_invocation = invoked
    status.last_evaluation = now()
    status.first_evaluation_started = True


def in_scope(rule: Any, managed: ManagedRule, item: BucketItem) -> bool:
    """The rule's Scope: resource types, one resource id, or a tag."""
    if item.resource_type not in managed.resource_types:
        return False
    scope = rule.scope
    if scope is None:
        return True
    types = scope.compliance_resource_types or []
    if types and item.resource_type not in types:
        return False
    if scope.compliance_resource_id and scope.compliance_resource_id != item.name:
        return False
    if scope.tags:
        tags = dict(item.tags)
        for key, value in scope.tags.items():
            if key not in tags or (value is not None and tags[key] != value):
                return False
    return True


def clear_timers() -> None:
    """Forget scheduled evaluations (every account was wiped)."""
    with LOCK:
        for timer in _timers:
            timer.cancel()
        _timers.clear()
