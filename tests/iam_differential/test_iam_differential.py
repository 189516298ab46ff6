"""labrunner's IAM evaluator against an independent one: the npm package @cloud-copilot/iam-simulate.

The same evaluator enforces IAM in the local AWS, answers its simulator and grades lab 3 statically, so
agreeing with itself proves nothing. Here a few thousand generated cases (cases.py, fixed seed) go through
both; every disagreement must be listed in known_disagreements.py with the side AWS's documentation takes.
iam-simulate is test-only (pinned in package-lock.json, installed by `npm ci` in .ci/run).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from labrunner.aws.policy import AccessRequest, caller_from, evaluate
from tests.helpers import require_tool
from tests.iam_differential.cases import ANCHORS, Case, generate
from tests.iam_differential.known_disagreements import KNOWN, explain

HERE = Path(__file__).parent
CASE_COUNT = 3000


def _iam_simulate(cases: list[Case]) -> list[dict[str, Any]]:
    node = shutil.which("node")
    installed = node is not None and (HERE / "node_modules" / "@cloud-copilot" / "iam-simulate").is_dir()
    require_tool(
        installed, "iam-simulate is not installed: run `npm ci --prefix tests/iam_differential` (.ci/run does)"
    )
    assert node is not None
    done = subprocess.run(
        [node, str(HERE / "driver.js")],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results


def labrunner_decision(case: Case, ignored: Sequence[str] = ()) -> str:
    """labrunner's decision for a case, with the context iam-simulate kept (it drops keys an action lacks)."""
    dropped = {k.lower() for k in ignored}
    context = {k: v for k, v in case["context"].items() if k.lower() not in dropped}
    request = AccessRequest(case["action"], case["resource"], caller_from(case["principal"]), context)
    return evaluate(
        request,
        case["identity"],
        resource_policy=case.get("resourcePolicy"),
        permissions_boundaries=[case["boundary"]] if "boundary" in case else (),
        session_policies=[case["session"]] if "session" in case else (),
        resource_account=case["resourceAccount"],
    ).decision


@dataclass(frozen=True)
class Comparison:
    cases: int
    agreed: int
    known: dict[str, int]  # known disagreement name -> cases
    unexplained: list[tuple[int, str, str, Case]]

    @property
    def summary(self) -> str:
        known = sum(self.known.values())
        return (
            f"{self.cases} cases: {self.agreed} agree, {known} known disagreements, {len(self.unexplained)} unexplained"
        )


@pytest.fixture(scope="module")
def comparison() -> Comparison:
    cases = generate(CASE_COUNT) + ANCHORS
    theirs = _iam_simulate(cases)
    assert len(theirs) == len(cases)
    errors = [(i, r["decision"]) for i, r in enumerate(theirs) if r["decision"].startswith("error")]
    assert not errors, f"iam-simulate rejected generated cases (fix cases.py): {errors[:3]}"
    agreed, known, unexplained = 0, Counter[str](), []
    for index, (case, result) in enumerate(zip(cases, theirs, strict=True)):
        ours = labrunner_decision(case, result["ignored"])
        if ours == result["decision"]:
            agreed += 1
            continue
        entry = explain(case, ours, result["decision"])
        if entry is None:
            unexplained.append((index, ours, result["decision"], case))
        else:
            known[entry.name] += 1
    return Comparison(len(cases), agreed, dict(known), unexplained)


def test_labrunner_agrees_with_iam_simulate_except_known_disagreements(comparison: Comparison) -> None:
    print(comparison.summary, comparison.known)
    assert not comparison.unexplained, (
        comparison.summary
        + "\n"
        + "\n".join(
            f"#{i}: labrunner {o}, iam-simulate {t}: {json.dumps(c)}" for i, o, t, c in comparison.unexplained[:5]
        )
    )
    # The generator must mostly produce cases both evaluators model alike, and both decisions must occur.
    assert comparison.agreed > 0.95 * comparison.cases, comparison.summary


def test_every_known_disagreement_still_occurs(comparison: Comparison) -> None:
    """Every entry is a real disagreement (cases.ANCHORS holds one case per entry); one that no case needs
    any more is stale: remove it, so the list stays the truth."""
    assert set(comparison.known) == {entry.name for entry in KNOWN}


def test_cases_cover_every_decision_and_service() -> None:
    cases = generate(CASE_COUNT)
    assert {c["action"].split(":")[0] for c in cases} == {"dynamodb", "sqs", "logs", "s3"}
    assert {labrunner_decision(c) for c in cases[:300]} == {"allowed", "explicitDeny", "implicitDeny"}
    assert generate(50) == generate(50)  # deterministic
