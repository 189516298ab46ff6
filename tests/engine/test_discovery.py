"""Lab discovery: the bundled labs, an instructor's --labs-dir, and clear errors for broken plugins."""

from __future__ import annotations

from pathlib import Path

import pytest

from labrunner.discovery import Catalogue, load_catalogue, validate
from labrunner.errors import UsageError
from labrunner.step import Lab
from tests.engine import fakes

GOOD_PLUGIN = """
from labrunner.model import Check
from labrunner.step import Lab, Step


class Extra(Step):
    id = "bonus.extra"
    title = "An instructor's own step"
    controls = ("AC-6",)

    def verify(self, ctx):
        yield Check.ok("fine", "ok")


LAB = Lab(id="bonus", title="Bonus", order=60, steps=(Extra(),))
"""


def test_bundled_labs_start_with_setup() -> None:
    catalogue = load_catalogue()
    assert catalogue.labs[0].id == "setup"
    assert [s.id for s in catalogue.labs[0].steps] == ["setup.stack", "setup.pipeline"]
    ids = [s.id for s in catalogue.steps]
    assert len(ids) == len(set(ids))


def test_labs_dir_adds_plugins_in_order(tmp_path: Path) -> None:
    (tmp_path / "bonus.py").write_text(GOOD_PLUGIN)
    catalogue = load_catalogue([tmp_path])
    assert catalogue.labs[-1].id == "bonus"
    assert catalogue.select(["bonus"])[0].id == "bonus.extra"


def test_broken_plugin_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("x = 1\nraise RuntimeError('oops')\n")
    with pytest.raises(UsageError, match=r"broken\.py, line 2 is broken: RuntimeError: oops"):
        load_catalogue([tmp_path])


def test_syntax_error_plugin(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("def (:\n")
    with pytest.raises(UsageError, match=r"bad\.py.*SyntaxError"):
        load_catalogue([tmp_path])


def test_missing_labs_dir(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        load_catalogue([tmp_path / "nope"])


@pytest.mark.parametrize(
    ("lab", "message"),
    [
        pytest.param(Lab("other", "t", 1, (fakes.Passing(),)), "must start with", id="id-outside-lab"),
        pytest.param(Lab("demo", "t", 1, (fakes.Passing(), fakes.Passing())), "defined twice", id="duplicate"),
        pytest.param(Lab("demo", "t", 1, (fakes.NeedsPassing(),)), "not an earlier step", id="requires-unknown"),
    ],
)
def test_contract_violations(lab: Lab, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        validate([lab])


def test_bad_control_id() -> None:
    class BadControl(fakes.Passing):
        controls = ("least privilege",)

    with pytest.raises(UsageError, match="not a NIST"):
        validate([Lab("demo", "t", 1, (BadControl(),))])


def test_unknown_prefetch_fact() -> None:
    class Typo(fakes.Passing):
        prefetch = ("roles",)

    with pytest.raises(UsageError, match=r"prefetch \['roles'\] not among"):
        validate([Lab("demo", "t", 1, (Typo(),))])


def test_select_unknown_id() -> None:
    catalogue = Catalogue([Lab("demo", "t", 1, (fakes.Passing(),))])
    with pytest.raises(UsageError, match="unknown lab or step id 'lab9'"):
        catalogue.select(["lab9"])
    assert [s.id for s in catalogue.select(["demo"])] == ["demo.passing"]
    assert [s.id for s in catalogue.select([])] == ["demo.passing"]
