"""Class check/solve over several processes.

Grading is CPU-bound on the client (botocore builds and parses every request), and one Python
process uses one core however many threads it runs. Students are spread over spawned worker
processes, each grading a few at a time in threads; their progress comes back over a queue to the
parent's board, which stays the one place that shows and collects results.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labrunner import interrupt
from labrunner.events import Listener

if TYPE_CHECKING:
    from multiprocessing.queues import Queue

    from labrunner.classroom import ClassRun, StudentResult
    from labrunner.context import Settings
    from labrunner.model import StepResult
    from labrunner.roster import Student
    from labrunner.step import Step

PROCESSES_ENV = "LABRUNNER_CLASS_PROCESSES"
BOARD_EVENTS = frozenset({"phase", "identified", "steps_total", "step_running", "step_done"})


def process_count(jobs: int, students: int) -> int:
    """Worker processes for a class run: one per core (or $LABRUNNER_CLASS_PROCESSES), at most one per job."""
    raw = os.environ.get(PROCESSES_ENV, "")
    wanted = int(raw) if raw.isdigit() and int(raw) > 0 else (os.cpu_count() or 1)
    return max(1, min(wanted, jobs, students))


@dataclass(frozen=True)
class WorkerConfig:
    """Everything a worker needs to rebuild the parent's ClassRun (picklable)."""

    kind: str
    region: str | None
    local_port: int | None
    settings: Settings
    labs_dirs: tuple[Path, ...]
    mode: str
    step_ids: tuple[str, ...]
    threads: int


class _Events:
    """A worker's side of its event pipe. Sends are synchronous (no feeder thread), so whatever a
    worker reported before dying has reached the parent."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.lock = threading.Lock()

    def put(self, event: tuple[Any, ...]) -> None:
        with self.lock:
            self.connection.send(event)


class _RemoteListener(Listener):
    def __init__(self, events: _Events, name: str) -> None:
        self.events = events
        self.name = name

    def run_started(self, command: str, steps: list[Step]) -> None:
        self.events.put(("steps_total", self.name, len(steps)))

    def step_started(self, step: Step, phase: str) -> None:
        self.events.put(("step_running", self.name, step.id))

    def step_finished(self, result: StepResult) -> None:
        self.events.put(("step_done", self.name, result.id, result.status))


class _RemoteBoard:
    """The part of ClassBoard a grading job uses, forwarded to the parent's board."""

    def __init__(self, events: _Events) -> None:
        self.events = events
        self._accounts: dict[str, str] = {}

    def phase(self, name: str, text: str) -> None:
        self.events.put(("phase", name, text))

    def identified(self, name: str, account: str) -> None:
        self._accounts[name] = account
        self.events.put(("identified", name, account))

    def account_of(self, name: str) -> str | None:
        return self._accounts.get(name)

    def taken(self, student: Student) -> None:
        """A student this worker grades: the roster may already say its account (as the parent's board knows)."""
        if student.known_account:
            self._accounts.setdefault(student.name, student.known_account)

    def listener(self, name: str) -> Listener:
        return _RemoteListener(self.events, name)

    def finished(self, result: StudentResult) -> None:
        self.events.put(("finished", result.name, result))


def _worker(config: WorkerConfig, work: Queue[Any], connection: Connection) -> None:
    """A worker process: grade students taken from the work queue until it says stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the workers
    from labrunner.classroom import ClassRun
    from labrunner.discovery import load_catalogue

    catalogue = load_catalogue(list(config.labs_dirs))
    steps = catalogue.select(list(config.step_ids))
    board = _RemoteBoard(_Events(connection))
    run = ClassRun(
        kind=config.kind,
        region=config.region,
        local_port=config.local_port,
        settings=config.settings,
        catalogue=catalogue,
        board=board,  # type: ignore[arg-type]
        jobs=config.threads,
    )

    def loop() -> None:
        while (student := work.get()) is not None:
            board.taken(student)
            run.grade(student, config.mode, steps)

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(config.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _dispatch(run: ClassRun, event: tuple[Any, ...], results: dict[str, StudentResult]) -> None:
    """Replay one worker event on the parent's board (methods of the same names)."""
    kind, name, *values = event
    if kind == "finished":
        results[name] = values[0]
        run.board.finished(values[0])
    elif kind in BOARD_EVENTS:
        getattr(run.board, kind)(name, *values)


def grade_in_processes(
    run: ClassRun,
    students: Sequence[Student],
    mode: str,
    steps: Sequence[Step],
    *,
    labs_dirs: Sequence[Path],
    processes: int,
) -> list[StudentResult]:
    """Grade every student in `processes` spawned workers; results in roster order."""
    from labrunner.classroom import StudentResult

    context = multiprocessing.get_context("spawn")  # a clean interpreter: no inherited threads or locks
    work: Queue[Any] = context.Queue()
    config = WorkerConfig(
        kind=run.kind,
        region=run.region,
        local_port=run.local_port,
        settings=run.settings,
        labs_dirs=tuple(labs_dirs),
        mode=mode,
        step_ids=tuple(step.id for step in steps),
        threads=max(1, math.ceil(run.jobs / processes)),
    )
    for student in students:
        work.put(student)
    for _ in range(processes * config.threads):
        work.put(None)
    workers, readers = [], []
    results: dict[str, StudentResult] = {}
    try:
        with interrupt.children_ignore_sigint():  # a Ctrl-C in this instant is raised when it ends
            for _ in range(processes):
                reader, writer = context.Pipe(duplex=False)
                worker = context.Process(target=_worker, args=(config, work, writer), daemon=True)
                worker.start()
                writer.close()  # the worker holds the only writing end: its exit is our end of file
                workers.append(worker)
                readers.append(reader)
        while len(results) < len(students) and readers:
            for ready in wait(readers, timeout=1.0):
                assert isinstance(ready, Connection)
                try:
                    event = ready.recv()
                except EOFError:  # that worker is gone; what it had in hand will not come
                    readers.remove(ready)
                    continue
                _dispatch(run, event, results)
    except BaseException:
        work.cancel_join_thread()  # its feeder thread may block on a full pipe nobody reads any more
        for worker in workers:
            worker.terminate()
        raise
    finally:
        for worker in workers:
            worker.join(timeout=5)
    for student in students:
        if student.name not in results:
            lost = StudentResult(
                student.name,
                run.board.account_of(student.name),
                error="the worker process grading this student stopped unexpectedly",
            )
            run.board.finished(lost)
            results[student.name] = lost
    return [results[student.name] for student in students]


def grade_students(
    run: ClassRun, students: Sequence[Student], mode: str, steps: list[Step], *, labs_dirs: list[Path]
) -> list[StudentResult]:
    """Check or solve every student, `run.jobs` at a time: in worker processes when there are cores to
    spread over, else in threads. Results in roster order."""
    processes = process_count(run.jobs, len(students))
    if processes > 1:
        return grade_in_processes(run, students, mode, steps, labs_dirs=labs_dirs, processes=processes)
    return run.map(students, lambda student: run.grade(student, mode, steps))
