"""Reporters: turn a Report into text, JSON, JUnit XML, Markdown or HTML. They never decide anything."""

from __future__ import annotations

from labrunner.model import Report
from labrunner.reporting.html import render_html
from labrunner.reporting.json_report import render_json
from labrunner.reporting.junit import render_junit
from labrunner.reporting.markdown import render_markdown
from labrunner.reporting.text import render_plain

FORMATS = ("text", "json", "junit", "markdown", "html")


def render(report: Report, fmt: str) -> str:
    if fmt == "json":
        return render_json(report)
    if fmt == "junit":
        return render_junit(report)
    if fmt == "markdown":
        return render_markdown(report)
    if fmt == "html":
        return render_html(report)
    return render_plain(report)
