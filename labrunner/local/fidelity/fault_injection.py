"""Fault injection: latency, throttling, IAM propagation delay, Lambda cold starts (labrunner/local/faults/).

Off by default; the settings and their environment variables are documented in
labrunner/local/faults/__init__.py. This module
- holds every AWS request for `latency_ms` before anything else sees it (the round trip of a real
  region; never the admin API);
- answers a share of AWS requests with the service's own throttling error, before moto sees
  them (never the admin API, moto's API or CloudFormation's custom resource callback);
- remembers an account's IAM permissions before each permission-changing IAM request, so that
  authorization keeps using them for the propagation delay (faults/propagation.py);
- serves GET /_labrunner/faults (settings, the two delays of Config and S3 access logs, and
  counters of what was injected) and POST /_labrunner/faults?name=value&… (change any of them);
- restores everything from the environment on POST /_labrunner/reset.
The Lambda cold start is applied by the runtime's worker (lambda_runtime/worker.py).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from labrunner.aws.stack import partition
from labrunner.local.app import AdminError, AdminRequest, register_admin_endpoint
from labrunner.local.delays import Delay
from labrunner.local.faults import FAULTS, IAM_DELAY, LATENCY_MS, SETTINGS, THROTTLE_RATE
from labrunner.local.faults.propagation import PERMISSION_CHANGES, PROPAGATION
from labrunner.local.faults.throttling import Throttler
from labrunner.local.fidelity.iam_enforcement import read_body
from labrunner.local.hooks import ServerHooks, WSGIApp
from labrunner.local.iam import actions, credentials, errors

LATENCY_ORDER = 1  # outermost: a round trip is paid before AWS even authenticates the request
ORDER = 15  # inside iam_enforcement (the caller is known and allowed), outside the simulator and moto
DEFAULT_REGION = "us-east-1"
_NOT_AWS = re.compile(r"^/(?:_labrunner/|moto-api|cloudformation_[^/]+/cfnresponse$|favicon\.ico$)")


def _delays() -> dict[str, Delay]:
    """The asynchronous-work delays other fidelity modules own, by their admin names."""
    from labrunner.local.awsconfig.engine import DELAY as CONFIG_DELAY
    from labrunner.local.fidelity.s3_access_logs import DELAY as ACCESS_LOG_DELAY

    return {delay.name: delay for delay in (CONFIG_DELAY, ACCESS_LOG_DELAY)}


class Latency:
    """The WSGI middleware that makes every AWS request cost `latency_ms` (0: none)."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        latency_ms = FAULTS.value(LATENCY_MS)
        if latency_ms > 0 and not _NOT_AWS.match(environ.get("PATH_INFO", "")):
            time.sleep(latency_ms / 1000)
        return self.app(environ, start_response)


class FaultInjection:
    """The WSGI middleware."""

    def __init__(self, app: WSGIApp, throttler: Throttler) -> None:
        self.app = app
        self.throttler = throttler

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        throttling = FAULTS.value(THROTTLE_RATE) > 0
        iam_delay = FAULTS.value(IAM_DELAY)
        if not (throttling or iam_delay > 0) or _NOT_AWS.match(environ.get("PATH_INFO", "")):
            return self.app(environ, start_response)  # no fault on: not a single look at the request
        credential = credentials.request_credential(environ)
        if credential is None:  # anonymous: iam_enforcement has answered, or it is unsigned STS
            return self.app(environ, start_response)
        service = actions.model_name((credential.service or "s3").lower())
        protocol = actions.service_protocol(service) or "query"
        region = credential.region or DEFAULT_REGION
        account = str(environ.get("HTTP_X_MOTO_ACCOUNT_ID", ""))
        body = read_body(environ) if service != "s3" else b""
        operation = actions.identify(service, environ, body, region, account)
        method = str(environ.get("REQUEST_METHOD", "GET"))
        FAULTS.count("requests")
        if throttling and self.throttler.decide(credential.access_key, f"{service}:{operation.name or method}"):
            FAULTS.count("throttled")
            answer = errors.throttling(service, operation.protocol or protocol, method)
            start_response(answer.status_line, list(answer.headers))
            return [answer.body]
        if iam_delay > 0 and service == "iam" and operation.name in PERMISSION_CHANGES and account:
            PROPAGATION.before_change(account, partition(region), iam_delay)
            FAULTS.count("iam_changes_delayed")
        return self.app(environ, start_response)


def show(_request: AdminRequest | None = None) -> dict[str, Any]:
    """GET /_labrunner/faults: every setting, with its environment variable, and the counters."""
    settings: dict[str, Any] = dict(FAULTS.values())
    env = {s.name: s.env_var for s in SETTINGS}
    for name, delay in _delays().items():
        settings[name] = delay.seconds
        env[name] = delay.env_var
    return {"settings": settings, "env_vars": env, "counters": FAULTS.counters()}


def change(request: AdminRequest) -> dict[str, Any]:
    """POST /_labrunner/faults?throttle_rate=0.2&iam_delay_s=3…: all valid, or nothing changes."""
    delays = _delays()
    seconds: dict[str, float] = {}
    try:
        for name, raw in request.query.items():
            if name in delays:
                seconds[name] = delays[name].parse(raw, name)
        FAULTS.update({k: v for k, v in request.query.items() if k not in delays})
    except ValueError as exc:
        raise AdminError(400, str(exc)) from None
    for name, value in seconds.items():
        delays[name].set(value)
    return show(request)


def install(hooks: ServerHooks) -> None:
    throttler = Throttler(FAULTS)
    hooks.add_middleware(Latency, order=LATENCY_ORDER, name="latency")
    hooks.add_middleware(lambda app: FaultInjection(app, throttler), order=ORDER, name="fault-injection")
    register_admin_endpoint("GET", "faults", show)
    register_admin_endpoint("POST", "faults", change)
    hooks.on_reset(FAULTS.restore)
    hooks.on_reset(PROPAGATION.clear)
