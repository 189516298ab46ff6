"""Where a running local server is recorded, so that start/stop/status and clients find it."""

from __future__ import annotations

import base64
import json
import os
import secrets
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from labrunner.paths import home

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


def private_home() -> Path:
    """The home directory, created if need be and readable by its owner only (0700).

    It holds the admin's secret, so no other local user may list or read it.
    """
    path = home()
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o777 != 0o700:
        path.chmod(0o700)
    return path


def write_private(path: Path, text: str) -> None:
    """Write a file of the home atomically (a reader never sees half a file), readable by its owner only."""
    os.replace(_private_temp(path, text), path)


def _private_temp(beside: Path, text: str) -> Path:
    """A new file (0600, as mkstemp makes them) next to `beside`, holding text."""
    fd, name = tempfile.mkstemp(dir=beside.parent, prefix=f".{beside.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return Path(name)


ADMIN_SECRET_FILE = "admin-secret"


def admin_secret() -> str:
    """The local admin's secret access key: random, made once per LABRUNNER_HOME and kept only there (0600).

    The server and its clients both read it here; the access key id stays the fixed
    identity.ADMIN_ACCESS_KEY, so `eval "$(labrunner local env)"` survives server restarts.
    """
    path = private_home() / ADMIN_SECRET_FILE
    try:
        secret = path.read_text().strip()
    except FileNotFoundError:
        secret = ""
    if secret:
        return secret
    # 40 characters of base64, like AWS's secret keys. Written aside, then linked in place: of two
    # processes racing, one wins and the other reads the winner's, never half a file.
    candidate = base64.b64encode(secrets.token_bytes(30)).decode()
    tmp = _private_temp(path, candidate + "\n")
    try:
        os.link(tmp, path)
    except FileExistsError:
        candidate = path.read_text().strip()
    finally:
        tmp.unlink(missing_ok=True)
    return candidate


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
    private_home()
    write_private(state_file(state.port), json.dumps(asdict(state)))


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
