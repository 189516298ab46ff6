"""Opening a target: the one place that starts the embedded local AWS for a command (SPEC §2).

Above both labrunner.aws (sessions, clients) and labrunner.local (the local server): the aws helpers
never import the local AWS; this module starts it and hands its session to labrunner.aws.session.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from labrunner.aws.session import OpenTarget, Session, TargetSpec, aws_session, connect, new_session
from labrunner.local.watch import ServerWatch

if TYPE_CHECKING:
    from labrunner.local.lifecycle import Endpoint


def _local_session(spec: TargetSpec, notify: Callable[[str], None]) -> tuple[Session, str, str, ServerWatch]:
    from labrunner.local import lifecycle, state
    from labrunner.local.watch import read_timeout_s

    port = spec.local_port or state.default_port()
    restarted: list[str] = []  # the one line saying it restarted empty replaces "Started …"
    endpoint, started = lifecycle.start(port, restarted.append)
    if restarted:
        notify(f"labrunner: {restarted[0]}")
    elif started:
        notify(f"Started the local AWS on {endpoint.url} (stop it with `labrunner local stop`).")
    region = spec.region or endpoint.region
    session = new_session(
        aws_access_key_id=endpoint.access_key,
        aws_secret_access_key=endpoint.secret_key,
        region_name=region,
    )
    return session, region, endpoint.url, ServerWatch(endpoint.port, endpoint.pid, read_timeout_s())


def open_target(spec: TargetSpec, notify: Callable[[str], None] = lambda _msg: None) -> OpenTarget:
    """Resolve credentials and region, start the local server if needed, and prove access."""
    if spec.kind == "local":
        from labrunner.local.identity import DEFAULT_ACCOUNT

        session, region, endpoint_url, watch = _local_session(spec, notify)
        return connect(spec, session, region, endpoint_url, watch, home_account=DEFAULT_ACCOUNT)
    session, region = aws_session(spec)
    return connect(spec, session, region)


def start_local_server(port: int, notify: Callable[[str], None] | None = None) -> tuple[Endpoint, bool]:
    """Start the local AWS on `port` unless it runs: (its endpoint, whether it started now)."""
    from labrunner.local import lifecycle

    return lifecycle.start(port, notify)


def start_local(port: int) -> None:
    """Start the local AWS if it is not running; say so on stderr (stdout may carry the report)."""
    restarted: list[str] = []  # the one line saying it restarted empty replaces "Started …"
    endpoint, started = start_local_server(port, restarted.append)
    if restarted:
        print(f"labrunner: {restarted[0]}", file=sys.stderr)
    elif started:
        print(f"Started the local AWS on {endpoint.url} (stop it with `labrunner local stop`).", file=sys.stderr)
