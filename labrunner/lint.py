"""cfn-lint's findings for a template, remembered on disk by what decides them.

Importing cfn-lint and linting the hardened template costs seconds; its findings depend only on
the template's text, the region and the cfn-lint version, so they are kept under
$LABRUNNER_HOME/cache/cfn-lint/ keyed by those, and a template that changes is linted again.
Within one process, concurrent callers (class mode) lint a template once.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

CACHE_FORMAT = "1"  # bump when what is stored (or how cfn-lint is called) changes
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


@dataclass(frozen=True)
class Finding:
    rule: str  # e.g. E3012; E… errors, W… warnings
    line: int
    message: str


def _run(text: str, region: str) -> list[Finding]:
    from cfnlint.api import ManualArgs, lint

    return [
        Finding(str(m.rule.id), int(m.linenumber), str(m.message))
        for m in lint(text, config=ManualArgs(regions=[region]))
        if m.rule.id[:1] in ("E", "W")
    ]


def _linter_version() -> str:
    """cfn-lint's version, read from its version.py (importing cfnlint or its metadata costs more)."""
    spec = importlib.util.find_spec("cfnlint")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        try:
            return (Path(folder) / "version.py").read_text()
        except OSError:
            continue
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cfn-lint")
    except PackageNotFoundError:
        return "unknown"


def _cache_file(text: str, region: str) -> Path:
    from labrunner.paths import home

    key = hashlib.sha256("\0".join((CACHE_FORMAT, _linter_version(), region, text)).encode()).hexdigest()
    return home() / "cache" / "cfn-lint" / f"{key}.json"


def _read(path: Path) -> list[Finding] | None:
    try:
        return [Finding(**row) for row in json.loads(path.read_text())]
    except (OSError, ValueError, TypeError):
        return None


def _write(path: Path, findings: list[Finding]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps([asdict(f) for f in findings]))
        tmp.replace(path)  # atomic: a concurrent reader never sees half a file
    except OSError:
        pass  # a cache that cannot be written only costs time


def cfn_lint(text: str, region: str) -> list[Finding]:
    """cfn-lint's errors and warnings for the template text (informational findings left out)."""
    path = _cache_file(text, region)
    with _locks_guard:
        lock = _locks.setdefault(path.name, threading.Lock())
    with lock:
        findings = _read(path)
        if findings is None:
            findings = _run(text, region)
            _write(path, findings)
    return findings
