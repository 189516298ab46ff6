"""What the runner tells its listeners (reporters) while it works."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labrunner.model import Report, StepResult
    from labrunner.step import Step


class Listener:
    """Override what you need; the runner calls these from worker threads too."""

    def run_started(self, command: str, steps: list[Step]) -> None:
        pass

    def step_started(self, step: Step, phase: str) -> None:
        pass

    def step_note(self, step: Step, message: str) -> None:
        pass

    def step_finished(self, result: StepResult) -> None:
        pass

    def run_finished(self, report: Report) -> None:
        pass
