"""Tests of labrunner.aws helpers that need no AWS."""
