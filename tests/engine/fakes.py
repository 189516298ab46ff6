"""Steps that need no AWS, to test the engine's own behaviour."""

from __future__ import annotations

from collections.abc import Iterable

import boto3

from labrunner.aws.session import Identity, OpenTarget
from labrunner.context import Context, Settings
from labrunner.discovery import Catalogue
from labrunner.model import Check
from labrunner.step import Lab, Poll, Step


def offline_context(wait_scale: float = 1.0) -> Context:
    target = OpenTarget(
        kind="local",
        session=boto3.Session(aws_access_key_id="AKIAFAKE", aws_secret_access_key="fake", region_name="us-east-1"),
        region="us-east-1",
        endpoint_url="http://127.0.0.1:9",  # discard port: nothing must be sent
        identity=Identity(account="111122223333", arn="arn:aws:iam::111122223333:user/tester"),
    )
    return Context(target, Settings(wait_scale=wait_scale))


class Passing(Step):
    id = "demo.passing"
    title = "Always met"
    controls = ("AC-6",)

    def verify(self, ctx: Context) -> Iterable[Check]:
        yield Check.ok("fine", "all good")


class Failing(Step):
    id = "demo.failing"
    title = "Never met"
    controls = ("SC-28",)

    def verify(self, ctx: Context) -> Iterable[Check]:
        yield Check.ok("first", "this part is fine")
        yield Check.fail("second", "this part is not", "click the thing")


class Waiting(Step):
    id = "demo.waiting"
    title = "Delivered later"

    def verify(self, ctx: Context) -> Iterable[Check]:
        yield Check.waiting("delivery", "not there yet", "wait")


class Crashing(Step):
    id = "demo.crashing"
    title = "Checker bug"

    def verify(self, ctx: Context) -> Iterable[Check]:
        raise ZeroDivisionError("boom")


class NeedsFailing(Step):
    id = "demo.needs-failing"
    title = "Depends on a failing step"
    requires = ("demo.failing",)

    def verify(self, ctx: Context) -> Iterable[Check]:
        yield Check.ok("unreachable", "should be skipped")


class NeedsPassing(Step):
    id = "demo.needs-passing"
    title = "Depends on a passing step"
    requires = ("demo.passing",)

    def verify(self, ctx: Context) -> Iterable[Check]:
        yield Check.ok("reached", "ran after its prerequisite")


class Counter(Step):
    """Apply is idempotent: it changes the state once; verify passes once applied."""

    id = "demo.counter"
    title = "Applied once"
    poll = Poll(deadline_s=5, interval_s=0.01)

    def __init__(self) -> None:
        self.applied = 0
        self.verifies = 0

    def apply(self, ctx: Context) -> bool:
        if self.applied:
            return False
        self.applied += 1
        return True

    def verify(self, ctx: Context) -> Iterable[Check]:
        self.verifies += 1
        # Eventually consistent: the change shows on the third look.
        if self.applied and self.verifies >= 3:
            yield Check.ok("applied", "seen")
        else:
            yield Check.fail("applied", "not yet visible", "run solve")


class Writer(Step):
    id = "demo.writer"
    title = "A buggy verify that writes"

    def verify(self, ctx: Context) -> Iterable[Check]:
        ctx.client("s3").put_object(Bucket="b", Key="k", Body=b"x")
        yield Check.ok("never", "unreachable")


def demo_catalogue(*steps: Step) -> Catalogue:
    return Catalogue([Lab(id="demo", title="Demo lab", order=99, steps=tuple(steps))])
