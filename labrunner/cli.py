"""Placeholder until the engine CLI lands."""

from __future__ import annotations


def main() -> int:
    return 0
