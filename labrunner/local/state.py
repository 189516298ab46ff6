"""Where a running local server is recorded, so that start/stop/status and clients find it."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_PORT = 4599


def default_port() -> int:
    raw = os.environ.get("LABRUNNER_LOCAL_PORT", "")
    if not raw:
        return DEFAULT_PORT
    try:
        port = int(raw)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        from labrunner.errors import UsageError

        raise UsageError(f"LABRUNNER_LOCAL_PORT must be a port number (1-65535), not {raw!r}")
    return port


def home() -> Path:
    """labrunner's own state directory ($LABRUNNER_HOME, else the XDG state dir)."""
    explicit = os.environ.get("LABRUNNER_HOME")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "labrunner"


@dataclass(frozen=True)
class ServerState:
    pid: int
    port: int
    started_at: float
    log_file: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def state_file(port: int) -> Path:
    return home() / f"local-{port}.json"


def log_file(port: int) -> Path:
    return home() / f"local-{port}.log"


def read_state(port: int) -> ServerState | None:
    try:
        data = json.loads(state_file(port).read_text())
        return ServerState(**data)
    except (OSError, ValueError, TypeError):
        return None


def write_state(state: ServerState) -> None:
    path = state_file(state.port)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state)))
    tmp.replace(path)  # atomic: a reader never sees half a file


def clear_state(port: int) -> None:
    state_file(port).unlink(missing_ok=True)


def check_home() -> None:
    """Refuse a $LABRUNNER_HOME that cannot be a directory (a file, or under one), in one line."""
    path = home()
    for place in (path, *path.parents):
        if place.exists():
            if not place.is_dir():
                from labrunner.errors import UsageError

                what = "LABRUNNER_HOME" if os.environ.get("LABRUNNER_HOME") else "labrunner's state directory"
                raise UsageError(f"{what} {path} is not usable: {place} is a file, not a directory")
            return
