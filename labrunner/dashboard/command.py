"""`labrunner class serve --roster FILE [--port P] [--interval S] [ID…]` (SPEC §8)."""

from __future__ import annotations

import errno
import math
import secrets
import sys
import threading
from typing import TYPE_CHECKING, Any

from labrunner.errors import UsageError

if TYPE_CHECKING:
    from labrunner.dashboard.server import DashboardServer
    from labrunner.dashboard.state import ClassState
    from labrunner.options import Options

DEFAULT_PORT = 8765
DEFAULT_INTERVAL_S = 30.0
MIN_INTERVAL_S = 1.0


def _opt(options: Options, name: str, default: Any = None) -> Any:
    value = getattr(options, name, None)
    return default if value is None else value


def dashboard_port(options: Options) -> int:
    """`--port` is the dashboard's own port here; the local AWS keeps LABRUNNER_LOCAL_PORT or its default."""
    port = _opt(options, "port", DEFAULT_PORT)
    if not 1 <= port <= 65535:
        raise UsageError(f"--port must be between 1 and 65535, not {port}")
    return int(port)


def interval(options: Options) -> float:
    value = float(_opt(options, "interval", DEFAULT_INTERVAL_S))
    if not (math.isfinite(value) and value >= MIN_INTERVAL_S):
        raise UsageError(f"--interval must be a number of seconds, at least {MIN_INTERVAL_S:g}, not {value:g}")
    return value


def run_serve(options: Options) -> int:
    from labrunner.class_command import class_settings
    from labrunner.classroom import ClassRun
    from labrunner.dashboard.state import ClassState, DashboardBoard, Rounds, page_meta
    from labrunner.local import state as local_state
    from labrunner.options import load_catalogue, roster, target_kind
    from labrunner.roster import load_roster
    from labrunner.target import start_local

    port, every = dashboard_port(options), interval(options)
    if options.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if options.dry_run or options.yes:
        raise UsageError("--dry-run and --yes apply to class reset only")
    if _opt(options, "format") is not None or _opt(options, "output") is not None:
        raise UsageError("class serve takes no --format or --output: GET /api/class gives the JSON report")
    kind = target_kind(options)
    students = load_roster(roster(options), kind)  # type: ignore[arg-type]
    catalogue = load_catalogue(options)
    steps = catalogue.select(list(options.ids))
    settings = class_settings(options)
    state = ClassState(students, page_meta(steps, kind, every))
    server = _bind(port, state)  # before anything slow: a taken port fails at once
    try:
        local_port = local_state.default_port() if kind == "local" else None
        if local_port is not None:
            start_local(local_port)
        run = ClassRun(
            kind=kind,
            region=_opt(options, "region"),
            local_port=local_port,
            settings=settings,
            catalogue=catalogue,
            board=DashboardBoard(students, steps, state),
            jobs=options.jobs,
        )
        rounds = Rounds(run, students, steps, state, interval_s=every, labs_dirs=list(_opt(options, "labs_dir", [])))
        print(f"Class dashboard for {len(students)} students: {server.url}", flush=True)
        print(f"Checking the class every {every:g} s ({options.jobs} at a time, read-only); Ctrl-C stops.", flush=True)
        threading.Thread(target=server.serve_forever, name="dashboard-http", daemon=True).start()
        try:
            rounds.forever()
        except KeyboardInterrupt:
            pass
        finally:
            state.close()  # ends the event streams
            server.shutdown()
    finally:
        server.server_close()
    print("labrunner: dashboard stopped", file=sys.stderr, flush=True)
    return 0


def _bind(port: int, state: ClassState) -> DashboardServer:
    from labrunner.dashboard.server import DashboardServer

    try:
        return DashboardServer(port, state, secrets.token_urlsafe(24))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(f"port {port} on 127.0.0.1 is already in use; choose another with --port") from exc
        raise UsageError(f"cannot serve on 127.0.0.1:{port}: {exc.strerror}") from exc
