"""The proof after a reset: `check` of every step that reads the account.

Some steps judge files, not the account (extra.template-secure audits the hardened template on
disk): a reset cannot change them, so they are no evidence either way. They are found, not
listed: a step whose verify completes without reading the account's state (it may still call
stateless APIs such as IAM's SimulateCustomPolicy, and read AWS managed policies) is one of them.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from labrunner.aws.session import ClientFactory, OpenTarget
from labrunner.context import Context
from labrunner.discovery import Catalogue
from labrunner.events import Listener
from labrunner.model import Report
from labrunner.runner import Runner
from labrunner.step import Step

PROOF_JOBS = 8
# Calls that read nothing of the account's state: they evaluate only what the request carries.
STATELESS_OPERATIONS = frozenset(
    {"SimulateCustomPolicy", "GetContextKeysForCustomPolicy", "ValidateTemplate", "GetCallerIdentity", "ValidatePolicy"}
)


class NoAccount(RuntimeError):
    """A probe's verify tried to read the account: the step depends on it."""


def _aws_managed(params: Any) -> bool:
    """A read of an AWS managed policy: the same in every account."""
    arn = params.get("PolicyArn", "") if isinstance(params, dict) else ""
    return re.match(r"arn:[a-z-]+:iam::aws:policy/", str(arn)) is not None


class _RefusingClients(ClientFactory):
    """Clients that refuse every call and count the attempts."""

    def __init__(self, target: OpenTarget) -> None:
        super().__init__(target.session, target.region, target.endpoint_url, read_only=True)
        self.attempts = 0
        self._hooked: set[int] = set()

    def _refuse(self, model: Any, params: Any = None, **_: Any) -> None:
        if model.name in STATELESS_OPERATIONS or _aws_managed(params):
            return
        self.attempts += 1
        raise NoAccount(f"{model.name}: the probe does not read the account")

    def client(self, service: str, region: str | None = None) -> Any:
        client = super().client(service, region)
        if id(client) not in self._hooked:
            client.meta.events.register("before-parameter-build", self._refuse)
            self._hooked.add(id(client))
        return client


class AccountFreeSteps:
    """Which steps never read the account, worked out once and shared (by a whole class)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[tuple[str, type[Step]], bool] = {}

    def find(self, ctx: Context, catalogue: Catalogue, steps: list[Step]) -> frozenset[str]:
        with self._lock:
            for step in steps:
                key = (step.id, type(step))  # a property of the step's code, not of an account
                if key not in self._known:
                    self._known[key] = _reads_nothing(ctx, catalogue, step)
            return frozenset(step.id for step in steps if self._known[(step.id, type(step))])


# One per process: a class reset, or a test session, works it out once.
ACCOUNT_FREE = AccountFreeSteps()


def _reads_nothing(ctx: Context, catalogue: Catalogue, step: Step) -> bool:
    if step.requires:
        return False  # it needs other steps to pass first: those read the account
    clients = _RefusingClients(ctx.target)
    probe = Context(ctx.target, ctx.settings, read_only=True, _clients=clients)
    Runner(probe, catalogue, jobs=1).check([step])
    return clients.attempts == 0


def proof_check(ctx: Context, catalogue: Catalogue, listener: Listener | None = None) -> tuple[Report, frozenset[str]]:
    """Check every step that reads the account (read-only); also say which steps were left out."""
    steps = list(catalogue.steps)
    free = ACCOUNT_FREE.find(ctx, catalogue, steps)
    reading = [step for step in steps if step.id not in free]
    report = Runner(ctx.read_only_twin(), catalogue, listener, jobs=PROOF_JOBS).check(reading)
    return report, free
