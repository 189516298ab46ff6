"""cfn-lint's findings for a template, remembered on disk by what decides them (labrunner.aws.remembered):
the template's text, the region and the cfn-lint version; a template that changes is linted again."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from labrunner.aws.remembered import linter_version as _linter_version
from labrunner.aws.remembered import remembered

CACHE_FORMAT = "1"  # bump when what is stored (or how cfn-lint is called) changes


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


def _encode(findings: list[Finding]) -> list[dict[str, Any]]:
    return [asdict(f) for f in findings]


def _decode(rows: Any) -> list[Finding]:
    return [Finding(**row) for row in rows]


def cfn_lint(text: str, region: str) -> list[Finding]:
    """cfn-lint's errors and warnings for the template text (informational findings left out)."""
    key = (CACHE_FORMAT, _linter_version(), region, text)
    return remembered("cfn-lint", key, lambda: _run(text, region), _encode, _decode)
