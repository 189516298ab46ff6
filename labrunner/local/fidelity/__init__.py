"""Fidelity fixes: one module per gap between moto and AWS (see ../shared/notes/moto-gaps.md).

Every module here defines `install(hooks: ServerHooks) -> None`, which patches moto and/or adds
middleware. Modules are installed in name order; each has its own regression test under
tests/local/.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from labrunner.local.hooks import ServerHooks


def modules() -> list[ModuleType]:
    found = sorted(info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_"))
    return [importlib.import_module(f"{__name__}.{name}") for name in found]


def install_all(hooks: ServerHooks) -> list[str]:
    installed = []
    for module in modules():
        install = getattr(module, "install", None)
        if callable(install):
            install(hooks)
            installed.append(module.__name__.rsplit(".", 1)[-1])
    return installed
