"""What this machine saw of a role's permissions, and when (kept under $LABRUNNER_HOME).

CloudTrail delivers events minutes late, so its history alone cannot say that nothing changed in
the last minutes. A sighting can: if the role's permissions were X at moment M (this machine read
them), CloudTrail has delivered events past M, no change shows between an upload and M, and the
permissions are still X now, then the upload was made under the current permissions. A check
stays read-only towards AWS; these notes are labrunner's own state on this machine.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from labrunner.aws.iam.roles import RolePolicies
from labrunner.paths import home

KEEP = 50  # sightings per role


@dataclass(frozen=True)
class Sighting:
    time: datetime
    fingerprint: str


def fingerprint(role: RolePolicies) -> str:
    """The role's permissions (inline and attached policies with documents, boundary), hashed."""
    shape = {
        "inline": sorted([p.name, json.dumps(p.document, sort_keys=True)] for p in role.inline),
        "attached": sorted([p.arn or p.name, json.dumps(p.document, sort_keys=True)] for p in role.attached),
        "boundary": role.boundary_arn or "",
    }
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()


def _file(account: str, role_name: str) -> Path:
    return home() / "sightings" / f"{account}-{role_name}.json"


def seen(account: str, role_name: str) -> list[Sighting]:
    try:
        raw = json.loads(_file(account, role_name).read_text())
        return [Sighting(datetime.fromisoformat(t), str(f)) for t, f in raw]
    except (OSError, ValueError, TypeError):
        return []


def record(account: str, role_name: str, sighting: Sighting) -> None:
    """Remember a sighting (best effort: an unwritable home only means waiting longer)."""
    kept = [*seen(account, role_name), sighting][-KEEP:]
    path = _file(account, role_name)
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as out:
            json.dump([[s.time.isoformat(), s.fingerprint] for s in kept], out)
        os.replace(tmp, path)
