"""`labrunner labs` and `labrunner explain`: the catalogue as a table, a step as a lab page."""

from __future__ import annotations

import json
import textwrap

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from labrunner import nist
from labrunner.discovery import Catalogue
from labrunner.step import Step


def catalogue_dict(catalogue: Catalogue) -> dict[str, object]:
    return {
        "labs": [
            {
                "id": lab.id,
                "title": lab.title,
                "summary": lab.summary,
                "steps": [
                    {"id": s.id, "title": s.title, "controls": list(s.controls), "requires": list(s.requires)}
                    for s in lab.steps
                ],
            }
            for lab in catalogue.labs
        ]
    }


def print_catalogue(catalogue: Catalogue, fmt: str = "text") -> None:
    if fmt == "json":
        print(json.dumps(catalogue_dict(catalogue), indent=2))
        return
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=140)  # a pipe or file: don't squeeze into 80 columns
    table = Table(title="Serverless Security Immersion Day — labs and steps", title_justify="left")
    table.add_column("step", no_wrap=True)
    table.add_column("title")
    table.add_column("NIST SP 800-53", style="cyan")
    for lab in catalogue.labs:
        table.add_row(f"[bold]{escape(lab.id)}[/bold]", f"[bold]{escape(lab.title)}[/bold]", "")
        for step in lab.steps:
            table.add_row(f"  {escape(step.id)}", escape(step.title), ", ".join(step.controls) or "—")
    console.print(table)
    console.print(f"{len(catalogue.steps)} steps in {len(catalogue.labs)} labs. `labrunner explain STEP` for details.")


def _section(title: str, body: str) -> str:
    text = textwrap.dedent(body).strip()
    if not text:
        return ""
    return f"{title}\n" + textwrap.indent(text, "  ")


def explanation(catalogue: Catalogue, step: Step) -> str:
    lab = catalogue.lab(step.lab)
    controls = "\n".join(f"{c}  {nist.title(c)}" for c in step.controls) or "(none)"
    parts = [
        f"{step.id} — {step.title}",
        f"Lab: {lab.id} — {lab.title}" if lab else "",
        _section("NIST SP 800-53 rev. 5", controls),
        _section("Requires", ", ".join(step.requires)) if step.requires else "",
        _section("What it checks and why", step.why),
        _section("Do it by hand in the AWS console", step.console),
        _section(f"What `labrunner solve {step.id}` does", step.automation),
    ]
    head, body = parts[:2], [p for p in parts[2:] if p]
    return "\n".join(p for p in head if p) + "\n\n" + "\n\n".join(body) + "\n"


def print_explanation(catalogue: Catalogue, steps: list[Step]) -> None:
    print("\n".join(explanation(catalogue, step) for step in steps), end="")
