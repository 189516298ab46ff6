"""cfn-lint's answers remembered on disk by what decides them.

Importing cfn-lint alone costs most of a second, linting the hardened template seconds more; what
it answers for a template (its findings, its decoding) depends only on the template's text, the
cfn-lint version and what the caller names (the region), so answers are kept as JSON under
$LABRUNNER_HOME/cache/<kind>/ keyed by those, and a changed template is read again. Within one
process, concurrent callers (class mode) compute an answer once.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def linter_version() -> str:
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


def _cache_file(kind: str, key: tuple[str, ...]) -> Path:
    from labrunner.paths import home

    digest = hashlib.sha256("\0".join(key).encode()).hexdigest()
    return home() / "cache" / kind / f"{digest}.json"


def _write(path: Path, value: Any) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(value))
        tmp.replace(path)  # atomic: a concurrent reader never sees half a file
    except OSError:
        pass  # a cache that cannot be written only costs time


def remembered(
    kind: str, key: tuple[str, ...], compute: Callable[[], T], encode: Callable[[T], Any], decode: Callable[[Any], T]
) -> T:
    """compute()'s answer for `key`, from the disk when an earlier run stored it. `key` must name all
    that decides the answer (format, cfn-lint version, text …). A stored answer that does not decode
    (an older format, a damaged file) is computed again; an exception of compute() is never stored."""
    path = _cache_file(kind, key)
    with _locks_guard:
        lock = _locks.setdefault(f"{kind}/{path.name}", threading.Lock())
    with lock:
        try:
            return decode(json.loads(path.read_text()))
        except (OSError, ValueError, TypeError, KeyError):
            pass
        answer = compute()
        _write(path, encode(answer))
        return answer
