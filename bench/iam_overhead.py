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

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

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


def environ(target: str, body: dict[str, Any], access_key: str, secret: str) -> Callable[[], dict[str, Any]]:
    """A DynamoDB request signed by botocore as boto3 signs it; each call gives a fresh WSGI environ."""
    payload = json.dumps(body).encode()
    signed = AWSRequest(
        method="POST",
        url="http://127.0.0.1:4599/",
        data=payload,
        headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0"},
    )
    SigV4Auth(Credentials(access_key, secret), "dynamodb", "us-east-1").add_auth(signed)
    base = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "RAW_URI": "/",
        "QUERY_STRING": "",
        "CONTENT_TYPE": "application/x-amz-json-1.0",
        "CONTENT_LENGTH": str(len(payload)),
        "HTTP_HOST": "127.0.0.1:4599",
        **{"HTTP_" + k.upper().replace("-", "_"): str(v) for k, v in signed.headers.items() if k != "Content-Type"},
    }
    return lambda: {**base, "wsgi.input": io.BytesIO(payload)}


def measure() -> dict[str, float]:
    """Seconds: a new account's IAM backend (moto as shipped, shared and cloned), middleware cost per request."""
    figures = {"new_account_moto_s": new_account_cost(100_000_000_000)}
    aws_managed_policies.install(ServerHooks(host="127.0.0.1", port=0))
    IAMBackend(region_name="aws", account_id="000000000001")  # builds the shared template once
    figures["new_account_shared_s"] = new_account_cost(200_000_000_000)

    admin_secret = "bench/secret/of/the/local/admin/00000000"
    accounts.ensure_admin_user(admin_secret)
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
    reader = backend.create_access_key("reader")

    def passthrough(env: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [])
        return [b""]

    middleware = iam_enforcement.IAMEnforcement(passthrough)

    def request(target: str, body: dict[str, Any], key: str, secret: str) -> Callable[[], Any]:
        make = environ(target, body, key, secret)
        return lambda: list(middleware(make(), lambda *a: None))

    get_item = {"TableName": "T", "Key": {}}
    cases = {
        "admin, AdministratorAccess, GetItem": request(
            "DynamoDB_20120810.GetItem", get_item, identity.ADMIN_ACCESS_KEY, admin_secret
        ),
        "user, ReadOnlyAccess + inline, GetItem": request(
            "DynamoDB_20120810.GetItem", get_item, reader.access_key_id, reader.secret_access_key
        ),
        "user, ReadOnlyAccess + inline, PutItem denied": request(
            "DynamoDB_20120810.PutItem", {"TableName": "U", "Item": {}}, reader.access_key_id, reader.secret_access_key
        ),
    }
    # The signature check alone (botocore recomputes the SigV4 signature), part of each figure above.
    signed = environ("DynamoDB_20120810.GetItem", get_item, identity.ADMIN_ACCESS_KEY, admin_secret)
    check = iam_enforcement.IAMEnforcement.check_signature
    assert check(signed(), "dynamodb", admin_secret) is None
    figures["signature check (SigV4, DynamoDB GetItem)"] = timed(
        lambda: check(signed(), "dynamodb", admin_secret), 2000
    )
    make_baseline = environ("x.y", {}, "k", "s")
    baseline = timed(lambda: list(passthrough(make_baseline(), lambda *a: None)), 2000)
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
    signature = figures["signature check (SigV4, DynamoDB GetItem)"]
    print(f"  of which the signature check (botocore SigV4)    {signature * 1e6:8.1f} µs")


if __name__ == "__main__":
    main()
