"""`labrunner reset [--dry-run] [--yes]`: plan, confirm (aws target), execute, prove (SPEC §7)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from rich.console import Console

from labrunner.aws.errors import error_code, operation_of
from labrunner.errors import TargetError, UsageError
from labrunner.reset import render
from labrunner.reset.confirm import confirm_typed
from labrunner.reset.flow import dry_run, execute_reset
from labrunner.reset.model import Plan, ResetResult
from labrunner.reset.plan import plan_reset

if TYPE_CHECKING:
    from labrunner.context import Context
    from labrunner.options import Options


class ResetView:
    """Where a reset talks while it runs: a rich view on a terminal, plain lines otherwise, or nothing."""

    def __init__(self, console: Console | None) -> None:
        self.console = console
        self.rich = console is not None and console.is_terminal
        self._status: Any = None

    def show_plan(self, plan: Plan) -> None:
        if self.console is None:
            return
        if self.rich:
            self.console.print(render.plan_table(plan))
        else:
            for line in render.plan_lines(plan):
                self.console.print(line, highlight=False, markup=False)

    def working(self, message: str) -> AbstractContextManager[Any]:
        if self.console is None or not self.rich:
            return nullcontext()
        self._status = self.console.status(message)
        return self._status  # type: ignore[no-any-return]

    def progress(self, message: str) -> None:
        if self.console is None:
            return
        if self.rich and self._status is not None:
            self._status.update(message)
        elif not self.rich:
            self.console.print(f"  · {message}", highlight=False, markup=False)

    def show_result(self, result: ResetResult) -> None:
        if self.console is None:
            return
        if self.rich:
            if not result.dry_run:
                self.console.print(render.results_table(result))
            style = "green" if result.clean or result.dry_run else "bold red"
            self.console.print(render.summary_line(result), style=style, highlight=False, markup=False)
            return
        for line in render.result_lines(result):
            self.console.print(line, highlight=False, markup=False)
        self.console.print("")
        self.console.print(render.summary_line(result), highlight=False, markup=False)


def _view(fmt: str, output: Any) -> ResetView:
    if fmt != "text" and output is None:
        return ResetView(None)  # stdout carries the report itself
    console = Console(highlight=False)
    return ResetView(console if console.is_terminal else Console(highlight=False, soft_wrap=True))


def run_reset_command(options: Options, open_context: Callable[[Options], Context]) -> int:
    from labrunner.options import check_output_path, load_catalogue

    fmt = getattr(options, "format", None) or "text"
    output = getattr(options, "output", None)
    check_output_path(options)
    catalogue = load_catalogue(options)
    ctx = open_context(options)
    view = _view(fmt, output)
    with view.working(f"finding what the lab made in account {ctx.account_id}"):
        try:
            plan = plan_reset(ctx)
        except ClientError as exc:  # e.g. no permission to list what reset must look at
            raise TargetError(
                f"cannot find what the lab made in account {ctx.account_id}: {error_code(exc)} calling "
                f"{operation_of(exc)}"
            ) from exc
    view.show_plan(plan)
    if options.dry_run:
        result = dry_run(plan)
    else:
        if plan.deletions and ctx.kind == "aws" and not options.yes:
            if view.console is None:  # the plan went nowhere yet: show it before asking
                for line in render.plan_lines(plan):
                    print(line, file=sys.stderr)
            confirm_typed(ctx.account_id, f"AWS account {ctx.account_id} ({ctx.region})")
        with view.working("resetting"):
            result = execute_reset(ctx, plan, catalogue, progress=view.progress)
    view.show_result(result)
    text = render.render(result, fmt)
    if output is not None:
        try:
            output.write_text(text)
        except OSError as exc:
            raise UsageError(f"cannot write {output}: {exc.strerror}") from exc
    elif fmt != "text":
        sys.stdout.write(text)
    return result.exit_code
