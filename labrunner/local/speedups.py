"""Costs of moto and botocore that the local server need not pay again and again (same behaviour).

- moto's dispatcher lists moto's package directory (one stat per service) on every request to
  find the service a request goes to; the directory does not change while the server runs.
- moto makes several boto3 sessions while it is imported (e.g. three to list EC2's regions), and
  each parses the same botocore data files (EC2's model alone is megabytes of JSON); the server's
  sessions share one data loader instead, as labrunner's own clients do (labrunner.aws.model_cache).

`apply()` runs in the server process before moto is imported (labrunner.local.server).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cache
from typing import Any

_lock = threading.Lock()
_applied: list[bool] = []  # one entry once applied


def cached(list_modules: Callable[[], Any]) -> Callable[[], tuple[str, ...]]:
    """moto.backends.list_of_moto_modules, read once."""

    @cache
    def list_of_moto_modules() -> tuple[str, ...]:
        return tuple(list_modules())

    return list_of_moto_modules


def sharing(create_loader: Callable[..., Any]) -> Callable[..., Any]:
    """botocore.loaders.create_loader, giving every session with the default data path one loader."""

    def create_shared_loader(search_path_string: str | None = None) -> Any:
        if search_path_string:
            return create_loader(search_path_string)  # a session with its own data path keeps it
        from labrunner.aws.model_cache import shared_loader

        return shared_loader()

    return create_shared_loader


def apply() -> None:
    """Install both; call before moto is imported (idempotent)."""
    with _lock:
        if _applied:
            return
        import botocore.session

        botocore.session.create_loader = sharing(botocore.session.create_loader)
        from moto import backends

        backends.list_of_moto_modules = cached(backends.list_of_moto_modules)
        _applied.append(True)
