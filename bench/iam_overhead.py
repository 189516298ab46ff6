"""Figures for the local IAM layer: per-request authorization overhead, cost of a new account.

Run: python bench/iam_overhead.py [--json]   (bench/run.py prints the same figures)
Everything runs in-process against moto's backends (no server, no sockets), so the numbers are
the IAM layer's own cost, not HTTP's.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
from collections.abc import Callable, Iterable
from typing import Any

from labrunner.local import identity, moto_settings

moto_settings.apply()

from moto.iam.models import IAMBackend, iam_backends  # noqa: E402

from labrunner.local.fidelity import accounts, aws_managed_policies, iam_enforcement  # noqa: E402
from labrunner.local.hooks import ServerHooks  # noqa: E402


def timed(fn: Callable[[], Any], repeat: int) -> float:
    """Median seconds per call over `repeat` calls."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def new_account_cost(first: int) -> float:
    """Seconds to build the IAM backend (with AWS managed policies) of a never-seen account."""
    counter = iter(range(first, first + 1000))

    def build() -> None:
        IAMBackend(region_name="aws", account_id=str(next(counter)).rjust(12, "0"))

    return timed(build, 10)


def environ(target: str, body: dict[str, Any], access_key: str) -> dict[str, Any]:
    payload = json.dumps(body).encode()
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "CONTENT_TYPE": "application/x-amz-json-1.0",
        "CONTENT_LENGTH": str(len(payload)),
        "HTTP_HOST": "127.0.0.1:4599",
        "HTTP_X_AMZ_TARGET": target,
        "HTTP_AUTHORIZATION": (
            f"AWS4-HMAC-SHA256 Credential={access_key}/20261126/us-east-1/dynamodb/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=0"
        ),
        "wsgi.input": io.BytesIO(payload),
    }


def measure() -> dict[str, float]:
    """Seconds: a new account's IAM backend (moto as shipped, shared and cloned), middleware cost per request."""
    figures = {"new_account_moto_s": new_account_cost(100_000_000_000)}
    aws_managed_policies.install(ServerHooks(host="127.0.0.1", port=0))
    IAMBackend(region_name="aws", account_id="000000000001")  # builds the shared template once
    figures["new_account_shared_s"] = new_account_cost(200_000_000_000)

    accounts.ensure_admin_user()
    backend = iam_backends["123456789012"]["aws"]
    backend.create_user("us-east-1", "reader")
    backend.attach_user_policy("arn:aws:iam::aws:policy/ReadOnlyAccess", "reader")
    backend.put_user_policy(
        "reader",
        "table",
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": "arn:aws:dynamodb:*:*:table/T"}
                ],
            }
        ),
    )
    reader_key = backend.create_access_key("reader").access_key_id

    def passthrough(env: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [])
        return [b""]

    middleware = iam_enforcement.IAMEnforcement(passthrough)

    def request(target: str, body: dict[str, Any], key: str) -> Callable[[], Any]:
        return lambda: list(middleware(environ(target, body, key), lambda *a: None))

    cases = {
        "admin, AdministratorAccess, GetItem": request(
            "DynamoDB_20120810.GetItem", {"TableName": "T", "Key": {}}, identity.ADMIN_ACCESS_KEY
        ),
        "user, ReadOnlyAccess + inline, GetItem": request(
            "DynamoDB_20120810.GetItem", {"TableName": "T", "Key": {}}, reader_key
        ),
        "user, ReadOnlyAccess + inline, PutItem denied": request(
            "DynamoDB_20120810.PutItem", {"TableName": "U", "Item": {}}, reader_key
        ),
    }
    baseline = timed(lambda: list(passthrough(environ("x.y", {}, "k"), lambda *a: None)), 2000)
    for label, call in cases.items():
        call()  # parse and cache the policies first, as a running server has
        figures[f"middleware: {label}"] = timed(call, 2000) - baseline
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true", help="print the figures (seconds) as JSON")
    as_json = parser.parse_args().json
    figures = measure()
    if as_json:
        print(json.dumps(figures))
        return
    print("AWS managed policies per account")
    print(f"  new account IAM backend (moto as shipped): {figures['new_account_moto_s'] * 1000:8.2f} ms")
    print(f"  new account IAM backend (shared, cloned):  {figures['new_account_shared_s'] * 1000:8.2f} ms")
    print(f"  speed-up: x{figures['new_account_moto_s'] / figures['new_account_shared_s']:.0f}")
    print("per-request cost of the IAM middleware (median of 2000)")
    for label, cost in figures.items():
        if label.startswith("middleware: "):
            print(f"  {label.removeprefix('middleware: '):48s} {cost * 1e6:8.1f} µs")


if __name__ == "__main__":
    main()
