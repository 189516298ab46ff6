"""New S3 buckets block public access and disable ACLs by default, as on AWS since April 2023.

moto creates buckets with no Public Access Block (`get_public_access_block` answers
NoSuchPublicAccessBlockConfiguration: every setting off) and no Object Ownership rule. On AWS
every new bucket, whether made through the API, the console or CloudFormation, has all four
Block Public Access settings on and Object Ownership `BucketOwnerEnforced` (ACLs disabled), until
someone changes them. A student's hand-made log bucket is therefore private from the start, and
lab 2 grades it so.
"""

from __future__ import annotations

import functools
from typing import Any

from labrunner.local.hooks import ServerHooks

OWNER_ENFORCED = "BucketOwnerEnforced"


def install(hooks: ServerHooks) -> None:
    from moto.s3.models import FakeBucket, PublicAccessBlock

    original_init = FakeBucket.__init__

    @functools.wraps(original_init)
    def init_private(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        # At construction, before create_bucket returns, so that AWS Config already sees it; a
        # template's PublicAccessBlockConfiguration or OwnershipControls is applied afterwards.
        self.public_access_block = PublicAccessBlock(True, True, True, True)
        self.ownership_rule = OWNER_ENFORCED

    setattr(FakeBucket, "__init__", init_private)  # noqa: B010 (mypy forbids assigning a method)
