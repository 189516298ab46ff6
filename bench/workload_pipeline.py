"""Figures for the workload on the local AWS: create_stack cold and warm, upload → item latency.

Run: /work/venv/bin/python bench/workload_pipeline.py [--uploads 30]
Starts its own server on a free port (like `labrunner local start`), so the numbers include HTTP,
IAM enforcement and the Lambda worker processes, as a lab run sees them.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3

from labrunner.local import identity, lifecycle

TEMPLATE = (Path(__file__).resolve().parents[1] / "cloudformation_template.yaml").read_text()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


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
            aws_access_key_id=identity.ADMIN_ACCESS_KEY,
            aws_secret_access_key=identity.ADMIN_SECRET_KEY,
            region_name=identity.DEFAULT_REGION,
        )
        cf, s3, dynamodb = (session.client(s, endpoint_url=endpoint.url) for s in ("cloudformation", "s3", "dynamodb"))
        cold, _ = create_stack(cf, "bench-cold")
        warm, outputs = create_stack(cf, "bench-warm")
        first = upload_latency(s3, dynamodb, outputs, "first upload (cold worker).txt")
        samples = [upload_latency(s3, dynamodb, outputs, f"upload {i} Alice's.txt") for i in range(args.uploads)]
        idle = []
        for i in range(5):  # the poller has been waiting a while: it must still wake at once
            time.sleep(1.5)
            idle.append(upload_latency(s3, dynamodb, outputs, f"after idle {i}.txt"))
        print(f"server start (labrunner local start):     {boot * 1000:7.1f} ms")
        print(f"create_stack, first of the server (cold): {cold * 1000:7.1f} ms")
        print(f"create_stack, second (warm):              {warm * 1000:7.1f} ms")
        print(f"upload → item, first (cold worker):       {first * 1000:7.1f} ms")
        print(
            f"upload → item, warm worker, n={len(samples)}:      "
            f"median {statistics.median(samples) * 1000:6.1f} ms, p95 {percentile(samples, 0.95) * 1000:6.1f} ms, "
            f"max {max(samples) * 1000:6.1f} ms"
        )
        print(f"upload → item after 1.5 s idle, n={len(idle)}:     median {statistics.median(idle) * 1000:6.1f} ms")
    finally:
        lifecycle.stop(port)


if __name__ == "__main__":
    main()
