"""Which region names exist: botocore's partitions data (`botocore/data/partitions.json`), the list
every AWS SDK resolves endpoints from. A name outside it (`mars-1`, `US-EAST-1`) is refused before any
request is made: AWS would answer it with a connection error, the local AWS with nothing useful."""

from __future__ import annotations

import functools

from labrunner.errors import UsageError


@functools.cache
def known_regions() -> frozenset[str]:
    """Every region of every partition botocore knows (aws, aws-cn, aws-us-gov, the ISO ones…)."""
    from labrunner.aws.model_cache import shared_loader

    data = shared_loader().load_data("partitions")
    return frozenset(
        name
        for partition in data["partitions"]
        for name in partition["regions"]
        if not name.endswith("-global")  # aws-global & co. are endpoint aliases, not regions
    )


def check_region(region: str, source: str = "--region") -> str:
    """The region, if botocore's partitions know it; else UsageError naming where it came from."""
    if region in known_regions():
        return region
    example = "us-east-1" if region.lower() not in known_regions() else region.lower()
    raise UsageError(f"{region!r} is not an AWS region name (such as {example}): check {source}")
