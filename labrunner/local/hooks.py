"""The extension points that fidelity modules use to change the local server."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Middleware = Callable[[WSGIApp], WSGIApp]


@dataclass
class ServerHooks:
    """Given to every fidelity module's `install(hooks)`.

    `order` of a middleware: lower runs first (outermost) on each request.
    """

    host: str
    port: int
    # The local admin's secret access key (read from LABRUNNER_HOME at start; never a constant).
    admin_secret: str = field(default="", repr=False)
    middlewares: list[tuple[int, str, Middleware]] = field(default_factory=list)
    start_callbacks: list[Callable[[], None]] = field(default_factory=list)
    stop_callbacks: list[Callable[[], None]] = field(default_factory=list)
    reset_callbacks: list[Callable[[], None]] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def add_middleware(self, middleware: Middleware, *, order: int, name: str) -> None:
        self.middlewares.append((order, name, middleware))

    def on_start(self, callback: Callable[[], None]) -> None:
        """Run once the socket is bound (e.g. start background pollers)."""
        self.start_callbacks.append(callback)

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Run at shutdown (e.g. kill Lambda worker processes)."""
        self.stop_callbacks.append(callback)

    def on_reset(self, callback: Callable[[], None]) -> None:
        """Run after every account has been wiped (POST /_labrunner/reset)."""
        self.reset_callbacks.append(callback)

    def wrap(self, app: WSGIApp) -> WSGIApp:
        for _order, _name, middleware in sorted(self.middlewares, key=lambda m: m[0], reverse=True):
            app = middleware(app)
        return app
