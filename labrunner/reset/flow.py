"""One account's reset from start to proof: plan, (confirm elsewhere), execute, check again."""

from __future__ import annotations

import time
from collections.abc import Callable

from labrunner.context import Context
from labrunner.discovery import Catalogue
from labrunner.events import Listener
from labrunner.reset.execute import Executor
from labrunner.reset.model import ActionResult, Outcome, Plan, ResetResult
from labrunner.reset.plan import plan_reset
from labrunner.reset.proof import proof_check


def dry_run(plan: Plan) -> ResetResult:
    """The plan as a result: every deletion planned, nothing done."""
    actions = [ActionResult(item, Outcome.PLANNED) for item in plan.deletions]
    actions += [ActionResult(item, Outcome.KEPT) for item in plan.kept]
    return ResetResult(plan=plan, actions=tuple(actions), after=None, dry_run=True)


def execute_reset(
    ctx: Context,
    plan: Plan,
    catalogue: Catalogue,
    *,
    progress: Callable[[str], None] = lambda _msg: None,
    listener: Listener | None = None,
) -> ResetResult:
    """Remove what the plan deletes, then prove it with a read-only check of every step that reads the account."""
    started = time.perf_counter()
    actions = Executor(ctx, progress).run(plan)
    ctx.refresh()
    progress("checking every step (the proof that the account is back at the start)")
    after, free = proof_check(ctx, catalogue, listener)
    return ResetResult(
        plan=plan,
        actions=actions,
        after=after,
        account_free=tuple(sorted(free)),
        duration_s=round(time.perf_counter() - started, 3),
    )


def reset_account(
    ctx: Context, catalogue: Catalogue, *, progress: Callable[[str], None] = lambda _msg: None
) -> ResetResult:
    """Plan and execute without asking (callers confirm first)."""
    return execute_reset(ctx, plan_reset(ctx), catalogue, progress=progress)
