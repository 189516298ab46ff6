"""The step-plugin contract: a lab is an ordered list of steps; a step can apply and verify."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from labrunner.context import Context
    from labrunner.model import Check


@dataclass(frozen=True)
class Poll:
    """How long `solve` keeps re-verifying after apply while AWS catches up (IAM propagation,
    log delivery, Config evaluation). `deadline_s` 0 means verify once."""

    deadline_s: float = 0.0
    interval_s: float = 1.0


class Step:
    """One gradable step of a lab. Subclasses set the class attributes and implement verify.

    `apply` performs the lab's console actions through boto3; it reads state first and returns
    True only when it changed something (so a second solve reports no change). `verify` only
    observes: it receives a read-only context whose clients refuse any write.
    """

    id: ClassVar[str]
    title: ClassVar[str]
    controls: ClassVar[tuple[str, ...]] = ()
    requires: ClassVar[tuple[str, ...]] = ()
    # Facts of the workload verify reads (names in labrunner.aws.prefetch.FACTS): a check run starts
    # reading them at once, so the step finds them in the run's read cache.
    prefetch: ClassVar[tuple[str, ...]] = ()
    why: ClassVar[str] = ""  # what the step checks and why it matters
    console: ClassVar[str] = ""  # how to do it by hand in the AWS console
    automation: ClassVar[str] = ""  # what `labrunner solve` does for it
    hint: ClassVar[str] = ""  # the step-level hint when it is not met
    poll: ClassVar[Poll] = Poll()

    @property
    def lab(self) -> str:
        return self.id.split(".", 1)[0]

    def apply(self, ctx: Context) -> bool:
        """Do the step (idempotent). Returns whether anything changed."""
        return False

    def verify(self, ctx: Context) -> Iterable[Check]:
        raise NotImplementedError


@dataclass(frozen=True)
class Lab:
    """A lab module exposes one of these as `LAB`."""

    id: str
    title: str
    order: int
    steps: tuple[Step, ...]
    summary: str = ""
