"""The workload's facts, read at the start of a check run: every step that reads them then finds the
answers in the run's read cache (labrunner/aws/read_cache.py) instead of waiting for its turn.

A step names the facts it reads (`Step.prefetch`); the runner starts those reads at once, before the
stack's own step has passed and before the step has a worker. Reads here go through the same helpers
the steps use, so the requests are identical and the cache matches them. A prefetch never decides
anything: its errors are dropped (the step that reads the fact asks again and judges the answer).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from labrunner.aws import lab_buckets as made
from labrunner.aws import s3 as s3_settings
from labrunner.aws.config import bucket_view, config_rules, delivery_channels, describe_recorder
from labrunner.aws.fan_out import together
from labrunner.aws.iam.roles import read_role

if TYPE_CHECKING:
    from labrunner.context import Context


def _role(ctx: Context) -> None:
    read_role(ctx.client("iam"), ctx.workload().role)


def _buckets(ctx: Context) -> None:
    s3, bucket = ctx.client("s3"), ctx.workload().bucket
    s3_settings.bucket_exists(s3, bucket)
    view = bucket_view(s3, bucket)
    if view.log_target and view.log_target != bucket:
        s3_settings.bucket_exists(s3, view.log_target)
        bucket_view(s3, view.log_target)
        s3_settings.public_access_block(s3, view.log_target)


def _config(ctx: Context) -> None:
    config = ctx.client("config")
    together(lambda: config_rules(config), lambda: describe_recorder(config), lambda: delivery_channels(config))


def _demo_bucket(ctx: Context) -> None:
    s3 = ctx.client("s3")
    demo = made.find(s3, made.DEMO, ctx, any_ending=True)
    if demo is not None:
        together(lambda: s3_settings.bucket_exists(s3, demo), lambda: bucket_view(s3, demo))


FACTS: dict[str, Callable[[Context], None]] = {
    "role": _role,  # the Lambda function's role and its policies
    "buckets": _buckets,  # the upload bucket's settings and its log bucket's
    "config": _config,  # AWS Config's recorder, delivery channels and rules
    "demo-bucket": _demo_bucket,  # lab 4's demo bucket (found by its tags) and its settings
}


class Prefetch:
    """Reads started in the background for one check run; `wait` joins them (errors dropped)."""

    def __init__(self, ctx: Context, facts: Iterable[str]) -> None:
        wanted = [FACTS[name] for name in dict.fromkeys(facts)]
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(wanted)), thread_name_prefix="prefetch")
        self._futures: list[Future[None]] = [self._pool.submit(read, ctx) for read in wanted]

    def wait(self) -> None:
        self._pool.shutdown(wait=True)
