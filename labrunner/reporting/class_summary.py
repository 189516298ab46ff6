"""One class report's words: a student's outcome and the class's summary line (text, live board, HTML)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labrunner.classroom import ClassReport, StudentResult
    from labrunner.model import Report

NOT_RUN = ("·", "dim")
LEFT_OUT = ("○", "dim")  # not graded: a reset's proof leaves out steps that judge files only


def _counts(report: Report) -> str:
    s = report.summary
    parts = [f"{s['pass']} pass", f"{s['fail']} fail"]
    parts += [f"{s[k]} {k}" for k in ("pending", "error", "skipped") if s[k]]
    return ", ".join(parts)


def outcome(result: StudentResult, *, brief: bool = False) -> str:
    if result.error is not None:
        return f"ERROR {result.error}"
    if result.reset is not None:
        from labrunner.reset.render import verdict

        if result.reset.dry_run:
            plan = result.reset.plan
            return f"dry run: {len(plan.deletions)} to delete, {len(plan.kept)} kept"
        deleted = sum(a.outcome.value == "deleted" for a in result.reset.actions)
        state = "clean" if result.reset.clean else "NOT CLEAN"
        counts = f"{state}: {deleted} deleted, {len(result.reset.failures)} failed"
        if brief and result.reset.clean:
            return counts
        return f"{counts} — {verdict(result.reset)}"
    if result.report is not None:
        state = "FAIL" if result.report.exit_code else "ok"
        return f"{state}: {_counts(result.report)}"
    return "no result"


def summary_line(report: ClassReport) -> str:
    errors = sum(s.error is not None for s in report.students)
    failed = sum(s.failed and s.error is None for s in report.students)
    ok = len(report.students) - errors - failed
    verb = "reset --dry-run" if report.dry_run else report.command
    return (
        f"class {verb} of {len(report.students)} students: {ok} ok, {failed} failed, {errors} error "
        f"in {report.duration_s:.1f} s ({report.target})"
    )
