"""The local AWS server process (foreground). `labrunner local start` runs this detached.

Run directly: python -m labrunner.local.server --port 4599
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import sys
import threading
from types import FrameType

from labrunner.local import moto_settings, speedups

HOST = "127.0.0.1"  # never anything else: the local AWS is for this machine only
EXIT_PORT_IN_USE = 98


def serve(port: int, *, quiet: bool = True) -> int:
    """Bind 127.0.0.1:port, install the fidelity layer and serve until SIGTERM/SIGINT."""
    moto_settings.apply()
    speedups.apply()
    from werkzeug.serving import make_server

    from labrunner.local import fidelity, state
    from labrunner.local.app import LocalAWSApp
    from labrunner.local.hooks import ServerHooks

    if quiet:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)

    hooks = ServerHooks(host=HOST, port=port, admin_secret=state.admin_secret())
    installed = fidelity.install_all(hooks)
    app = LocalAWSApp(hooks, installed)
    try:
        from moto.moto_server.werkzeug_app import MotoRequestHandler

        server = make_server(HOST, port, app, threaded=True, request_handler=MotoRequestHandler)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(f"port {port} on {HOST} is already in use", file=sys.stderr)
            return EXIT_PORT_IN_USE
        raise
    if port == 0:  # an ephemeral port was asked for: tell the caller which one
        hooks.port = server.server_port

    def stop(_signum: int, _frame: FrameType | None) -> None:
        hooks.stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for callback in hooks.start_callbacks:
        callback()
    print(f"labrunner local AWS listening on http://{HOST}:{hooks.port} (pid {os.getpid()})", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        hooks.stopping.set()
        for callback in hooks.stop_callbacks:
            try:
                callback()
            except Exception as exc:  # shutdown goes on; the log says what failed
                print(f"stop hook failed: {exc!r}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="labrunner-local-server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    return serve(args.port, quiet=not args.verbose)


if __name__ == "__main__":
    raise SystemExit(main())
