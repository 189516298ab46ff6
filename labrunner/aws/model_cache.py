"""botocore's data files (service models, endpoint rules, paginators), parsed once per machine.

A command that makes ten clients spends a fifth of its time decompressing and parsing the same
JSON files (the S3 and IAM models alone are megabytes) into OrderedDicts. This loader keeps what
it parsed under $LABRUNNER_HOME/cache/botocore/ in marshal format (the same data as plain dicts,
which keep their order), keyed by the file's path, size and modification time and the Python
version: a botocore upgrade or an edited file is parsed again. A cache that cannot be read or
written only costs the time it would have saved.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
import threading
from pathlib import Path
from typing import Any

import botocore.session
from botocore.loaders import JSONFileLoader, Loader

FORMAT = "1"  # bump when what is stored changes
EXTENSIONS = (".json", ".json.gz")  # the file forms botocore reads, in its order


def _plain(value: Any) -> Any:
    """OrderedDicts (as botocore parses) as plain dicts, which marshal can store."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class CachingJSONFileLoader(JSONFileLoader):  # type: ignore[misc]
    """botocore's JSON file loader, remembering what it parsed on disk."""

    def __init__(self, directory: Path | None = None) -> None:
        self._directory = directory

    def directory(self) -> Path:
        if self._directory is None:
            from labrunner.paths import home

            self._directory = home() / "cache" / "botocore"
        return self._directory

    def _cache_file(self, full_path: str, stat: os.stat_result) -> Path:
        parts = (FORMAT, sys.version, full_path, str(stat.st_size), str(stat.st_mtime_ns))
        return self.directory() / hashlib.sha256("\0".join(parts).encode()).hexdigest()

    def load_file(self, file_path: str) -> Any:
        for ext in EXTENSIONS:
            full_path = file_path + ext
            try:
                stat = os.stat(full_path)
            except OSError:
                continue
            cached = self._cache_file(full_path, stat)
            try:
                return marshal.loads(cached.read_bytes())
            except (OSError, ValueError, EOFError, TypeError):
                pass
            data = _plain(super().load_file(file_path))
            self._store(cached, data)
            return data
        return None

    @staticmethod
    def _store(path: Path, data: Any) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp")
            tmp.write_bytes(marshal.dumps(data))
            tmp.replace(path)  # atomic: a concurrent reader never sees half a file
        except (OSError, ValueError):
            pass


class _UniquePaths(list[str]):
    """boto3 (which moto uses in the local server) appends its data path to the loader on every new
    session; with one shared loader the list would grow for ever. Once is enough."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


_loader_lock = threading.Lock()
_loaders: list[Loader] = []


def shared_loader() -> Loader:
    """One botocore data loader per process: service models and endpoints parsed once, not per session
    (a class of 50 students would otherwise parse the same JSON for every one of them)."""
    with _loader_lock:
        if not _loaders:
            extra = botocore.session.get_session().get_config_variable("data_path") or ""
            paths = _UniquePaths(os.path.expanduser(os.path.expandvars(p)) for p in extra.split(os.pathsep) if p)
            _loaders.append(Loader(extra_search_paths=paths, file_loader=CachingJSONFileLoader()))
        return _loaders[0]
