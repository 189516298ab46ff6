"""What a reset plans and what it did: frozen dataclasses, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from labrunner.model import Report, Status

RESET_SCHEMA = "labrunner.reset/v1"
# Lab 4's Config setup (recorder, delivery channel and bucket, rules, demo bucket) is the account's,
# shared by every lab stack in it (SPEC §7): its steps may pass while another stack remains.
SHARED_LAB = "lab4."


class Kind(StrEnum):
    """The kinds of thing a reset removes, in the order it removes them."""

    STACK = "stack"
    RECORDER = "config recorder"
    CONFIG_RULE = "config rule"
    CHANNEL = "delivery channel"
    BUCKET = "s3 bucket"
    LOG_GROUP = "log group"


# A step that judges one kind of thing which reset keeps when it is not the lab's: an AWS Control Tower or
# organisation recorder was in the account before the lab (AWS allows one per region), so a pass that
# rests on it is the account's starting state, not something the lab left behind.
KEPT_EVIDENCE: dict[str, Kind] = {"lab4.recorder": Kind.RECORDER}


class Outcome(StrEnum):
    DELETED = "deleted"
    GONE = "already gone"  # it vanished between plan and action: nothing left to do
    FAILED = "failed"
    KEPT = "kept"  # seen, judged not the lab's
    PLANNED = "planned"  # dry run


@dataclass(frozen=True)
class PlanItem:
    """One thing the reset looked at: what it is, why it is (or is not) the lab's, what happens to it."""

    kind: Kind
    name: str
    why: str
    delete: bool = True
    in_stack: bool = False  # a bucket of the stack: emptied before the stack is deleted
    log_target: bool = False  # other buckets log into it: deleted after them
    stack_id: str = ""  # for the stack: its id (names are reused, ids are not)
    owner: str = ""  # the stack it belongs to; "" for what the account's lab stacks share (Config)

    @property
    def action(self) -> str:
        if not self.delete:
            return "keep"
        if self.kind is Kind.STACK:
            return "delete, wait"
        if self.kind is Kind.BUCKET:
            return "empty, delete with the stack" if self.in_stack else "empty, delete"
        if self.kind is Kind.RECORDER:
            return "stop, delete"
        return "delete"


@dataclass(frozen=True)
class Plan:
    target: str
    account: str
    region: str
    stack: str
    items: tuple[PlanItem, ...]
    shared_with: tuple[str, ...] = ()  # other lab stacks in the account and region: shared pieces stay

    @property
    def deletions(self) -> tuple[PlanItem, ...]:
        return tuple(item for item in self.items if item.delete)

    @property
    def kept(self) -> tuple[PlanItem, ...]:
        return tuple(item for item in self.items if not item.delete)


@dataclass(frozen=True)
class ActionResult:
    item: PlanItem
    outcome: Outcome
    detail: str = ""
    code: str = ""  # the AWS error code of a failure


@dataclass(frozen=True)
class ResetResult:
    """A whole reset of one account: the plan, what each action did, and the check afterwards."""

    plan: Plan
    actions: tuple[ActionResult, ...]
    after: Report | None  # `check` of every step that reads the account, after the reset (None: dry run)
    dry_run: bool = False
    account_free: tuple[str, ...] = ()  # steps that judge files, not the account: left out of the proof
    duration_s: float = 0.0

    @property
    def failures(self) -> tuple[ActionResult, ...]:
        return tuple(a for a in self.actions if a.outcome is Outcome.FAILED)

    @property
    def passing(self) -> tuple[str, ...]:
        """Steps that still pass after the reset: lab state left behind (or never the lab's)."""
        if self.after is None:
            return ()
        return tuple(
            step.id
            for step in self.after.steps
            if step.status is Status.PASS
            and not (self.plan.shared_with and step.id.startswith(SHARED_LAB))
            and step.id not in self.kept_passing
        )

    @property
    def kept_passing(self) -> tuple[str, ...]:
        """Steps that pass on what reset kept as not the lab's (Control Tower's recorder): no leftover."""
        if self.after is None:
            return ()
        kept = {item.kind for item in self.plan.kept}
        return tuple(
            step.id for step in self.after.steps if step.status is Status.PASS and KEPT_EVIDENCE.get(step.id) in kept
        )

    @property
    def shared_passing(self) -> tuple[str, ...]:
        """Steps that pass on what the account's other lab stacks still share (Config): no leftover."""
        if self.after is None or not self.plan.shared_with:
            return ()
        return tuple(s.id for s in self.after.steps if s.status is Status.PASS and s.id.startswith(SHARED_LAB))

    @property
    def clean(self) -> bool:
        """Back at the start: every deletion worked and no step passes any more, but on what was kept."""
        return not self.dry_run and not self.failures and not self.passing

    @property
    def exit_code(self) -> int:
        if self.dry_run:
            return 0
        return 0 if self.clean else 1
