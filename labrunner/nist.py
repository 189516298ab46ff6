"""NIST SP 800-53 rev. 5 controls the labs map to: the one place that names them."""

from __future__ import annotations

import re

CONTROL_TITLES: dict[str, str] = {
    "AC-3": "Access Enforcement",
    "AC-6": "Least Privilege",
    "AU-2": "Event Logging",
    "AU-9": "Protection of Audit Information",
    "AU-12": "Audit Record Generation",
    "CA-7": "Continuous Monitoring",
    "CM-2": "Baseline Configuration",
    "CM-3": "Configuration Change Control",
    "CM-6": "Configuration Settings",
    "CM-8": "System Component Inventory",
    "SC-7(11)": "Boundary Protection | Restrict Incoming Communications Traffic",
    "SC-7(21)": "Boundary Protection | Isolation of System Components",
    "SC-28": "Protection of Information at Rest",
    "SI-4": "System Monitoring",
}

CONTROL_ID = re.compile(r"^[A-Z]{2}-[0-9]{1,2}(\([0-9]{1,2}\))?$")


def title(control: str) -> str:
    return CONTROL_TITLES.get(control, "")
