"""Find the labs: the bundled `labs/` directory plus an instructor's `--labs-dir`."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from labrunner import nist, paths
from labrunner.errors import UsageError
from labrunner.step import Lab, Step


class Catalogue:
    """Every lab and step, in catalogue order."""

    def __init__(self, labs: list[Lab]) -> None:
        self.labs = sorted(labs, key=lambda lab: (lab.order, lab.id))
        self.steps: list[Step] = [step for lab in self.labs for step in lab.steps]
        self.by_id: dict[str, Step] = {step.id: step for step in self.steps}

    def lab(self, lab_id: str) -> Lab | None:
        return next((lab for lab in self.labs if lab.id == lab_id), None)

    def select(self, ids: list[str]) -> list[Step]:
        """Steps for lab or step ids, in catalogue order; no ids means everything."""
        if not ids:
            return list(self.steps)
        wanted: set[str] = set()
        for raw in ids:
            ident = raw.strip()
            lab = self.lab(ident)
            if lab is not None:
                wanted.update(step.id for step in lab.steps)
            elif ident in self.by_id:
                wanted.add(ident)
            else:
                known = ", ".join(lab.id for lab in self.labs)
                raise UsageError(f"unknown lab or step id {raw!r} (labs: {known}; `labrunner labs` lists steps)")
        return [step for step in self.steps if step.id in wanted]


def _load_module(path: Path) -> ModuleType:
    name = f"labrunner_labs.{path.parent.name}.{path.stem}".replace("-", "_")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot load lab plugin {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        line = ""
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == str(path):
                line = f", line {tb.tb_lineno}"
            tb = tb.tb_next
        raise UsageError(f"lab plugin {path}{line} is broken: {type(exc).__name__}: {exc}") from exc
    return module


def load_labs_from(directory: Path) -> list[Lab]:
    if not directory.is_dir():
        problem = "is not a directory" if directory.exists() else "does not exist"
        raise UsageError(f"labs directory {directory} {problem}")
    labs: list[Lab] = []
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        module = _load_module(path)
        lab = getattr(module, "LAB", None)
        if lab is None:
            continue  # a helper module, not a lab
        if not isinstance(lab, Lab):
            raise UsageError(f"lab plugin {path}: LAB must be a labrunner.step.Lab, not {type(lab).__name__}")
        labs.append(lab)
        _ORIGINS[id(lab)] = path
    return labs


_ORIGINS: dict[int, Path] = {}  # id(lab) → the plugin file that defined it, to name both files of a clash


def _file_of(lab: Lab, step: object | None = None) -> str:
    """The plugin file that defined a step (its class's module) or a lab."""
    if step is not None:
        where = getattr(sys.modules.get(type(step).__module__), "__file__", None)
        if where:
            return str(where)
    return str(_ORIGINS.get(id(lab), f"lab {lab.id}"))


def validate(labs: list[Lab]) -> None:
    """The contract every plugin must keep; a violation names the plugin and the rule."""
    from labrunner.aws.prefetch import FACTS  # what a step may ask a check run to read early

    seen_labs: dict[str, Lab] = {}
    seen: dict[str, tuple[Lab, object]] = {}
    for lab in sorted(labs, key=lambda lab: (lab.order, lab.id)):
        if lab.id in seen_labs:
            raise UsageError(f"two labs have the id {lab.id!r}: {_file_of(seen_labs[lab.id])} and {_file_of(lab)}")
        seen_labs[lab.id] = lab
        for step in lab.steps:
            sid = getattr(step, "id", None)
            if not isinstance(sid, str) or not sid.startswith(f"{lab.id}."):
                raise UsageError(f"lab {lab.id}: step id {sid!r} must start with {lab.id + '.'!r}")
            if sid in seen:
                first, second = _file_of(*seen[sid]), _file_of(lab, step)
                where = first if first == second else f"{first} and {second}"
                raise UsageError(f"step id {sid!r} is defined twice: {where}")
            if not getattr(step, "title", ""):
                raise UsageError(f"step {sid} has no title")
            for control in step.controls:
                if not nist.CONTROL_ID.match(control):
                    raise UsageError(f"step {sid}: {control!r} is not a NIST SP 800-53 control id")
            for required in step.requires:
                if required not in seen:
                    raise UsageError(f"step {sid} requires {required!r}, which is not an earlier step")
            unknown = sorted(set(step.prefetch) - set(FACTS))
            if unknown:
                raise UsageError(f"step {sid}: prefetch {unknown} not among {sorted(FACTS)}")
            seen[sid] = (lab, step)


def load_catalogue(extra_dirs: list[Path] | None = None) -> Catalogue:
    labs = load_labs_from(paths.labs_dir())
    for directory in extra_dirs or []:
        labs.extend(load_labs_from(directory))
    validate(labs)
    return Catalogue(labs)
