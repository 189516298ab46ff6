"""A warm Lambda worker renews its role credentials before they expire, as Lambda keeps them valid."""

from __future__ import annotations

import time

from labrunner.local import faults
from labrunner.local.lifecycle import Endpoint
from tests.local.lambda_support import LOGS_STATEMENT, Aws, invoke, unique

# The client is made at init, as most functions do (the lab's own makes its DynamoDB table there).
HANDLER = """
import os, boto3
STS = boto3.client("sts")

def handler(event, context):
    return {"pid": os.getpid(), "key": os.environ["AWS_ACCESS_KEY_ID"], "arn": STS.get_caller_identity()["Arn"]}
"""


def test_a_warm_worker_outlives_its_first_role_session(fresh_server: Endpoint) -> None:
    aws = Aws(fresh_server)
    faults.configure(fresh_server.url, credential_ttl_s=3)
    name = unique("renew")
    aws.function(name, aws.role(unique("renew-role"), LOGS_STATEMENT), HANDLER)

    response, first = invoke(aws, name)
    assert "FunctionError" not in response, first
    time.sleep(3.5)  # the first session has expired by now
    response, second = invoke(aws, name)

    assert "FunctionError" not in response, second  # not ExpiredToken
    assert second["pid"] == first["pid"]  # the same warm worker, not a cold start
    assert second["key"] != first["key"]  # with a new role session
    assert second["arn"] == first["arn"] and second["arn"].endswith(f"/{name}")
