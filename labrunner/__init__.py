"""labrunner: run and grade the AWS Serverless Security Immersion Day lab."""

from __future__ import annotations

__version__ = "0.1.0"
