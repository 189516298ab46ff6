"""How `check --watch` shows itself: a live view updated in place on a terminal, else one line per
status change (`12:04:31 lab2.access-logging: fail → pass`) on stdout, remarks on stderr."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from labrunner.model import Status, StepResult
from labrunner.reporting.text import STYLE
from labrunner.watch import Change, RoundEnd

if TYPE_CHECKING:
    from labrunner.step import Step

RECENT = 5  # changes listed under the live table
FRESH_S = 10.0  # a row that changed this recently is highlighted


def change_line(change: Change) -> str:
    """`12:04:31 lab2.access-logging: fail → pass` (the first round: `12:04:00 lab2.encryption: pass`)."""
    when = change.at.strftime("%H:%M:%S")
    if change.before is None:
        return f"{when} {change.step.id}: {change.after.value}"
    return f"{when} {change.step.id}: {change.before.value} → {change.after.value}"


def _fmt_s(seconds: float) -> str:
    return f"{seconds:g} s" if seconds < 100 else f"{seconds:.0f} s"


def _one_line(text: str, width: int, style: str) -> Text:
    line = Text(" ".join(text.split()), style=style, no_wrap=True)
    line.truncate(width, overflow="ellipsis")
    return line


def interval_remark(end: RoundEnd) -> str | None:
    if end.interval_s > end.previous_interval_s:
        return f"AWS throttled {end.throttled} request(s): checking every {_fmt_s(end.interval_s)} now"
    if end.interval_s < end.previous_interval_s:
        return f"no throttling in the last check: checking every {_fmt_s(end.interval_s)} now"
    return None


class PlainWatchView:
    """Not a terminal (a log, a pipe, CI): a line per status change, flushed at once."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out = out
        self.err = err
        self.rounds = 0
        self.changes = 0
        self._said_skip = False
        self._lock = threading.Lock()

    def _remark(self, message: str) -> None:
        with self._lock:
            print(f"labrunner: {message}", file=self.err, flush=True)

    def round_started(self, number: int) -> None:
        self.rounds = number

    def step_finished(self, result: StepResult) -> None:
        pass

    def changed(self, change: Change) -> None:
        with self._lock:
            self.changes += change.before is not None
            print(change_line(change), file=self.out, flush=True)

    def round_finished(self, end: RoundEnd) -> None:
        if end.report is None:
            self._remark(f"check {end.number} could not run: {end.message}; trying again in {_fmt_s(end.interval_s)}")
        remark = interval_remark(end)
        if remark:
            self._remark(remark)

    def round_skipped(self, number: int, running_s: float) -> None:
        if not self._said_skip:  # once: it stays true while checks are this slow
            self._said_skip = True
            self._remark(
                f"check {number} still runs after {running_s:.1f} s, longer than the interval: "
                "a round is skipped while the previous one runs"
            )

    def next_round_at(self, monotonic_at: float) -> None:
        pass

    def stop(self) -> None:
        self._remark(f"stopped watching after {self.rounds} check(s), {self.changes} change(s)")


class LiveWatchView:
    """A terminal: the steps with their statuses, updated in place, and what just changed."""

    def __init__(self, console: Console, steps: Sequence[Step], heading: str) -> None:
        self.console = console
        self.steps = list(steps)
        self.heading = heading
        self._results: dict[str, StepResult] = {}
        self._since: dict[str, tuple[datetime, float]] = {}  # when the status last changed
        self._recent: list[Change] = []
        self._round = 0
        self._checking = False
        self._next_at: float | None = None
        self._remark = ""
        self._lock = threading.RLock()
        self._live = Live(get_renderable=self._render, console=console, refresh_per_second=4, transient=True)
        self._live.start()

    # -- events ---------------------------------------------------------------------------------------
    def round_started(self, number: int) -> None:
        with self._lock:
            self._round, self._checking = number, True

    def step_finished(self, result: StepResult) -> None:
        with self._lock:
            self._results[result.id] = result

    def changed(self, change: Change) -> None:
        with self._lock:
            self._since[change.step.id] = (change.at, time.monotonic())
            if change.before is not None:
                same_round = sum(1 for c in self._recent if c.at == change.at)  # newest round first, in order
                self._recent.insert(same_round, change)
                del self._recent[max(RECENT, same_round + 1) :]
        self._live.refresh()

    def round_finished(self, end: RoundEnd) -> None:
        with self._lock:
            self._checking = False
            if end.report is None:
                self._remark = f"check {end.number} could not run: {end.message}"
            else:
                self._remark = interval_remark(end) or ""
        self._live.refresh()

    def round_skipped(self, number: int, running_s: float) -> None:
        with self._lock:
            self._remark = f"check {number} still runs ({running_s:.1f} s): this round is skipped"

    def next_round_at(self, monotonic_at: float) -> None:
        with self._lock:
            self._next_at = monotonic_at

    def stop(self) -> None:
        self._live.stop()
        with self._lock:
            self.console.print(self._table(final=True))
            self.console.print(f"stopped watching after {self._round} check(s)", style="dim", highlight=False)

    # -- rendering ------------------------------------------------------------------------------------
    def _status_line(self) -> Text:
        line = Text(f"check {self._round}: ", style="bold")
        if self._checking:
            line.append("checking…", style="cyan")
        elif self._next_at is not None:
            line.append(f"next check in {max(0.0, self._next_at - time.monotonic()):.0f} s", style="cyan")
        if self._remark:
            line.append(f"   {self._remark}", style="yellow")
        return line

    def _table(self, *, final: bool = False) -> Table:
        # One line a step, so that the view fits the screen: title and hint cut to the width left.
        id_w = max((len(step.id) for step in self.steps), default=4)
        title_w = min(40, max((len(step.title) for step in self.steps), default=5))
        hint_w = max(12, self.console.width - (7 + id_w + title_w + 8) - 4 * 3)
        table = Table(expand=False, show_edge=False, pad_edge=False)
        table.add_column("status", width=7)
        table.add_column("step", width=id_w)
        table.add_column("title", width=title_w)
        table.add_column("since", width=8)
        table.add_column("what to do", width=hint_w)
        now = time.monotonic()
        for step in self.steps:
            result = self._results.get(step.id)
            since = self._since.get(step.id)
            fresh = not final and since is not None and now - since[1] < FRESH_S and self._recent_has(step.id)
            status = Text(result.status.value, style=STYLE[result.status]) if result else Text("…", style="dim")
            hint = result.hint if result and result.status is not Status.PASS else ""
            table.add_row(
                status,
                Text(step.id, style="reverse bold" if fresh else ""),
                _one_line(step.title, title_w, "dim"),
                Text(since[0].strftime("%H:%M:%S") if since else "", style="dim"),
                _one_line(hint, hint_w, "dim"),
            )
        return table

    def _recent_has(self, step_id: str) -> bool:
        return any(change.step.id == step_id for change in self._recent)

    def _render(self) -> Group:
        with self._lock:
            parts: list[Text | Table] = [Text(self.heading, style="bold"), self._status_line()]
            latest = [c for c in self._recent if c.at == self._recent[0].at] if self._recent else []
            if latest:
                line = Text("just changed: ", style="bold")
                for index, change in enumerate(latest):
                    style = "bold green" if change.after is Status.PASS else "bold red"
                    line.append(("; " if index else "") + change_line(change), style=style)
                parts.append(line)
            parts.append(self._table())
            earlier = self._recent[len(latest) :]
            if earlier:
                parts.append(Text("earlier: " + "; ".join(change_line(c) for c in earlier), style="dim"))
            return Group(*parts)
