"""One exception hierarchy; the CLI catches it once and turns it into a line and an exit code."""

from __future__ import annotations


class LabrunnerError(Exception):
    """A command could not run as asked (exit code 2)."""

    exit_code = 2


class UsageError(LabrunnerError):
    """Bad input: an unknown id, a bad option value, a malformed roster."""


class TargetError(LabrunnerError):
    """The target cannot be reached or used: no credentials, unreachable endpoint."""


class LocalServerError(LabrunnerError):
    """The embedded local AWS could not be started, stopped or reached."""
