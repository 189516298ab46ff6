"""What a step works with: clients for the target, the workload's stack, a place for notes.

Passed in, never imported: tests build one against the local server.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from labrunner.aws.read_cache import ReadCache
from labrunner.aws.session import ClientFactory, OpenTarget
from labrunner.aws.stack import StackInfo, StackMissing, Workload, describe_stack

if TYPE_CHECKING:
    from labrunner.model import Check
    from labrunner.step import Step


@dataclass(frozen=True)
class Settings:
    stack_name: str = "immersion"
    wait_scale: float = 1.0  # multiplies every polling deadline (slow accounts, fault injection)


class StepSink:
    """Collects what one step says while it runs (notes for the user, data for the report)."""

    def __init__(self, on_note: Callable[[str], None] = lambda _msg: None) -> None:
        self.notes: list[str] = []
        self.data: dict[str, Any] = {}
        self._on_note = on_note

    def note(self, message: str) -> None:
        self.notes.append(message)
        self._on_note(message)


@dataclass
class _Shared:
    """State shared by a context and its read-only twin and step scopes."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    stack: StackInfo | None = None
    stack_loaded: bool = False
    memory: dict[str, Any] = field(default_factory=dict)
    read_only_clients: ClientFactory | None = None  # one read-only factory: steps share clients and connections


@dataclass
class _Verdict:
    done: threading.Event = field(default_factory=threading.Event)
    checks: tuple[Check, ...] = ()
    error: Exception | None = None
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


class _Verdicts:
    """Each step's verify runs once per check run; a second caller (extra.stack-secure re-uses the
    lab 2-3 verdicts) gets the same checks, and the notes and data the step gave."""

    def __init__(self) -> None:
        self._entries: dict[str, _Verdict] = {}
        self._lock = threading.Lock()

    def of(self, step: Step, ctx: Context) -> tuple[Check, ...]:
        with self._lock:
            entry = self._entries.get(step.id)
            owner = entry is None
            if entry is None:
                entry = self._entries[step.id] = _Verdict()
        if owner:
            sink = StepSink(ctx.note)  # the first caller sees the notes live
            try:
                entry.checks = tuple(step.verify(ctx.scoped(sink)))
            except Exception as exc:
                entry.error = exc
            finally:
                entry.notes, entry.data = sink.notes, sink.data
                entry.done.set()
        else:
            entry.done.wait()
            for message in entry.notes:
                ctx.note(message)
        for key, value in entry.data.items():
            ctx.emit(key, value)
        if entry.error is not None:
            raise entry.error
        return entry.checks


def _prefetch_template(cfn: Any) -> Callable[[str], object]:
    """Start reading the deployed template in the background (the stack's readers do not wait for it)."""

    def fetch(stack_id: str) -> None:
        try:
            cfn.get_template(StackName=stack_id, TemplateStage="Original")
        except Exception:
            return

    def start(stack_id: str) -> None:
        threading.Thread(target=fetch, args=(stack_id,), name="prefetch-template", daemon=True).start()

    return start


class Context:
    def __init__(
        self,
        target: OpenTarget,
        settings: Settings,
        *,
        read_only: bool = False,
        _clients: ClientFactory | None = None,
        _shared: _Shared | None = None,
        _sink: StepSink | None = None,
        _verdicts: _Verdicts | None = None,
    ) -> None:
        self.target = target
        self.settings = settings
        self.read_only = read_only
        self._clients = _clients or target.clients(read_only=read_only)
        self._shared = _shared or _Shared()
        self._sink = _sink or StepSink()
        self._verdicts = _verdicts

    # -- identity -------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return self.target.kind

    @property
    def region(self) -> str:
        return self.target.region

    @property
    def account_id(self) -> str:
        return self.target.identity.account

    @property
    def stack_name(self) -> str:
        return self.settings.stack_name

    @property
    def suffix(self) -> str:
        """Unique per account and region, for globally named things (bucket names)."""
        digest = hashlib.sha256(f"{self.account_id}/{self.region}".encode()).hexdigest()[:8]
        return f"{self.account_id}-{digest}"

    # -- clients --------------------------------------------------------------------------
    def client(self, service: str, region: str | None = None) -> Any:
        return self._clients.client(service, region)

    def read_only_twin(self) -> Context:
        if self.read_only:
            clients = self._clients
        else:
            with self._shared.lock:
                if self._shared.read_only_clients is None:
                    self._shared.read_only_clients = self._clients.twin(read_only=True)
                clients = self._shared.read_only_clients
        return Context(
            self.target,
            self.settings,
            read_only=True,
            _clients=clients,
            _shared=self._shared,
            _sink=self._sink,
            _verdicts=self._verdicts,
        )

    def check_run(self) -> Context:
        """A read-only context for one check run, which observes the account once: each step's
        verdict is computed once (see verify_step), and identical reads go to AWS once. Clients a
        caller gave a read-only context (e.g. a probe's refusing ones) are kept as they are."""
        made_here = not self.read_only or self._clients is self._shared.read_only_clients
        clients = self._clients.twin(read_only=True, read_cache=ReadCache()) if made_here else self._clients
        return Context(
            self.target,
            self.settings,
            read_only=True,
            _clients=clients,
            _shared=self._shared,
            _sink=self._sink,
            _verdicts=_Verdicts(),
        )

    def scoped(self, sink: StepSink) -> Context:
        """The same context, with notes and data going to one step's sink."""
        return Context(
            self.target,
            self.settings,
            read_only=self.read_only,
            _clients=self._clients,
            _shared=self._shared,
            _sink=sink,
            _verdicts=self._verdicts,
        )

    # -- the workload ---------------------------------------------------------------------
    def find_stack(self) -> StackInfo | None:
        with self._shared.lock:
            if not self._shared.stack_loaded:
                cfn = self.client("cloudformation")
                # A check run reads the deployed template (setup.stack, extra): ask for it while the
                # resources are listed; the run's read cache hands the answer to the step that asks.
                alongside = _prefetch_template(cfn) if self._clients.read_cache is not None else None
                self._shared.stack = describe_stack(cfn, self.stack_name, alongside=alongside)
                self._shared.stack_loaded = True
            return self._shared.stack

    def stack(self) -> StackInfo:
        info = self.find_stack()
        if info is None:
            raise StackMissing(self.stack_name)
        return info

    def workload(self) -> Workload:
        return Workload(stack=self.stack(), region=self.region, account=self.account_id)

    @property
    def memory(self) -> dict[str, Any]:
        """What this run has learnt first-hand (e.g. when an earlier step changed a policy), shared
        by every step of the run; AWS's own records of it may lag (CloudTrail lists events later)."""
        return self._shared.memory

    def refresh(self) -> None:
        """Forget cached observations (after an apply changed the account)."""
        with self._shared.lock:
            self._shared.stack = None
            self._shared.stack_loaded = False

    def verify_step(self, step: Step) -> tuple[Check, ...]:
        """`step.verify` on this context; in a check run, computed once for every caller."""
        if self._verdicts is None:
            return tuple(step.verify(self))
        return self._verdicts.of(step, self)

    # -- talking back ---------------------------------------------------------------------
    def note(self, message: str) -> None:
        """A progress line for the user (shown live, kept in the report)."""
        self._sink.note(message)

    def emit(self, key: str, value: Any) -> None:
        """Structured data for the report (e.g. the asset inventory)."""
        self._sink.data[key] = value
