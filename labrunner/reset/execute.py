"""Carry out a reset plan, in an order AWS accepts, and say what happened to each item.

Order: the stack (its buckets emptied first; retried while AWS reports DELETE_FAILED), then AWS
Config (stop the recorder, delete the rules, the delivery channel, the recorder), then the
buckets outside the stack (those others log to last), then the log groups. A failure is recorded
with the resource and AWS's error code, and the rest goes on.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from labrunner.aws.cfn import stack_status, wait_for_stack
from labrunner.aws.errors import error_code, operation_of
from labrunner.context import Context
from labrunner.reset.buckets import empty_bucket
from labrunner.reset.model import ActionResult, Kind, Outcome, Plan, PlanItem
from labrunner.reset.ownership import BUCKET_TYPE
from labrunner.reset.retry import retrying

Progress = Callable[[str], None]

# "It does not exist": a thing that vanished between plan and action needs nothing more.
GONE_CODES = frozenset(
    {
        "NoSuchBucket",
        "404",
        "NotFound",
        "ResourceNotFoundException",
        "NoSuchConfigRuleException",
        "NoSuchDeliveryChannelException",
        "NoSuchConfigurationRecorderException",
        "NoSuchEntity",
    }
)
STACK_ATTEMPTS = 3
ROLE_TYPE = "AWS::IAM::Role"


@dataclass(frozen=True)
class FailedResource:
    logical_id: str
    type: str
    physical_id: str
    reason: str


def _failure(item: PlanItem, exc: BaseException) -> ActionResult:
    code = error_code(exc)
    if code:
        operation = operation_of(exc)
        return ActionResult(item, Outcome.FAILED, f"{code}{f' ({operation})' if operation else ''}", code)
    return ActionResult(item, Outcome.FAILED, f"{type(exc).__name__}: {exc}", type(exc).__name__)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


class Executor:
    def __init__(self, ctx: Context, progress: Progress, *, retry_s: float = 120.0, stack_s: float = 1800.0) -> None:
        self.ctx = ctx
        self.progress = progress
        self.retry_s = retry_s * ctx.settings.wait_scale
        self.stack_s = stack_s * ctx.settings.wait_scale

    def client(self, service: str) -> Any:
        return self.ctx.client(service)

    def run(self, plan: Plan) -> tuple[ActionResult, ...]:
        items = plan.deletions
        results: list[ActionResult] = []
        stack = next((i for i in items if i.kind is Kind.STACK), None)
        in_stack = [i for i in items if i.in_stack]
        if stack is not None:
            results += self._stack(stack, in_stack)
        results += self._config([i for i in items if i.kind in (Kind.RECORDER, Kind.CONFIG_RULE, Kind.CHANNEL)])
        outside = [i for i in items if i.kind is Kind.BUCKET and not i.in_stack]
        for item in sorted(outside, key=lambda i: i.log_target):  # stable: what logs elsewhere goes first
            results.append(self._bucket(item))
        for item in items:
            if item.kind is Kind.LOG_GROUP and not item.in_stack:
                results.append(self._log_group(item))
        results += [ActionResult(item, Outcome.KEPT) for item in plan.kept]
        self.ctx.refresh()
        return tuple(results)

    # -- the stack -----------------------------------------------------------------------------
    def _stack(self, item: PlanItem, owned: list[PlanItem]) -> list[ActionResult]:
        cfn = self.client("cloudformation")
        stack = item.stack_id or item.name
        emptied: dict[str, int] = {}
        try:
            result = self._delete_stack(cfn, item, stack, owned, emptied)
        except Exception as exc:
            result = _failure(item, exc)
        results = [result]
        for resource in owned:  # deleted with the stack, unless it kept them (DeletionPolicy Retain)
            if result.outcome is Outcome.FAILED:  # the stack still holds it: leave it to the stack
                results.append(ActionResult(resource, Outcome.FAILED, "not deleted: the stack's deletion failed"))
            elif resource.kind is Kind.BUCKET:
                results.append(self._bucket(resource, emptied.get(resource.name, 0), after_stack=True))
            else:
                results.append(self._log_group(resource, after_stack=True))
        return results

    def _delete_stack(
        self, cfn: Any, item: PlanItem, stack: str, owned: list[PlanItem], emptied: dict[str, int]
    ) -> ActionResult:
        status = stack_status(cfn, stack)
        if status is None or status == "DELETE_COMPLETE":
            return ActionResult(item, Outcome.GONE)
        if cfn.describe_stacks(StackName=stack)["Stacks"][0].get("EnableTerminationProtection"):
            # Someone protected it on purpose: empty nothing, delete nothing, say so.
            detail = "termination protection is on (turn it off in the console to reset this stack)"
            return ActionResult(item, Outcome.FAILED, detail, "TerminationProtection")
        if status.endswith("_IN_PROGRESS"):
            self.progress(f"stack {item.name} is {status}; waiting for it to finish")
            status = wait_for_stack(cfn, stack, self.progress, timeout_s=self.stack_s)
            if status == "DELETE_COMPLETE":
                return ActionResult(item, Outcome.DELETED, "its deletion was already under way")
        buckets = [i.name for i in owned if i.kind is Kind.BUCKET]
        reason = ""
        for attempt in range(1, STACK_ATTEMPTS + 1):
            for bucket in buckets:
                emptied[bucket] = emptied.get(bucket, 0) + self._empty(bucket)
            self.progress(f"deleting stack {item.name}" + (f" (attempt {attempt})" if attempt > 1 else ""))
            started = time.time() - 1
            cfn.delete_stack(StackName=stack)
            status = wait_for_stack(cfn, stack, self.progress, timeout_s=self.stack_s, since=started)
            if status == "DELETE_COMPLETE":
                return ActionResult(item, Outcome.DELETED, f"after {attempt} attempts" if attempt > 1 else "")
            failed = self._failed_resources(cfn, stack)
            reason = "; ".join(f"{r.logical_id} ({r.reason or 'no reason given'})" for r in failed) or "no reason given"
            self.progress(f"stack {item.name} is {status}: {reason}")
            # What AWS refuses to delete for a reason a reset can remove: non-empty buckets, policies on roles.
            for resource in failed:
                if resource.type == BUCKET_TYPE and resource.physical_id and resource.physical_id not in buckets:
                    buckets.append(resource.physical_id)
                elif resource.type == ROLE_TYPE and resource.physical_id:
                    self._strip_role(resource.physical_id)
        return ActionResult(item, Outcome.FAILED, f"{status}: {reason}", str(status))

    def _failed_resources(self, cfn: Any, stack: str) -> list[FailedResource]:
        rows = cfn.list_stack_resources(StackName=stack)["StackResourceSummaries"]
        return [
            FailedResource(
                r["LogicalResourceId"],
                r["ResourceType"],
                r.get("PhysicalResourceId", ""),
                r.get("ResourceStatusReason", ""),
            )
            for r in rows
            if r["ResourceStatus"] == "DELETE_FAILED"
        ]

    def _strip_role(self, role: str) -> None:
        """Remove the policies added to the stack's role by hand, which keep CloudFormation from deleting it."""
        iam = self.client("iam")
        try:
            for name in iam.list_role_policies(RoleName=role).get("PolicyNames", []):
                iam.delete_role_policy(RoleName=role, PolicyName=name)
            for policy in iam.list_attached_role_policies(RoleName=role).get("AttachedPolicies", []):
                iam.detach_role_policy(RoleName=role, PolicyArn=policy["PolicyArn"])
        except ClientError as exc:
            self.progress(f"could not clear the policies of role {role}: {error_code(exc)}")

    def _empty(self, bucket: str) -> int:
        try:
            count = empty_bucket(self.client("s3"), bucket)
        except ClientError as exc:
            if error_code(exc) in GONE_CODES:
                return 0
            raise
        if count:
            self.progress(f"emptied bucket {bucket} ({_plural(count, 'object version')})")
        return count

    # -- buckets and log groups ----------------------------------------------------------------
    def _bucket(self, item: PlanItem, emptied: int = 0, *, after_stack: bool = False) -> ActionResult:
        s3 = self.client("s3")
        removed = [emptied]

        def attempt() -> None:
            removed[0] += self._empty(item.name)
            s3.delete_bucket(Bucket=item.name)

        try:
            if after_stack:
                s3.head_bucket(Bucket=item.name)  # still there: the stack kept it
            retrying(attempt, deadline_s=self.retry_s)
        except ClientError as exc:
            if error_code(exc) in GONE_CODES:
                if after_stack:
                    detail = "with the stack" + (
                        f", after emptying {_plural(removed[0], 'object version')}" if removed[0] else ""
                    )
                    return ActionResult(item, Outcome.DELETED, detail)
                return ActionResult(item, Outcome.GONE)
            return _failure(item, exc)
        except Exception as exc:
            return _failure(item, exc)
        self.progress(f"deleted bucket {item.name}")
        detail = f"emptied {_plural(removed[0], 'object version')}" if removed[0] else "it was empty"
        if after_stack:
            detail = f"the stack kept it; {detail}"
        return ActionResult(item, Outcome.DELETED, detail)

    def _log_group(self, item: PlanItem, *, after_stack: bool = False) -> ActionResult:
        logs = self.client("logs")
        try:
            retrying(lambda: logs.delete_log_group(logGroupName=item.name), deadline_s=self.retry_s)
        except ClientError as exc:
            if error_code(exc) in GONE_CODES:
                if after_stack:
                    return ActionResult(item, Outcome.DELETED, "with the stack")
                return ActionResult(item, Outcome.GONE)
            return _failure(item, exc)
        self.progress(f"deleted log group {item.name}")
        return ActionResult(item, Outcome.DELETED, "the stack kept it" if after_stack else "")

    # -- AWS Config -----------------------------------------------------------------------------
    def _config(self, items: list[PlanItem]) -> list[ActionResult]:
        if not items:
            return []
        config = self.client("config")
        results: dict[PlanItem, ActionResult] = {}
        recorders = [i for i in items if i.kind is Kind.RECORDER]
        for item in recorders:  # stop first: nothing new is recorded or delivered while the rest goes
            try:
                config.stop_configuration_recorder(ConfigurationRecorderName=item.name)
                self.progress(f"stopped the Config recorder {item.name}")
            except ClientError as exc:
                if error_code(exc) not in GONE_CODES:
                    results[item] = _failure(item, exc)
        for item in items:
            if item.kind is Kind.CONFIG_RULE:
                results[item] = self._config_call(item, lambda name: self._delete_rule(config, name))
        for item in items:
            if item.kind is Kind.CHANNEL:
                results[item] = self._config_call(
                    item, lambda name: config.delete_delivery_channel(DeliveryChannelName=name)
                )
        for item in recorders:
            if item in results:
                continue  # could not stop it: leave it recording rather than half-removed
            results[item] = self._config_call(
                item, lambda name: config.delete_configuration_recorder(ConfigurationRecorderName=name)
            )
        return [results[item] for item in items]

    def _delete_rule(self, config: Any, name: str) -> None:
        def drop_remediation(exc: BaseException) -> None:
            # A rule with a remediation action is "in use" until the remediation goes.
            if error_code(exc) == "ResourceInUseException":
                with contextlib.suppress(ClientError):
                    config.delete_remediation_configuration(ConfigRuleName=name)

        retrying(
            lambda: config.delete_config_rule(ConfigRuleName=name),
            deadline_s=self.retry_s,
            before_retry=drop_remediation,
        )

    def _config_call(self, item: PlanItem, call: Callable[[str], Any]) -> ActionResult:
        try:
            retrying(lambda: call(item.name), deadline_s=self.retry_s)
        except ClientError as exc:
            if error_code(exc) in GONE_CODES:
                return ActionResult(item, Outcome.GONE)
            return _failure(item, exc)
        self.progress(f"deleted {item.kind} {item.name}")
        return ActionResult(item, Outcome.DELETED)
