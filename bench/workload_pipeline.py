"""Figures for the workload on the local AWS: create_stack cold and warm, upload → item latency.

Run: python bench/workload_pipeline.py [--uploads 30]   (bench/run.py prints the same figures)
Starts its own server on a free port (like `labrunner local start`), so the numbers include HTTP,
IAM enforcement and the Lambda worker processes, as a lab run sees them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from typing import Any

import boto3
from common import REPO, free_port, percentile

from labrunner.local import lifecycle

TEMPLATE = (REPO / "cloudformation_template.yaml").read_text()


def create_stack(cf: Any, name: str) -> tuple[float, dict[str, str]]:
    started = time.perf_counter()
    cf.create_stack(StackName=name, TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM"])
    stack = cf.describe_stacks(StackName=name)["Stacks"][0]
    elapsed = time.perf_counter() - started
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    return elapsed, {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def upload_latency(s3: Any, dynamodb: Any, outputs: dict[str, str], key: str) -> float:
    """Seconds from PutObject to the item being readable in the table."""
    started = time.perf_counter()
    s3.put_object(Bucket=outputs["UploadBucketName"], Key=key, Body=b"bench")
    while True:
        item = dynamodb.get_item(TableName=outputs["MetadataTableName"], Key={"S3ObjectName": {"S": key}})
        if "Item" in item:
            return time.perf_counter() - started
        if time.perf_counter() - started > 30:
            raise TimeoutError(key)


def measure(session: boto3.Session, endpoint_url: str, uploads: int = 30, idle: int = 5) -> dict[str, float]:
    """create_stack cold (the first of the server when run first) and warm; upload → item latencies (s)."""
    cf, s3, dynamodb = (session.client(s, endpoint_url=endpoint_url) for s in ("cloudformation", "s3", "dynamodb"))
    cold, _ = create_stack(cf, "bench-cold")
    warm, outputs = create_stack(cf, "bench-warm")
    first = upload_latency(s3, dynamodb, outputs, "first upload (cold worker).txt")
    samples = [upload_latency(s3, dynamodb, outputs, f"upload {i} Alice's.txt") for i in range(uploads)]
    after_idle = []
    for i in range(idle):  # the poller has been waiting a while: it must still wake at once
        time.sleep(1.5)
        after_idle.append(upload_latency(s3, dynamodb, outputs, f"after idle {i}.txt"))
    return {
        "create_stack_cold_s": cold,
        "create_stack_warm_s": warm,
        "upload_first_s": first,
        "upload_warm_n": len(samples),
        "upload_warm_median_s": statistics.median(samples),
        "upload_warm_p95_s": percentile(samples, 0.95),
        "upload_warm_max_s": max(samples),
        "upload_idle_n": len(after_idle),
        "upload_idle_median_s": statistics.median(after_idle) if after_idle else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uploads", type=int, default=30)
    args = parser.parse_args()
    os.environ["LABRUNNER_HOME"] = tempfile.mkdtemp(prefix="labrunner-bench-")
    port = free_port()
    started = time.perf_counter()
    endpoint, _ = lifecycle.start(port)
    boot = time.perf_counter() - started
    try:
        session = boto3.Session(
            aws_access_key_id=endpoint.access_key,
            aws_secret_access_key=endpoint.secret_key,
            region_name=endpoint.region,
        )
        f = measure(session, endpoint.url, args.uploads)
        print(f"server start (labrunner local start):     {boot * 1000:7.1f} ms")
        print(f"create_stack, first of the server (cold): {f['create_stack_cold_s'] * 1000:7.1f} ms")
        print(f"create_stack, second (warm):              {f['create_stack_warm_s'] * 1000:7.1f} ms")
        print(f"upload → item, first (cold worker):       {f['upload_first_s'] * 1000:7.1f} ms")
        print(
            f"upload → item, warm worker, n={f['upload_warm_n']:.0f}:      "
            f"median {f['upload_warm_median_s'] * 1000:6.1f} ms, p95 {f['upload_warm_p95_s'] * 1000:6.1f} ms, "
            f"max {f['upload_warm_max_s'] * 1000:6.1f} ms"
        )
        print(
            f"upload → item after 1.5 s idle, n={f['upload_idle_n']:.0f}:     "
            f"median {f['upload_idle_median_s'] * 1000:6.1f} ms"
        )
    finally:
        lifecycle.stop(port)


if __name__ == "__main__":
    main()
