"""`python -m labrunner` is the same as the `labrunner` command."""

from __future__ import annotations

from labrunner.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
